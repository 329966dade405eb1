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
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any

from gastown.scripted import github_shapes as shapes
from gastown.scripted.github_controls import GitHubControls
from gastown.scripted.github_hooks import Exchange, deliver
from gastown.scripted.github_records import (
    Answer,
    FakeIssue,
    FakePull,
    GitHubAnswer,
    _json_body,
    _parse,
)

__all__ = ["Exchange", "FakeGitHub", "FakeIssue", "FakePull", "deliver"]

_ROUTE = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+?)(?P<rest>/.*)?$")


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


class FakeGitHub(GitHubControls):
    """The fake API in a background thread; a context manager exposing `.url`."""

    _handler = _Handler

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
