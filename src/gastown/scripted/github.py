"""A fake GitHub REST API over real bare git repositories: issues, pull requests, reviews,
comments, labels, checks, webhooks, GitHub App installation tokens and the rate limit.

`FakeGitHub(repos={"owner/name": bare_repo_path}, token="...")` serves on 127.0.0.1 the
endpoints the town's forge client uses, in GitHub's JSON shapes (checked in the tests against
GitHub's published OpenAPI description), with GitHub's error bodies, `Link` pagination, ETags
(an `If-None-Match` that still matches is answered 304 and does not count against the rate
limit) and `X-RateLimit-*` headers. What git can answer comes from git at request time: a pull
request's head is the branch tip now, `mergeable_state` is `dirty` when `git merge-tree` finds
conflicts, and merging writes a real merge commit onto the base branch. What people and CI do
is set through plain methods:

    with FakeGitHub(repos={"acme/app": bare}, token="t") as github:
        number = github.open_issue("acme/app", "Crash on start", "Steps: ...", labels=["bug"])
        pr = client.create_pull("feature", "main", "Fix the crash", "Fixes #1")
        github.add_review(pr.number, "CHANGES_REQUESTED", comments=[{"path": "a.py", ...}])
        github.set_check_run("feature", "ci", "completed", "failure")

As on GitHub, issues and pull requests share one sequence of numbers (here across the whole
fake, so the controls need no repository), the issue listing includes pull requests (each with
a `pull_request` key), and adding a label a repository does not have creates it. A webhook
registered with `POST /repos/{owner}/{repo}/hooks` or `add_hook` is sent `issues` and
`pull_request` events as the fake's state changes, signed as GitHub signs them (see
`github_hooks`). Merging a pull request into the default branch (the bare repository's HEAD)
closes the issues its description names with a closing keyword (`Fixes #1`). Every request
and answer is passed to `observe`, if given.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from gastown.record import Record, field, replace
from gastown.scripted import github_shapes as shapes
from gastown.scripted.github_hooks import Exchange, Hook, HookDeliveries, deliver
from gastown.scripted.local_http import LocalHttp

__all__ = ["Exchange", "FakeGitHub", "FakeIssue", "FakePull", "deliver"]

HTML_HOST = shapes.HTML_HOST
CHECKS_OK = ("success", "neutral", "skipped")
RATE_LIMIT = 5000
MERGER = {
    "GIT_AUTHOR_NAME": "GitHub",
    "GIT_AUTHOR_EMAIL": "noreply@github.test",
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.test",
}

CLOSING = re.compile(
    r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+"
    r"(?:(?P<repo>[\w.-]+/[\w.-]+)?#(?P<number>\d+)"
    r"|https?://[^\s/]+/(?P<url_repo>[\w.-]+/[\w.-]+)/issues/(?P<url_number>\d+))\b"
)
"""GitHub's closing keywords and the issue references they take."""

Answer = tuple[int, Any, dict[str, str]]
"""HTTP status, JSON body (None: no body), extra headers."""


class FakeIssue(Record):
    """One issue as the fake keeps it."""

    number: int
    """Its number, shared with the repository's pull requests."""
    repo: str
    """The repository it is in (`owner/name`)."""
    title: str
    """Its title."""
    body: str
    """Its description."""
    user: str
    """Who opened it (a login)."""
    created_at: str
    """When it was opened (GitHub's `2026-01-01T00:00:00Z` form)."""
    updated_at: str
    """When it last changed."""
    labels: list[str] = field(default_factory=list)
    """Its labels' names."""
    state: str = "open"
    """`open` or `closed`."""
    state_reason: str | None = None
    """Why it was closed (`completed`, `not_planned`), while it is."""
    closed_at: str | None = None
    """When it was closed, while it is."""


class FakePull(Record):
    """One pull request as the fake keeps it; the git-derived fields are filled in on view."""

    number: int
    """Its number, shared with the repository's pull requests."""
    repo: str
    """The repository it is in (`owner/name`)."""
    title: str
    """Its title."""
    body: str
    """Its description."""
    head: str
    """The head branch name (without `owner:`)."""
    base: str
    """The branch it goes into."""
    user: str
    """Who opened it (a login)."""
    created_at: str
    """When it was opened (GitHub's `2026-01-01T00:00:00Z` form)."""
    state: str = "open"
    """`open` or `closed`."""
    merged: bool = False
    """Whether it was merged."""
    merged_at: str | None = None
    """When it was merged."""
    merged_by: str | None = None
    """Who merged it (a login)."""
    merge_commit_sha: str | None = None
    """The commit its merge made on `base`."""
    closed_at: str | None = None
    """When it was closed, while it is."""
    updated_at: str = ""
    """When it last changed."""
    labels: list[str] = field(default_factory=list)
    """Its labels' names."""
    head_sha: str = ""
    """The head branch tip when last looked at; frozen once the pull request is closed."""
    base_sha: str = ""
    """The base branch tip when last looked at."""
    draft: bool = False
    """Whether it is a draft."""


class GitHubAnswer(Exception):
    """An error answer, raised from deep inside a route and sent as GitHub would."""

    def __init__(self, status: int, message: str, errors: list[Any] | None = None):
        super().__init__(message)
        self.status = status
        self.body = shapes.error(status, message, errors)


def _validation(resource: str, *errors: dict[str, Any]) -> GitHubAnswer:
    return GitHubAnswer(422, "Validation Failed", [{"resource": resource, **e} for e in errors])


class FakeGitHub(LocalHttp):
    """The fake API in a background thread; a context manager exposing `.url`."""

    def __init__(
        self,
        repos: dict[str, Path],
        token: str,
        *,
        login: str = "gastown",
        now: Callable[[], float] = time.time,
        apps: dict[int, str] | None = None,
        installations: dict[int, int] | None = None,
        observe: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.repos = dict(repos)
        self.token = token
        self.login = login
        """Who the token belongs to: the author of what is made through the API."""
        self.now = now
        self.apps = dict(apps or {})
        """GitHub Apps by id: the PEM public key their JWTs are signed for."""
        self.installations = dict(installations or {})
        """Installation id → the app installed; its tokens act as `login` too."""
        self.observe = observe
        self.requests: list[tuple[str, str]] = []
        """Every request received, in order: (method, path with its query string)."""
        self.counted = 0
        """Requests that counted against the rate limit (every answer but a 304)."""
        self.not_modified = 0
        """Conditional requests answered 304 Not Modified, which GitHub does not count."""
        self.rate_limit = RATE_LIMIT
        self.rate_remaining = RATE_LIMIT
        self.rate_reset = int(now()) + 3600
        self.hooks = HookDeliveries()
        self._lock = threading.RLock()
        self._issues: dict[int, FakeIssue] = {}
        self._pulls: dict[int, FakePull] = {}
        self._labels: dict[str, dict[str, dict[str, Any]]] = {r: {} for r in self.repos}
        self._reviews: dict[int, list[dict[str, Any]]] = {}
        self._review_comments: dict[int, list[dict[str, Any]]] = {}
        self._issue_comments: dict[int, list[dict[str, Any]]] = {}
        self._check_runs: dict[str, list[dict[str, Any]]] = {}
        self._tokens: set[str] = set()
        self._pending: list[tuple[str, str, str, int, str, str | None]] = []
        self._next_id = 1000
        self._listen(_Handler)

    # --- test controls: the rate limit and webhooks ---------------------------------------

    @property
    def rate_limited_until(self) -> int | None:
        """The reset time while the rate limit is used up, else None."""
        return self.rate_reset if self.rate_remaining <= 0 else None

    @rate_limited_until.setter
    def rate_limited_until(self, until: int | None) -> None:
        self.exhaust_rate_limit(until) if until is not None else self.reset_rate_limit()

    def exhaust_rate_limit(self, until: int) -> None:
        """Use the rate limit up until Unix time `until`: every request is refused with 403."""
        with self._lock:
            self.rate_remaining, self.rate_reset = 0, until

    def reset_rate_limit(self) -> None:
        """Give the rate limit back in full."""
        with self._lock:
            self.rate_remaining = self.rate_limit

    def add_hook(
        self, repo: str, url: str, secret: str, events: Sequence[str] = ("issues", "pull_request")
    ) -> int:
        """Send `events` on `repo` to `url` from now on, signed with `secret`. The hook's id."""
        with self._lock:
            hook = Hook(id=self._new_id(), repo=repo, url=url, secret=secret, events=list(events))
            self.hooks.hooks.append(hook)
            return hook.id

    # --- test controls: issues ------------------------------------------------------------

    @property
    def issues(self) -> dict[int, FakeIssue]:
        """A copy of every issue (not pull request) by number."""
        with self._lock:
            return {n: replace(i) for n, i in self._issues.items()}

    def open_issue(
        self,
        repo: str,
        title: str,
        body: str = "",
        labels: Sequence[str] = (),
        user: str = "someone",
    ) -> int:
        """Open an issue as `user` would on the web. Its number."""
        with self._lock:
            issue = self._new_issue(repo, title, body, list(labels), user)
        self._emit(repo, "issues", "opened", issue.number, user)
        return issue.number

    def edit_issue(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        user: str = "someone",
    ) -> None:
        """Change issue `number`'s title or body as `user` would on the web."""
        with self._lock:
            issue = self._issue(number)
            issue.title = title if title is not None else issue.title
            issue.body = body if body is not None else issue.body
            issue.updated_at = self._stamp()
        self._emit(issue.repo, "issues", "edited", number, user)

    def close_issue(self, number: int, reason: str = "completed", user: str = "someone") -> None:
        """Close issue `number` as `user` would on the web, for `reason`."""
        with self._lock:
            issue = self._issue(number)
            self._set_issue_state(issue, "closed", reason)
        self._emit(issue.repo, "issues", "closed", number, user)

    def label_issue(self, number: int, *labels: str, user: str = "someone") -> None:
        """Add labels to issue or pull request `number` (made in the repository if new)."""
        with self._lock:
            target = self._target(number)
            self._add_labels(target, labels)
        for name in labels:
            self._emit(target.repo, _kind(target), "labeled", number, user, label=name)

    def add_label(self, repo: str, name: str, color: str = "ededed", description: str = "") -> None:
        """Create label `name` in `repo`."""
        with self._lock:
            self._label(repo, name, color, description or None)

    # --- test controls: pull requests -----------------------------------------------------

    @property
    def pulls(self) -> dict[int, FakePull]:
        """A copy of every pull request by number, with head and base as git has them now."""
        with self._lock:
            return {n: replace(self._refresh(p)) for n, p in self._pulls.items()}

    def reviews(self, number: int) -> list[dict[str, Any]]:
        """The reviews of pull request `number` in GitHub's shape, oldest first."""
        with self._lock:
            return [dict(r) for r in self._reviews.get(number, [])]

    def review_comments(self, number: int) -> list[dict[str, Any]]:
        """The comments on lines of pull request `number`, in GitHub's shape, oldest first."""
        with self._lock:
            return [dict(c) for c in self._review_comments.get(number, [])]

    def comments(self, number: int) -> list[dict[str, Any]]:
        """The conversation comments on issue or pull request `number`."""
        with self._lock:
            return [dict(c) for c in self._issue_comments.get(number, [])]

    def add_review(
        self,
        number: int,
        state: str,
        body: str = "",
        comments: list[dict[str, Any]] | None = None,
        user: str = "reviewer",
    ) -> int:
        """Submit a review (APPROVED, CHANGES_REQUESTED or COMMENTED) on the current head;
        each of `comments` ({"path", "line", "body"}) becomes a review comment. Its id."""
        if state not in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED"):
            raise ValueError(f"unknown review state {state!r}")
        with self._lock:
            pull = self._refresh(self._pull(number))
            return self._store_review(pull, state, body, comments or [], user, pull.head_sha)

    def add_issue_comment(self, number: int, body: str, user: str = "reviewer") -> int:
        """Comment on the conversation of issue or pull request `number`. The comment's id."""
        with self._lock:
            return self._store_comment(self._target(number), body, user)

    def set_check_run(
        self,
        sha_or_branch: str,
        name: str,
        status: str = "completed",
        conclusion: str | None = "success",
        *,
        repo: str | None = None,
    ) -> str:
        """Report check `name` on a commit (a branch name means its tip now), replacing an
        earlier report of the same name. The commit's sha."""
        with self._lock:
            repo = self._repo_for(repo)
            sha = self._resolve(repo, sha_or_branch) or sha_or_branch
            runs = self._check_runs.setdefault(sha, [])
            old = next((r for r in runs if r["name"] == name), None)
            ident = old["id"] if old else self._new_id()
            run: dict[str, Any] = {
                "id": ident,
                "node_id": shapes.node_id("CR", ident),
                "external_id": None,
                "name": name,
                "head_sha": sha,
                "url": f"{self.url}/repos/{repo}/check-runs/{ident}",
                "html_url": f"{HTML_HOST}/{repo}/runs/{ident}",
                "details_url": None,
                "status": status,
                "conclusion": conclusion if status == "completed" else None,
                "started_at": self._stamp(),
                "completed_at": self._stamp() if status == "completed" else None,
                "output": {
                    "title": None,
                    "summary": None,
                    "text": None,
                    "annotations_count": 0,
                    "annotations_url": f"{self.url}/repos/{repo}/check-runs/{ident}/annotations",
                },
                "check_suite": {"id": ident + 1},
                "app": shapes.integration(self.url, "fake-ci"),
                "pull_requests": [],
            }
            if old is None:
                runs.append(run)
            else:
                runs[runs.index(old)] = run
            return sha

    def open_pull(
        self,
        head: str,
        base: str,
        title: str,
        body: str = "",
        *,
        user: str = "someone",
        draft: bool = False,
        repo: str | None = None,
    ) -> int:
        """Open a pull request of branch `head` into `base` as `user` would on the web (a
        person, unless `user` is the token's login). Its number."""
        with self._lock:
            repo = self._repo_for(repo)
            head_sha, base_sha = self.resolve(repo, head), self.resolve(repo, base)
            if head_sha is None or base_sha is None:
                raise ValueError(f"no branch {head!r} or {base!r} in {repo}")
            stamp = self._stamp()
            pull = FakePull(
                number=self._next_number(),
                repo=repo,
                title=title,
                body=body,
                head=head,
                base=base,
                user=user,
                created_at=stamp,
                updated_at=stamp,
                head_sha=head_sha,
                base_sha=base_sha,
                draft=draft,
            )
            self._pulls[pull.number] = self._refresh(pull)
        self._emit(repo, "pull_request", "opened", pull.number, user)
        return pull.number

    def close(self, number: int) -> None:
        """Close pull request `number` unmerged, as a person would on the web."""
        with self._lock:
            pull = self._refresh(self._pull(number))
            pull.state, pull.closed_at = "closed", self._stamp()
            pull.updated_at = pull.closed_at
        self._emit(pull.repo, "pull_request", "closed", number, "someone")

    def merge_outside(self, number: int, method: str = "merge") -> str:
        """Merge pull request `number` as a person with admin rights would on the web: reviews
        and checks are not consulted, conflicts still are. The merge commit's sha."""
        with self._lock:
            pull = self._refresh(self._pull(number))
            if pull.state != "open":
                raise ValueError(f"pull request #{number} is {pull.state}")
            tree = self._merge_tree(pull)
            if tree is None:
                raise ValueError(f"pull request #{number} has conflicts with {pull.base}")
            sha, fixed = self._merge(pull, tree, method, by="maintainer")
        self._emit(pull.repo, "pull_request", "closed", number, "maintainer")
        for issue in fixed:
            self._emit(pull.repo, "issues", "closed", issue, "maintainer")
        return sha

    # --- HTTP -----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        """Answer one request (called from the server's threads), then send the webhook
        events it caused."""
        with self._lock:
            self.requests.append((method, target))
            self._pending = []
            try:
                status, body, extra = self._route(method, target, headers, raw)
            except GitHubAnswer as answer:
                status, body, extra = answer.status, answer.body, {}
            status, body, extra = self._conditional(method, headers, status, body, extra)
            pending, self._pending = self._pending, []
        if self.observe is not None:
            self.observe(Exchange(method, target, _parse(raw), status, body, extra))
        for repo, event, action, number, sender, label in pending:
            self._emit(repo, event, action, number, sender, label=label)
        return status, body, extra

    def _conditional(
        self, method: str, headers: dict[str, str], status: int, body: Any, extra: dict[str, str]
    ) -> Answer:
        """ETags on reads, 304 when `If-None-Match` still matches, and the rate limit."""
        if method == "GET" and status == 200:
            etag = shapes.etag(body)
            extra = {**extra, "ETag": etag}
            if etag in (t.strip() for t in headers.get("if-none-match", "").split(",")):
                self.not_modified += 1
                self.rate_remaining += 1  # GitHub gives back what a 304 took
                return 304, None, {**extra, **self._rate_headers()}
        if status not in (401, 403) or "rate limit" not in str(body.get("message", "")):
            self.counted += 1
        return status, body, {**extra, **self._rate_headers()}

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(self.rate_remaining, 0)),
            "X-RateLimit-Reset": str(self.rate_reset),
            "X-RateLimit-Used": str(self.rate_limit - max(self.rate_remaining, 0)),
            "X-RateLimit-Resource": "core",
        }

    def _route(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        parts = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parts.query))
        body = _json_body(raw) if method in ("POST", "PUT", "PATCH") else {}
        auth = headers.get("authorization", "")
        if m := re.fullmatch(r"/app/installations/(\d+)/access_tokens", parts.path):
            return 201, self._installation_token(int(m[1]), auth), {}
        if auth not in (f"Bearer {self.token}", f"token {self.token}") and not any(
            auth in (f"Bearer {t}", f"token {t}") for t in self._tokens
        ):
            raise GitHubAnswer(401, "Bad credentials")
        if self.rate_remaining <= 0:
            raise GitHubAnswer(403, "API rate limit exceeded for user ID 1.")
        self.rate_remaining -= 1
        match = _ROUTE.match(parts.path)
        if match is None or match["repo"] not in self.repos:
            raise GitHubAnswer(404, "Not Found")
        repo, rest = match["repo"], match["rest"] or ""
        from gastown.scripted import github_routes

        return github_routes.route(self, method, repo, rest, parts.path, query, body)

    @property
    def issued_tokens(self) -> set[str]:
        """The installation tokens handed out so far (the live set: it grows)."""
        return self._tokens

    def _installation_token(self, installation: int, auth: str) -> dict[str, Any]:
        from gastown.scripted.github_hooks import verify_app_jwt

        app_id = self.installations.get(installation)
        if app_id is None:
            raise GitHubAnswer(404, "Not Found")
        jwt = auth.removeprefix("Bearer ")
        reason = verify_app_jwt(jwt, app_id, self.apps.get(app_id, ""), self.now())
        if reason is not None:
            raise GitHubAnswer(401, reason)
        token = f"ghs_{self._new_id()}{os.urandom(8).hex()}"
        self._tokens.add(token)
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now() + 3600))
        return {
            "token": token,
            "expires_at": expires,
            "permissions": {"issues": "write", "pull_requests": "write", "contents": "write"},
            "repository_selection": "all",
        }

    # --- state ------------------------------------------------------------------------------

    def _new_issue(
        self, repo: str, title: str, body: str, labels: list[str], user: str
    ) -> FakeIssue:
        if repo not in self.repos:
            raise KeyError(f"the fake serves no repository {repo}")
        stamp = self._stamp()
        issue = FakeIssue(
            number=self._next_number(),
            repo=repo,
            title=title,
            body=body,
            user=user,
            created_at=stamp,
            updated_at=stamp,
        )
        self._add_labels(issue, labels)
        self._issues[issue.number] = issue
        return issue

    def _set_issue_state(
        self, target: FakeIssue | FakePull, state: str, reason: str | None
    ) -> None:
        stamp = self._stamp()
        if isinstance(target, FakeIssue):
            target.state_reason = reason if state == "closed" else "reopened"
        target.state, target.updated_at = state, stamp
        target.closed_at = stamp if state == "closed" else None

    def _add_labels(self, target: FakeIssue | FakePull, names: Sequence[str]) -> None:
        for name in names:
            self._label(target.repo, name)
            if name not in target.labels:
                target.labels.append(name)
        target.updated_at = self._stamp()

    def _label(
        self, repo: str, name: str, color: str = "ededed", description: str | None = None
    ) -> dict[str, Any]:
        """Label `name` of `repo`, made if new (GitHub makes a label added to an issue)."""
        known = self._labels[repo]
        for existing in known.values():
            if existing["name"].lower() == name.lower():
                return existing
        known[name] = shapes.label(self.url, repo, name, self._new_id(), color, description)
        return known[name]

    def _store_comment(self, target: FakeIssue | FakePull, body: str, user: str) -> int:
        comment_id, stamp = self._new_id(), self._stamp()
        html = f"{HTML_HOST}/{target.repo}/{_kind_path(target)}/{target.number}"
        self._issue_comments.setdefault(target.number, []).append(
            {
                "id": comment_id,
                "node_id": shapes.node_id("IC", comment_id),
                "url": f"{self.url}/repos/{target.repo}/issues/comments/{comment_id}",
                "html_url": f"{html}#issuecomment-{comment_id}",
                "issue_url": f"{self.url}/repos/{target.repo}/issues/{target.number}",
                "body": body,
                "user": shapes.user(self.url, user),
                "author_association": "MEMBER",
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        target.updated_at = stamp
        return comment_id

    def _store_review(
        self,
        pull: FakePull,
        state: str,
        body: str,
        comments: list[dict[str, Any]],
        user: str,
        commit: str,
    ) -> int:
        review_id, stamp = self._new_id(), self._stamp()
        html, api = _html(pull), f"{self.url}/repos/{pull.repo}/pulls/{pull.number}"
        self._reviews.setdefault(pull.number, []).append(
            {
                "id": review_id,
                "node_id": shapes.node_id("PRR", review_id),
                "user": shapes.user(self.url, user),
                "body": body,
                "state": state,
                "html_url": f"{html}#pullrequestreview-{review_id}",
                "pull_request_url": api,
                "_links": shapes.links(
                    html=f"{html}#pullrequestreview-{review_id}", pull_request=api
                ),
                "submitted_at": stamp,
                "commit_id": commit,
                "author_association": "MEMBER",
            }
        )
        for comment in comments:
            comment_id = self._new_id()
            url = f"{self.url}/repos/{pull.repo}/pulls/comments/{comment_id}"
            self._review_comments.setdefault(pull.number, []).append(
                {
                    "url": url,
                    "id": comment_id,
                    "node_id": shapes.node_id("PRRC", comment_id),
                    "pull_request_review_id": review_id,
                    "diff_hunk": comment.get("diff_hunk", "@@"),
                    "path": comment["path"],
                    "line": comment.get("line"),
                    "side": comment.get("side", "RIGHT"),
                    "body": comment["body"],
                    "user": shapes.user(self.url, user),
                    "commit_id": commit,
                    "original_commit_id": commit,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "html_url": f"{html}#discussion_r{comment_id}",
                    "pull_request_url": api,
                    "author_association": "MEMBER",
                    "_links": shapes.links(
                        self=url, html=f"{html}#discussion_r{comment_id}", pull_request=api
                    ),
                }
            )
        pull.updated_at = stamp
        return review_id

    def _emit(
        self,
        repo: str,
        event: str,
        action: str,
        number: int,
        sender: str,
        *,
        label: str | None = None,
    ) -> None:
        """Send `event` to the hooks of `repo`; called with the lock let go, so a receiver may
        call the fake back. (A route queues its events with `queue`.)"""
        with self._lock:
            hooks = [h for h in self.hooks.hooks if h.repo == repo and event in h.events]
            if not hooks:
                return
            target = self._target(number)
            payload: dict[str, Any] = {"action": action}
            if event == "issues":
                payload["issue"] = self.issue_json(target)
            else:
                payload |= {"number": number, "pull_request": self.pull_json(target, full=True)}  # type: ignore[arg-type]
            if label is not None:
                payload["label"] = self._label(repo, label)
            payload |= {
                "repository": shapes.repository(self.url, repo, self._stamp()),
                "sender": shapes.user(self.url, sender),
            }
        for hook in hooks:
            self.hooks.send(hook, event, payload)

    def queue(
        self, repo: str, event: str, action: str, number: int, *, label: str | None = None
    ) -> None:
        """Send `event` once the request being answered is answered (a route's events)."""
        self._pending.append((repo, event, action, number, self.login, label))

    # --- shapes -----------------------------------------------------------------------------

    def issue_json(self, target: FakeIssue | FakePull) -> dict[str, Any]:
        """An issue in GitHub's shape; a pull request's issue side has `pull_request`."""
        api = f"{self.url}/repos/{target.repo}/issues/{target.number}"
        html = f"{HTML_HOST}/{target.repo}/{_kind_path(target)}/{target.number}"
        out: dict[str, Any] = {
            "id": 700000 + target.number,
            "node_id": shapes.node_id("I", target.number),
            "url": api,
            "repository_url": f"{self.url}/repos/{target.repo}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": html,
            "number": target.number,
            "state": target.state,
            "state_reason": getattr(target, "state_reason", None),
            "title": target.title,
            "body": target.body,
            "user": shapes.user(self.url, target.user),
            "labels": [self._label(target.repo, n) for n in target.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "comments": len(self._issue_comments.get(target.number, [])),
            "closed_at": target.closed_at,
            "created_at": target.created_at,
            "updated_at": target.updated_at or target.created_at,
            "author_association": "MEMBER",
        }
        if isinstance(target, FakePull):
            out["pull_request"] = {
                "url": f"{self.url}/repos/{target.repo}/pulls/{target.number}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": target.merged_at,
            }
        return out

    def pull_json(self, pull: FakePull, *, full: bool) -> dict[str, Any]:
        """A pull request in GitHub's shape; listings leave out the mergeability fields."""
        owner, stamp = _owner(pull.repo), pull.created_at
        api, html = f"{self.url}/repos/{pull.repo}", _html(pull)
        out: dict[str, Any] = {
            "url": f"{api}/pulls/{pull.number}",
            "id": 500000 + pull.number,
            "node_id": shapes.node_id("PR", pull.number),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{pull.number}",
            "commits_url": f"{api}/pulls/{pull.number}/commits",
            "review_comments_url": f"{api}/pulls/{pull.number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pull.number}/comments",
            "statuses_url": f"{api}/statuses/{pull.head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "body": pull.body,
            "user": shapes.user(self.url, pull.user),
            "labels": [self._label(pull.repo, n) for n in pull.labels],
            "milestone": None,
            "assignee": None,
            "created_at": stamp,
            "updated_at": pull.updated_at or pull.closed_at or stamp,
            "closed_at": pull.closed_at,
            "merged_at": pull.merged_at,
            "merge_commit_sha": pull.merge_commit_sha,
            "draft": pull.draft,
            "head": self._branch(owner, pull.repo, pull.head, pull.head_sha, stamp),
            "base": self._branch(owner, pull.repo, pull.base, pull.base_sha, stamp),
            "_links": shapes.links(
                self=f"{api}/pulls/{pull.number}",
                html=html,
                issue=f"{api}/issues/{pull.number}",
                comments=f"{api}/issues/{pull.number}/comments",
                review_comments=f"{api}/pulls/{pull.number}/comments",
                review_comment=f"{api}/pulls/comments{{/number}}",
                commits=f"{api}/pulls/{pull.number}/commits",
                statuses=f"{api}/statuses/{pull.head_sha}",
            ),
            "author_association": "MEMBER",
            "auto_merge": None,
        }
        if full:
            mergeable, state = self._mergeability(pull)
            out |= {
                "merged": pull.merged,
                "mergeable": mergeable,
                "mergeable_state": state,
                "merged_by": shapes.user(self.url, pull.merged_by) if pull.merged_by else None,
                "comments": len(self._issue_comments.get(pull.number, [])),
                "review_comments": len(self._review_comments.get(pull.number, [])),
                "maintainer_can_modify": False,
                "commits": 1,
                "additions": 0,
                "deletions": 0,
                "changed_files": 0,
            }
        return out

    def _branch(self, owner: str, repo: str, ref: str, sha: str, stamp: str) -> dict[str, Any]:
        return {
            "label": f"{owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": shapes.user(self.url, owner, "Organization"),
            "repo": shapes.repository(self.url, repo, stamp),
        }

    def page(
        self, items: list[Any], path: str, query: dict[str, str]
    ) -> tuple[list[Any], dict[str, str]]:
        """One page of a listing and its `Link` header, as GitHub pages (30 by default)."""
        per_page = min(max(int(query.get("per_page", "30")), 1), 100)
        page = max(int(query.get("page", "1")), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)

        def link(n: int, rel: str) -> str:
            url = f"{self.url}{path}?{urllib.parse.urlencode({**query, 'page': n})}"
            return f'<{url}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"Link": ", ".join(links)} if links else {}
        return items[(page - 1) * per_page : page * per_page], headers

    # --- state from git -------------------------------------------------------------------

    def _merge(self, pull: FakePull, tree: str, method: str, by: str) -> tuple[str, list[int]]:
        """Write the merge commit of `tree` on the base branch without a worktree. The merge
        commit's sha, and the issues its closing keywords closed."""
        if method == "squash":
            message = f"{pull.title} (#{pull.number})\n\n{pull.body}".rstrip() + "\n"
            parents = ["-p", pull.base_sha]
        else:
            owner = _owner(pull.repo)
            message = (
                f"Merge pull request #{pull.number} from {owner}/{pull.head}\n\n{pull.title}\n"
            )
            parents = ["-p", pull.base_sha, "-p", pull.head_sha]
        made = self.git(pull.repo, "commit-tree", tree, *parents, "-m", message, env=MERGER)
        if made.returncode != 0:
            raise RuntimeError(f"git commit-tree failed: {made.stderr.strip()}")
        sha = made.stdout.strip()
        moved = self.git(pull.repo, "update-ref", f"refs/heads/{pull.base}", sha, pull.base_sha)
        if moved.returncode != 0:
            raise GitHubAnswer(409, "Base branch was modified. Review and try the merge again.")
        stamp = self._stamp()
        pull.state, pull.merged, pull.merged_at, pull.closed_at = "closed", True, stamp, stamp
        pull.merged_by, pull.merge_commit_sha, pull.updated_at = by, sha, stamp
        return sha, self._close_fixed(pull)

    def _close_fixed(self, pull: FakePull) -> list[int]:
        """Close the open issues a merged pull request's description names with a closing
        keyword (`Fixes #1`, `closes acme/app#2`, `Resolves: https://…/issues/3`), as GitHub
        does when it merges into the repository's default branch. Their numbers."""
        if pull.base != self.default_branch(pull.repo):
            return []
        closed = []
        for match in CLOSING.finditer(pull.body or ""):
            repo = match["repo"] or match["url_repo"] or pull.repo
            number = int(match["number"] or match["url_number"])
            issue = self._issues.get(number)
            if issue is None or issue.repo.lower() != repo.lower() or issue.state != "open":
                continue
            self._set_issue_state(issue, "closed", "completed")
            closed.append(number)
        return closed

    def default_branch(self, repo: str) -> str:
        """The branch the bare repository's HEAD names (GitHub's default branch)."""
        done = self.git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
        return done.stdout.strip() if done.returncode == 0 else "main"

    def _merge_tree(self, pull: FakePull) -> str | None:
        """The merged tree of base and head, or None when they conflict."""
        done = self.git(pull.repo, "merge-tree", "--write-tree", pull.base_sha, pull.head_sha)
        if done.returncode == 1:
            return None
        if done.returncode != 0:
            raise RuntimeError(f"git merge-tree failed: {done.stderr.strip()}")
        return done.stdout.splitlines()[0]

    def _blocker(self, pull: FakePull) -> str | None:
        """GitHub's reason an open pull request cannot be merged now, or None."""
        if self._merge_tree(pull) is None:
            return "Pull Request is not mergeable"
        latest: dict[str, str] = {}
        for review in self._reviews.get(pull.number, []):
            if review["state"] in ("APPROVED", "CHANGES_REQUESTED"):
                latest[review["user"]["login"]] = review["state"]
        if "CHANGES_REQUESTED" in latest.values():
            return "Changes have been requested on this pull request."
        for run in self._check_runs.get(pull.head_sha, []):
            if run["status"] != "completed":
                return f'Required status check "{run["name"]}" is expected.'
            if run["conclusion"] not in CHECKS_OK:
                return f'Required status check "{run["name"]}" is failing.'
        return None

    def _mergeability(self, pull: FakePull) -> tuple[bool | None, str]:
        if pull.state != "open":
            return None, "unknown"
        blocker = self._blocker(pull)
        if blocker == "Pull Request is not mergeable":
            return False, "dirty"
        return True, "clean" if blocker is None else "blocked"

    def _refresh(self, pull: FakePull) -> FakePull:
        """Read head and base tips from git while the pull request is open, and keep
        `refs/pull/N/head` at the head, as GitHub serves it to `git fetch`."""
        if pull.state == "open":
            pull.head_sha = self.resolve(pull.repo, pull.head) or pull.head_sha
            pull.base_sha = self.resolve(pull.repo, pull.base) or pull.base_sha
        if pull.head_sha:
            self.git(pull.repo, "update-ref", f"refs/pull/{pull.number}/head", pull.head_sha)
        return pull

    def resolve(self, repo: str, ref: str) -> str | None:
        """The commit a branch (or sha) names in `repo` now, or None."""
        for name in (f"refs/heads/{ref}", ref):
            done = self.git(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
            if done.returncode == 0:
                return done.stdout.strip()
        return None

    _resolve = resolve

    def git(
        self, repo: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run git in the bare repository behind `repo`."""
        return subprocess.run(
            ["git", *args],
            cwd=self.repos[repo],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", **(env or {})},
            check=False,
        )

    # --- bookkeeping ----------------------------------------------------------------------

    def _target(self, number: int) -> FakeIssue | FakePull:
        if number in self._pulls:
            return self._pulls[number]
        return self._issue(number)

    def _issue(self, number: int) -> FakeIssue:
        if number not in self._issues:
            raise KeyError(f"no issue #{number}")
        return self._issues[number]

    def _pull(self, number: int) -> FakePull:
        if number not in self._pulls:
            raise KeyError(f"no pull request #{number}")
        return self._pulls[number]

    def _repo_for(self, repo: str | None) -> str:
        if repo is not None:
            return repo
        if len(self.repos) != 1:
            raise ValueError("name the repository: the fake serves more than one")
        return next(iter(self.repos))

    def _next_number(self) -> int:
        return max([*self._pulls, *self._issues], default=0) + 1

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _stamp(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now()))


_ROUTE = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+?)(?P<rest>/.*)?$")


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise GitHubAnswer(400, "Problems parsing JSON") from None
    if not isinstance(body, dict):
        raise GitHubAnswer(400, "Problems parsing JSON")
    return body


def _owner(repo: str) -> str:
    return repo.partition("/")[0]


def _kind(target: FakeIssue | FakePull) -> str:
    return "pull_request" if isinstance(target, FakePull) else "issues"


def _kind_path(target: FakeIssue | FakePull) -> str:
    return "pull" if isinstance(target, FakePull) else "issues"


def _html(pull: FakePull) -> str:
    return f"{HTML_HOST}/{pull.repo}/pull/{pull.number}"


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to the `FakeGitHub` that owns the server."""

    server_version = "FakeGitHub/1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake: FakeGitHub = self.server.fake  # type: ignore[attr-defined]
        status, body, extra = fake.handle(self.command, self.path, headers, raw)
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `FakeGitHub.requests` is the log."""
