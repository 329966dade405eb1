"""A fake GitLab: the REST API v4 and webhooks, on 127.0.0.1, over real bare git repositories.

`FakeGitLab(projects={"acme/app": bare_repo}, token="glpat-...")` answers what the town's
GitLab forge asks (python-gitlab drives it in the tests), in GitLab's JSON shapes
(`scripted.gitlab_json`) with GitLab's status codes, pagination headers (`X-Page`,
`X-Next-Page`, `X-Total`, `Link`) and weak ETags (`If-None-Match` gets 304, counted apart).
Projects are addressed by URL-encoded full path (`/api/v4/projects/acme%2Fapp/issues`) or id.

What git can answer comes from git at request time: a merge request's head is the source
branch tip now, `detailed_merge_status` is `conflict` when `git merge-tree` says so, and merging
writes a real merge commit onto the target branch (naming a stale `sha` is 409, as on GitLab).
What only people and CI say is set by plain methods, and announced to webhooks as GitLab would
(`X-Gitlab-Event`, `X-Gitlab-Token`, `X-Gitlab-Event-UUID`):

    with FakeGitLab(projects={"acme/app": bare}, token="t") as gitlab:
        gitlab.add_webhook(receiver_url, secret="s")
        gitlab.open_issue("Login fails", labels=["gastown"])      # an Issue Hook, action open
        gitlab.set_pipeline("feature", {"test": "failed"})         # jobs of the branch tip

Tokens: `token` has the `api` scope; `add_token(value, scopes)` adds others (`read_api` may only
read). A missing or unknown token is 401, a token without the scope 403 `insufficient_scope`.
`rate_limited_until` and `failing_with` make every request fail, for the bad paths.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from gastown.record import Record
from gastown.scripted import gitlab_json as shape
from gastown.scripted import gitlab_routes
from gastown.scripted.gitlab_json import (
    Answer,
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
JOB_STATUSES = frozenset(
    {"created", "pending", "running", "success", "failed", "canceled", "skipped", "manual"}
)
WRITE = frozenset({"POST", "PUT", "DELETE", "PATCH"})


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


class FakeGitLab(LocalHttp):
    """The fake in a background thread; a context manager exposing `.url` (the instance URL,
    as `gitlab.api_url`; the API is under `/api/v4`)."""

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
        self._listen(_Handler)
        for p in self.projects.values():
            p.default_branch = self._default_branch(p)

    # --- counting -------------------------------------------------------------------------

    @property
    def counted(self) -> int:
        """Requests that count against a rate limit: all but those answered 304."""
        return sum(1 for r in self.requests if r.status != 304)

    @property
    def not_modified(self) -> int:
        return sum(1 for r in self.requests if r.status == 304)

    # --- test controls --------------------------------------------------------------------

    def add_token(self, value: str, scopes: Sequence[str] = ("read_api",)) -> None:
        self.tokens[value] = tuple(scopes)

    def add_webhook(self, url: str, secret: str) -> None:
        """Deliver issue, merge request and note events to `url`, with `secret` as the
        `X-Gitlab-Token` header."""
        with self._lock:
            self._hooks.append((url, secret))

    def redeliver(self, delivery_uuid: str) -> Delivery:
        """Send a past delivery again, with the same UUID, as "Resend request" does."""
        with self._lock:
            old = next(d for d in self.deliveries if d.uuid == delivery_uuid)
            again = Delivery(old.uuid, old.event, old.url, old.body)
            self.deliveries.append(again)
        _post(again, self._secret(again.url))
        return again

    def open_issue(
        self,
        title: str,
        description: str = "",
        labels: Sequence[str] = (),
        *,
        author: str = "reporter",
        project: str | None = None,
    ) -> int:
        """A person opens an issue; its iid."""
        with self._writing():
            p = self._project_for(project)
            return self._create_issue(p, title, description, list(labels), author).iid

    def edit_issue(
        self,
        iid: int,
        *,
        title: str | None = None,
        description: str | None = None,
        labels: Sequence[str] | None = None,
        author: str = "reporter",
        project: str | None = None,
    ) -> None:
        with self._writing():
            p = self._project_for(project)
            changes: dict[str, Any] = {"title": title, "description": description}
            if labels is not None:
                changes["labels"] = ",".join(labels)
            self._update_issue(p, self._issue(p, iid), changes, author)

    def close_issue(self, iid: int, *, by: str = "reporter", project: str | None = None) -> None:
        with self._writing():
            p = self._project_for(project)
            self._update_issue(p, self._issue(p, iid), {"state_event": "close"}, by)

    def add_note(
        self,
        iid: int,
        body: str,
        *,
        on: str = "Issue",
        author: str = "reviewer",
        project: str | None = None,
    ) -> int:
        """A person comments on issue (`on="Issue"`) or merge request (`"MergeRequest"`)
        `iid`; the note's id."""
        with self._writing():
            p = self._project_for(project)
            return int(self._add_note(p, on, iid, body, author)["id"])

    def open_merge_request(
        self,
        source: str,
        target: str,
        title: str,
        description: str = "",
        *,
        by: str = "someone",
        draft: bool = False,
        project: str | None = None,
    ) -> int:
        """Open a merge request of branch `source` into `target` as `by` would on the web (a
        person, unless `by` is the token's user). Its iid."""
        with self._writing():
            p = self._project_for(project)
            stamp = self._stamp()
            mr = FakeMergeRequest(
                id=self._new_id(),
                iid=max(p.merge_requests, default=0) + 1,
                title=f"Draft: {title}" if draft else title,
                description=description,
                source_branch=source,
                target_branch=target,
                author=by,
                created_at=stamp,
                updated_at=stamp,
                draft=draft,
            )
            p.merge_requests[mr.iid] = self._refresh(p, mr)
            self._mr_hook(p, mr, "open", by)
            return mr.iid

    def approve(self, iid: int, *, by: str = "reviewer", project: str | None = None) -> None:
        with self._writing():
            p = self._project_for(project)
            self._approve(p, self._refresh(p, self._mr(p, iid)), by, None)

    def set_pipeline(
        self,
        ref_or_sha: str,
        jobs: Mapping[str, str],
        *,
        allow_failure: Sequence[str] = (),
        project: str | None = None,
    ) -> int:
        """A pipeline ran (or runs) on a commit (a branch means its tip now) with these jobs
        and statuses (`success`, `failed`, `running`, `pending`, `canceled`, `skipped`,
        `manual`, `created`); it supersedes earlier pipelines of that commit. Its id."""
        with self._writing():
            p = self._project_for(project)
            sha = self._resolve(p, ref_or_sha)
            if sha is None:
                raise ValueError(f"no commit {ref_or_sha!r} in {p.path}")
            if unknown := set(jobs.values()) - JOB_STATUSES:
                raise ValueError(f"unknown job status {sorted(unknown)}")
            stamp, pid = self._stamp(), self._new_id()
            ref = ref_or_sha if sha != ref_or_sha else p.default_branch
            runs = [
                {
                    "id": self._new_id(),
                    "name": name,
                    "stage": "test",
                    "status": status,
                    "allow_failure": name in allow_failure,
                    "created_at": stamp,
                    "started_at": None if status in ("created", "pending") else stamp,
                    "finished_at": stamp if status in ("success", "failed", "canceled") else None,
                    "duration": None,
                    "web_url": f"{shape.HTML_HOST}/{p.path}/-/jobs/{pid}",
                    "user": shape.user(self.username),
                }
                for name, status in jobs.items()
            ]
            p.pipelines.append(
                {
                    "id": pid,
                    "iid": len(p.pipelines) + 1,
                    "project_id": p.id,
                    "sha": sha,
                    "ref": ref,
                    "status": _pipeline_status(runs),
                    "source": "push",
                    "created_at": stamp,
                    "updated_at": stamp,
                    "web_url": f"{shape.HTML_HOST}/{p.path}/-/pipelines/{pid}",
                    "jobs": runs,
                }
            )
            return pid

    def merge_requests(self, project: str | None = None) -> dict[int, FakeMergeRequest]:
        """Every merge request by iid, with its head as git has it now."""
        with self._lock:
            p = self._project_for(project)
            return {n: self._refresh(p, mr) for n, mr in p.merge_requests.items()}

    def issues(self, project: str | None = None) -> dict[int, FakeIssue]:
        with self._lock:
            return dict(self._project_for(project).issues)

    def notes(
        self, iid: int, on: str = "Issue", project: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._project_for(project).notes.get((on, iid), []))

    # --- HTTP -----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """Answer one request; called from the server's threads."""
        with self._writing():
            try:
                status, body, extra = self._route(method, target, headers, raw)
            except GitLabAnswer as answer:
                status, body, extra = answer.status, answer.body, {}
                if status == 429 and self.rate_limited_until is not None:
                    extra = _rate_headers(self.rate_limited_until, self.now())
            if method == "GET" and status == 200:
                tag = 'W/"' + hashlib.md5(json.dumps(body).encode()).hexdigest() + '"'
                extra = {**extra, "ETag": tag}
                if headers.get("if-none-match") == tag:
                    status, body = 304, None
            self.requests.append(Served(method, target, status))
            return status, body, extra

    def _route(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        if self.failing_with is not None:
            raise GitLabAnswer(self.failing_with, f"{self.failing_with} Internal Server Error")
        token = headers.get("private-token") or ""
        bearer = headers.get("authorization", "")
        if not token and bearer.startswith("Bearer "):
            token = bearer.removeprefix("Bearer ")
        scopes = self.tokens.get(token)
        if scopes is None:
            raise GitLabAnswer(401, "401 Unauthorized")
        if self.rate_limited_until is not None:
            raise GitLabAnswer(429, "Retry later", body="Retry later\n")
        if "api" not in scopes and (method in WRITE or "read_api" not in scopes):
            raise GitLabAnswer(
                403,
                "insufficient_scope",
                body={
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than "
                    "provided by the access token.",
                    "scope": "api",
                },
            )
        parts = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parts.query))
        body = {**query, **_json_body(raw)} if method in WRITE else query
        path = parts.path.removeprefix("/api/v4")
        if path == "/user":
            return 200, {**shape.user(self.username), "email": f"{self.username}@gitlab.test"}, {}
        match = re.fullmatch(r"/projects/([^/]+)(/.*)?", path)
        if match is None:
            raise GitLabAnswer(404, "404 Not Found", key="error")
        p = self._project_named(urllib.parse.unquote(match[1]))
        rest = match[2] or ""
        if rest == "" and method == "GET":
            return 200, shape.project(p, self.url), {}
        return gitlab_routes.route(self, p, method, rest, body, parts.path)

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


def _pipeline_status(jobs: list[dict[str, Any]]) -> str:
    statuses = {j["status"] for j in jobs if not (j["allow_failure"] and j["status"] == "failed")}
    for status in ("running", "pending", "created", "failed", "canceled"):
        if status in statuses:
            return status
    return "success" if "success" in statuses or not statuses else "skipped"


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise GitLabAnswer(400, "400 Bad request - body is not JSON", key="error") from None
    if not isinstance(body, dict):
        raise GitLabAnswer(400, "400 Bad request - body is not a JSON object", key="error")
    return body


def _rate_headers(until: int, now: float) -> dict[str, str]:
    return {
        "RateLimit-Name": "throttle_authenticated_api",
        "RateLimit-Limit": "2000",
        "RateLimit-Observed": "2001",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": str(until),
        "RateLimit-ResetTime": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(until)),
        "Retry-After": str(max(int(until - now), 0)),
    }


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


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to the `FakeGitLab` that owns the server."""

    server_version = "FakeGitLab/1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake: FakeGitLab = self.server.fake  # type: ignore[attr-defined]
        status, body, extra = fake.handle(self.command, self.path, headers, raw)
        self.send_response(status)
        data = b""
        if isinstance(body, str):
            data = body.encode()
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        elif body is not None:
            data = json.dumps(body).encode()
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `FakeGitLab.requests` is the log."""
