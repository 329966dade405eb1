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
import json
import re
import time
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from gastown.scripted import gitlab_json as shape
from gastown.scripted import gitlab_routes
from gastown.scripted.gitlab_controls import GitLabControls
from gastown.scripted.gitlab_json import Answer, GitLabAnswer
from gastown.scripted.gitlab_state import Delivery, Served

__all__ = ["Delivery", "FakeGitLab", "Served"]

WRITE = frozenset({"POST", "PUT", "DELETE", "PATCH"})


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


class FakeGitLab(GitLabControls):
    """The fake in a background thread; a context manager exposing `.url` (the instance URL,
    as `gitlab.api_url`; the API is under `/api/v4`)."""

    _handler = _Handler

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
