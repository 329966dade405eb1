"""The state the fake GitLab keeps and the writes its routes and test controls share:
issues, merge requests, notes, approvals and labels, each write announced to the webhooks
once it is done; what git says of a merge request's branches; and the deliveries made."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

from gastown.record import Record
from gastown.scripted import gitlab_json as shape
from gastown.scripted import gitlab_routes
from gastown.scripted.gitlab_json import (
    FakeIssue,
    FakeMergeRequest,
    FakeProject,
    GitLabAnswer,
    missing,
)
from gastown.scripted.local_http import LocalHttp

MERGER = {
    "GIT_AUTHOR_NAME": "GitLab",
    "GIT_AUTHOR_EMAIL": "noreply@gitlab.test",
    "GIT_COMMITTER_NAME": "GitLab",
    "GIT_COMMITTER_EMAIL": "noreply@gitlab.test",
}


class Served(Record):
    """One request the fake answered."""

    method: str
    target: str
    """The path with its query string."""
    status: int


class Delivery(Record):
    """One webhook delivery, as GitLab's "Recent events" lists them."""

    uuid: str
    """`X-Gitlab-Event-UUID`: the same on a redelivery."""
    event: str
    """`X-Gitlab-Event`: `Issue Hook`, `Merge Request Hook`, `Note Hook`."""
    url: str
    body: dict[str, Any]
    status: int | None = None
    """The receiver's answer; None when it could not be reached."""


class GitLabState(LocalHttp):
    """The fake's state and the writes to it; `FakeGitLab` adds the HTTP side."""

    _handler: ClassVar[type[BaseHTTPRequestHandler]]
    """The request handler the server is started with."""

    def __init__(
        self,
        projects: Mapping[str, Path],
        token: str,
        *,
        username: str = "gastown",
        now: Callable[[], float] = time.time,
    ) -> None:
        self.projects = {
            path: FakeProject(id=n, path=path, git_dir=Path(git_dir))
            for n, (path, git_dir) in enumerate(projects.items(), start=1)
        }
        self.tokens: dict[str, tuple[str, ...]] = {token: ("api",)}
        self.username = username
        """Whose the tokens are: the author of everything made through the API."""
        self.now = now
        self.requests: list[Served] = []
        """Every request answered, in order; 304s are in it with their status."""
        self.deliveries: list[Delivery] = []
        self.rate_limited_until: int | None = None
        """While set, every request is answered 429 until this Unix time."""
        self.failing_with: int | None = None
        """While set, every request is answered with this status (500, 502, 503, ...)."""
        self._hooks: list[tuple[str, str]] = []
        self._pending: list[Delivery] = []
        self._lock = threading.RLock()
        self._depth = 0
        self._next_id = 1000
        self._listen(self._handler)
        for p in self.projects.values():
            p.default_branch = self._default_branch(p)

    # --- writes shared by routes and controls --------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the lock; webhooks queued meanwhile are delivered after it is let go, so a
        receiver may call back into the fake."""
        with self._lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                pending = self._pending if self._depth == 0 else []
                if self._depth == 0:
                    self._pending = []
        for delivery in pending:
            _post(delivery, self._secret(delivery.url))

    def _announce(self, event: str, body: dict[str, Any]) -> None:
        for url, _secret in self._hooks:
            delivery = Delivery(str(uuid.uuid4()), event, url, body)
            self.deliveries.append(delivery)
            self._pending.append(delivery)

    def _secret(self, url: str) -> str:
        return next((s for u, s in self._hooks if u == url), "")

    def _create_issue(
        self, p: FakeProject, title: str, description: str, labels: list[str], author: str
    ) -> FakeIssue:
        stamp = self._stamp()
        for name in labels:
            self._ensure_label(p, name)
        made = FakeIssue(
            id=self._new_id(),
            iid=max(p.issues, default=0) + 1,
            title=title,
            description=description,
            author=author,
            created_at=stamp,
            updated_at=stamp,
            labels=sorted(set(labels)),
        )
        p.issues[made.iid] = made
        self._issue_hook(p, made, "open", author, {})
        return made

    def _update_issue(
        self, p: FakeProject, issue: FakeIssue, body: Mapping[str, Any], by: str
    ) -> FakeIssue:
        before = shape.issue(p, issue)
        if body.get("title") is not None:
            issue.title = str(body["title"])
        if body.get("description") is not None:
            issue.description = str(body["description"])
        labels = set(issue.labels)
        if body.get("labels") is not None:
            labels = set(gitlab_routes.shape_names(body["labels"]))
        labels |= set(gitlab_routes.shape_names(body.get("add_labels")))
        labels -= set(gitlab_routes.shape_names(body.get("remove_labels")))
        for name in labels:
            self._ensure_label(p, name)
        issue.labels = sorted(labels)
        action = "update"
        event = body.get("state_event")
        if event == "close" and issue.state == "opened":
            issue.state, issue.closed_at, issue.closed_by, action = (
                "closed",
                self._stamp(),
                by,
                "close",
            )
        elif event == "reopen" and issue.state == "closed":
            issue.state, issue.closed_at, issue.closed_by, action = "opened", None, None, "reopen"
        after = shape.issue(p, issue)
        changes = {
            key: {"previous": before[key], "current": after[key]}
            for key in ("title", "description", "labels", "state")
            if before[key] != after[key]
        }
        if changes:
            issue.updated_at = self._stamp()
            changes["updated_at"] = {"previous": before["updated_at"], "current": issue.updated_at}
            self._issue_hook(p, issue, action, by, changes)
        return issue

    def _issue_hook(
        self, p: FakeProject, issue: FakeIssue, action: str, by: str, changes: dict[str, Any]
    ) -> None:
        attributes = shape.issue(p, issue)
        labels = [shape.hook_label(p, n) for n in issue.labels]
        attributes |= {"action": action, "url": attributes["web_url"], "labels": labels}
        if "labels" in changes:
            changes["labels"] = {
                side: [shape.hook_label(p, n) for n in names]
                for side, names in changes["labels"].items()
            }
        extra = {"labels": labels, "changes": changes}
        self._announce("Issue Hook", shape.hook_body("issue", p, self.url, by, attributes, extra))

    def _mr_hook(self, p: FakeProject, mr: FakeMergeRequest, action: str, by: str) -> None:
        attributes = shape.merge_request(p, mr, self._status(p, mr), full=False)
        attributes |= {
            "action": action,
            "url": attributes["web_url"],
            "last_commit": {"id": mr.head_sha},
        }
        body = shape.hook_body("merge_request", p, self.url, by, attributes)
        self._announce("Merge Request Hook", body)

    def _add_note(
        self,
        p: FakeProject,
        on: str,
        iid: int,
        body: str,
        author: str,
        position: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if on == "Issue":
            target_id, issue = self._issue(p, iid).id, self._issue(p, iid)
            issue.updated_at = self._stamp()
        elif on == "MergeRequest":
            mr = self._mr(p, iid)
            target_id = mr.id
            mr.updated_at = self._stamp()
        else:
            raise ValueError(f"notes go on an Issue or a MergeRequest, not {on!r}")
        made = shape.note(
            p,
            self._new_id(),
            (on, target_id, iid),
            body,
            author,
            self._stamp(),
            discussion_id=uuid.uuid4().hex + uuid.uuid4().hex[:8],
            position=position,
        )
        p.notes.setdefault((on, iid), []).append(made)
        key = "issue" if on == "Issue" else "merge_request"
        noteable = (
            shape.issue(p, self._issue(p, iid))
            if on == "Issue"
            else shape.merge_request(p, self._mr(p, iid), ("unchecked", "unchecked"), full=False)
        )
        attributes = {**shape.public_note(made), "note": body, "url": noteable["web_url"]}
        self._announce(
            "Note Hook",
            shape.hook_body("note", p, self.url, author, attributes, {key: noteable}),
        )
        return made

    def _approve(self, p: FakeProject, mr: FakeMergeRequest, by: str, sha: str | None) -> None:
        if sha is not None and sha != mr.head_sha:
            raise GitLabAnswer(409, "SHA does not match HEAD of source branch: " + mr.head_sha)
        given = p.approvals.setdefault(mr.iid, [])
        if any(a["user"]["username"] == by for a in given):
            raise GitLabAnswer(401, "401 Unauthorized")
        given.append({"user": shape.user(by), "approved_at": self._stamp()})
        self._mr_hook(p, mr, "approved", by)

    def _ensure_label(self, p: FakeProject, name: str) -> dict[str, Any]:
        if name not in p.labels:
            p.labels[name] = shape.label(self._new_id(), name)
        return p.labels[name]

    # --- state from git -------------------------------------------------------------------

    def _status(self, p: FakeProject, mr: FakeMergeRequest) -> tuple[str, str]:
        """`merge_status` and `detailed_merge_status`, worked out now."""
        if mr.state != "opened":
            return "can_be_merged", "not_open"
        if self._merge_tree(p, mr) is None:
            return "cannot_be_merged", "conflict"
        if mr.draft:
            return "can_be_merged", "draft_status"
        runs = [x for x in p.pipelines if x["sha"] == mr.head_sha]
        if runs and runs[-1]["status"] in ("created", "pending", "running"):
            return "can_be_merged", "ci_still_running"
        if runs and runs[-1]["status"] not in ("success", "skipped", "manual"):
            return "can_be_merged", "ci_must_pass"
        return "can_be_merged", "mergeable"

    def _merge(self, p: FakeProject, mr: FakeMergeRequest, squash: bool, message: str) -> None:
        tree = self._merge_tree(p, mr)
        if tree is None:
            raise GitLabAnswer(406, "Branch cannot be merged")
        head = mr.head_sha
        if squash:
            made = self._git(
                p, "commit-tree", f"{head}^{{tree}}", "-p", mr.base_sha, "-m", mr.title
            )
            head = mr.squash_commit_sha = made
        message = message or (
            f"Merge branch '{mr.source_branch}' into '{mr.target_branch}'\n\n{mr.title}\n\n"
            f"See merge request {p.path}!{mr.iid}"
        )
        sha = self._git(p, "commit-tree", tree, "-p", mr.target_sha, "-p", head, "-m", message)
        moved = self._run(p, "update-ref", f"refs/heads/{mr.target_branch}", sha, mr.target_sha)
        if moved.returncode != 0:
            raise GitLabAnswer(409, "Target branch was modified; try the merge again")
        stamp = self._stamp()
        mr.state, mr.merged_at, mr.updated_at = "merged", stamp, stamp
        mr.merged_by, mr.merge_commit_sha = self.username, sha
        self._mr_hook(p, mr, "merge", self.username)

    def _merge_tree(self, p: FakeProject, mr: FakeMergeRequest) -> str | None:
        done = self._run(p, "merge-tree", "--write-tree", mr.target_sha, mr.head_sha)
        if done.returncode == 1:
            return None
        if done.returncode != 0:
            raise RuntimeError(f"git merge-tree failed: {done.stderr.strip()}")
        return done.stdout.splitlines()[0]

    def _refresh(self, p: FakeProject, mr: FakeMergeRequest) -> FakeMergeRequest:
        """Read the tips from git while the merge request is open, and keep
        `refs/merge-requests/N/head` at its head, as GitLab serves it to `git fetch`."""
        if mr.state == "opened":
            mr.head_sha = self._resolve(p, mr.source_branch) or mr.head_sha
            mr.target_sha = self._resolve(p, mr.target_branch) or mr.target_sha
            base = self._run(p, "merge-base", mr.target_sha, mr.head_sha)
            mr.base_sha = base.stdout.strip() if base.returncode == 0 else mr.target_sha
        if mr.head_sha:
            self._run(p, "update-ref", f"refs/merge-requests/{mr.iid}/head", mr.head_sha)
        return mr

    def _resolve(self, p: FakeProject, ref: str) -> str | None:
        for name in (f"refs/heads/{ref}", ref):
            done = self._run(p, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
            if done.returncode == 0:
                return done.stdout.strip()
        return None

    def _default_branch(self, p: FakeProject) -> str:
        done = self._run(p, "symbolic-ref", "--short", "HEAD")
        return done.stdout.strip() if done.returncode == 0 else "main"

    def _git(self, p: FakeProject, *args: str) -> str:
        done = self._run(p, *args, env=MERGER)
        if done.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def _run(
        self, p: FakeProject, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=p.git_dir,
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", **(env or {})},
            check=False,
        )

    # --- bookkeeping ----------------------------------------------------------------------

    def _project_named(self, key: str) -> FakeProject:
        found = self.projects.get(key) or next(
            (p for p in self.projects.values() if str(p.id) == key), None
        )
        if found is None:
            raise missing("Project")
        return found

    def _project_for(self, path: str | None) -> FakeProject:
        if path is not None:
            return self.projects[path]
        if len(self.projects) != 1:
            raise ValueError("name the project: the fake serves more than one")
        return next(iter(self.projects.values()))

    def _issue(self, p: FakeProject, iid: int) -> FakeIssue:
        if iid not in p.issues:
            raise missing("Issue")
        return p.issues[iid]

    def _mr(self, p: FakeProject, iid: int) -> FakeMergeRequest:
        if iid not in p.merge_requests:
            raise missing("Merge Request")
        return p.merge_requests[iid]

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _stamp(self) -> str:
        now = self.now()
        whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        return f"{whole}.{int(now * 1000) % 1000:03d}Z"


def _post(delivery: Delivery, secret: str) -> None:
    """POST one webhook delivery with GitLab's headers; the receiver's status is kept on it."""
    target = urllib.parse.urlsplit(delivery.url)
    data = json.dumps(delivery.body).encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(data)),
        "User-Agent": "GitLab/17.0.0",
        "X-Gitlab-Event": delivery.event,
        "X-Gitlab-Token": secret,
        "X-Gitlab-Event-UUID": delivery.uuid,
        "X-Gitlab-Webhook-UUID": hashlib.md5(delivery.url.encode()).hexdigest(),
        "X-Gitlab-Instance": shape.HTML_HOST,
    }
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
    try:
        connection.request("POST", target.path or "/", body=data, headers=headers)
        answer = connection.getresponse()
        answer.read()
        delivery.status = answer.status
    except OSError:
        delivery.status = None
    finally:
        connection.close()
