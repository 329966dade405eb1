"""A small, synchronous client for the GitHub REST API: the pull-request side of the refinery.

`GitHub(token=..., repo="owner/name")` opens, reads, merges and closes pull requests in one
repository (`api_url=` points it at GitHub Enterprise or a fake). It uses the standard library
only and blocks, so the refinery calls it from a worker thread. Every failure is a `GitHubError`:
one plain sentence saying what went wrong and what to do, with the HTTP status (if there was
one) on `.status`.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from typing import Any

from gastown.errors import UserError
from gastown.record import Record

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TIMEOUT = 30.0
PER_PAGE = 100
USER_AGENT = "gastown-refinery"


class GitHubError(UserError):
    """GitHub refused a request, or could not be reached."""

    code = "github"

    def __init__(
        self, message: str, *, status: int | None = None, detail: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        """The HTTP status GitHub answered with; None when no answer came."""
        self.detail = detail
        """GitHub's own words (its `message` and `errors`), when it gave any."""


class PullRequest(Record):
    """One pull request, as GitHub reports it at the time of asking."""

    number: int
    url: str
    """The page people open (`html_url`), not the API address."""
    state: str
    """`open` or `closed`; a merged pull request is `closed` with `merged` set."""
    merged: bool
    mergeable: bool | None
    """None while GitHub is still computing it."""
    mergeable_state: str
    """`clean`, `dirty` (conflicts), `blocked`, `behind`, `unstable`, `unknown`, ..."""
    head_ref: str
    """The branch being merged."""
    head_sha: str
    """The commit at the tip of `head_ref`; merging names it so a later push is not merged."""
    base_ref: str
    """The branch merged into."""
    title: str


class Review(Record):
    """One submitted review."""

    id: int
    state: str
    """`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`."""
    body: str
    user: str
    """The reviewer's login."""
    submitted_at: str | None
    commit_id: str | None
    """The head commit the review was made against."""


class ReviewComment(Record):
    """A comment on a line of the diff."""

    id: int
    path: str
    line: int | None
    """None when the comment is on a line the current diff no longer shows."""
    body: str
    user: str
    created_at: str


class IssueComment(Record):
    """A comment on the conversation, not tied to a line."""

    id: int
    body: str
    user: str
    created_at: str


class CheckRun(Record):
    """One CI check on one commit."""

    id: int
    name: str
    status: str
    """`queued`, `in_progress` or `completed`."""
    conclusion: str | None
    """Set once completed: `success`, `failure`, `neutral`, `cancelled`, `skipped`, ..."""
    head_sha: str


class GitHub:
    """Pull requests of one repository (`repo` is "owner/name") through the REST API."""

    def __init__(
        self,
        *,
        token: str,
        repo: str,
        api_url: str = DEFAULT_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.token = token
        self.repo = repo
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.owner = repo.split("/", 1)[0]

    # --- pull requests --------------------------------------------------------------------

    def create_pull(self, head: str, base: str, title: str, body: str = "") -> PullRequest:
        """Open a pull request of branch `head` into `base`; if one is already open for the
        two, that one is returned instead, so asking twice opens one."""
        payload = {"title": title, "head": head, "base": base, "body": body}
        try:
            data = self._call("POST", self._repo_path("pulls"), body=payload)
        except GitHubError as exc:
            if exc.status != 422:
                raise
            existing = self.find_open_pull(head, base) if "already exists" in exc.detail else None
            if existing is not None:
                return existing
            raise GitHubError(
                f"GitHub would not open a pull request of {head} into {base} in {self.repo}: "
                f"{exc.detail}; check that both branches are pushed and differ.",
                status=422,
                detail=exc.detail,
            ) from None
        return _pull(data)

    def find_open_pull(self, head: str, base: str | None = None) -> PullRequest | None:
        """The open pull request of branch `head` (into `base`, if given), or None."""
        query = {"state": "open", "head": f"{self.owner}:{head}"}
        if base is not None:
            query["base"] = base
        found = self._pages(self._repo_path("pulls"), query)
        return _pull(found[0]) if found else None

    def get_pull(self, number: int) -> PullRequest:
        """Pull request `number` as it is now (state, mergeability, head commit)."""
        return _pull(self._call("GET", self._repo_path(f"pulls/{number}"), what=_pr(number)))

    def list_reviews(self, number: int) -> list[Review]:
        """Every review submitted on pull request `number`, oldest first."""
        return [
            Review(
                id=int(r["id"]),
                state=str(r.get("state") or ""),
                body=str(r.get("body") or ""),
                user=_login(r),
                submitted_at=r.get("submitted_at"),
                commit_id=r.get("commit_id"),
            )
            for r in self._pages(self._repo_path(f"pulls/{number}/reviews"), what=_pr(number))
        ]

    def list_review_comments(self, number: int) -> list[ReviewComment]:
        """Every comment on the diff of pull request `number`, oldest first."""
        return [
            ReviewComment(
                id=int(c["id"]),
                path=str(c.get("path") or ""),
                line=c.get("line"),
                body=str(c.get("body") or ""),
                user=_login(c),
                created_at=str(c.get("created_at") or ""),
            )
            for c in self._pages(self._repo_path(f"pulls/{number}/comments"), what=_pr(number))
        ]

    def list_issue_comments(self, number: int) -> list[IssueComment]:
        """Every conversation comment on pull request `number`, oldest first."""
        return [
            IssueComment(
                id=int(c["id"]),
                body=str(c.get("body") or ""),
                user=_login(c),
                created_at=str(c.get("created_at") or ""),
            )
            for c in self._pages(self._repo_path(f"issues/{number}/comments"), what=_pr(number))
        ]

    def list_check_runs(self, sha: str) -> list[CheckRun]:
        """Every check run reported on commit `sha`."""
        path = self._repo_path(f"commits/{sha}/check-runs")
        return [
            CheckRun(
                id=int(c["id"]),
                name=str(c.get("name") or ""),
                status=str(c.get("status") or ""),
                conclusion=c.get("conclusion"),
                head_sha=str(c.get("head_sha") or sha),
            )
            for c in self._pages(path, key="check_runs", what=f"commit {sha}")
        ]

    def merge_pull(self, number: int, sha: str, method: str = "merge") -> str:
        """Merge pull request `number` if its head is still `sha`; the merge commit's sha."""
        payload = {"sha": sha, "merge_method": method}
        try:
            data = self._call(
                "PUT", self._repo_path(f"pulls/{number}/merge"), body=payload, what=_pr(number)
            )
        except GitHubError as exc:
            if exc.status == 405:
                raise GitHubError(
                    f"GitHub will not merge pull request #{number} in {self.repo}: "
                    f"{exc.detail}; resolve that and poll again.",
                    status=405,
                    detail=exc.detail,
                ) from None
            if exc.status == 409:
                raise GitHubError(
                    f"Pull request #{number} in {self.repo} was not merged because its head "
                    f"moved past {sha[:12]} ({exc.detail}); poll it again before merging.",
                    status=409,
                    detail=exc.detail,
                ) from None
            raise
        return str(data["sha"])

    def close_pull(self, number: int) -> PullRequest:
        """Close pull request `number` without merging it."""
        data = self._call(
            "PATCH", self._repo_path(f"pulls/{number}"), body={"state": "closed"}, what=_pr(number)
        )
        return _pull(data)

    # --- HTTP -----------------------------------------------------------------------------

    def _repo_path(self, rest: str) -> str:
        return f"/repos/{self.repo}/{rest}"

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        what: str | None = None,
    ) -> Any:
        return self._send(method, self.api_url + path, body, what)[0]

    def _pages(
        self,
        path: str,
        query: dict[str, str] | None = None,
        *,
        key: str | None = None,
        what: str | None = None,
    ) -> list[Any]:
        """Every item of a listing, following `Link: <...>; rel="next"`."""
        params = urllib.parse.urlencode({**(query or {}), "per_page": PER_PAGE})
        url: str | None = f"{self.api_url}{path}?{params}"
        items: list[Any] = []
        while url is not None:
            data, headers = self._send("GET", url, None, what)
            items.extend(data[key] if key is not None else data)
            url = _next_link(headers.get("Link"))
        return items

    def _send(
        self, method: str, url: str, body: dict[str, Any] | None, what: str | None
    ) -> tuple[Any, Message]:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": USER_AGENT,
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                answer_headers = response.headers
        except urllib.error.HTTPError as exc:
            with exc:
                raise self._refused(
                    method, exc, f"{what} in {self.repo}" if what else f"repository {self.repo}"
                ) from None
        except urllib.error.URLError as exc:
            raise self._unreachable(exc.reason) from None
        except (TimeoutError, ConnectionError) as exc:
            raise self._unreachable(exc) from None
        try:
            return (json.loads(raw) if raw.strip() else None), answer_headers
        except ValueError:
            raise GitHubError(
                f"{self.api_url} answered {method} with something that is not JSON; "
                "check that `github.api_url` points at the GitHub REST API."
            ) from None

    def _unreachable(self, reason: object) -> GitHubError:
        if isinstance(reason, TimeoutError):
            reason = f"no answer within {self.timeout:g} s"
        elif isinstance(reason, OSError) and reason.strerror:
            reason = reason.strerror
        return GitHubError(
            f"Cannot reach {self.api_url} ({reason}); check `github.api_url` and the network."
        )

    def _refused(self, method: str, exc: urllib.error.HTTPError, what: str) -> GitHubError:
        status, detail = exc.code, _message(exc)
        if status == 401:
            message = (
                f"GitHub refused the token for {self.repo} ({detail}); "
                "set `github.token` or GITHUB_TOKEN to a valid token."
            )
        elif status in (403, 429) and exc.headers.get("X-RateLimit-Remaining") == "0":
            message = (
                f"GitHub is rate limiting this token until {_reset_time(exc.headers)}; "
                "wait until then or use another token."
            )
        elif status == 403:
            message = (
                f"GitHub forbade {method} on {what} ({detail}); "
                "give the token write access to pull requests and contents."
            )
        elif status == 404:
            message = (
                f"GitHub found no {what}; check the repository name and that the token can see it."
            )
        else:
            message = f"GitHub answered {status} to {method} on {what}: {detail}."
        return GitHubError(message, status=status, detail=detail)


def _pr(number: int) -> str:
    return f"pull request #{number}"


def _login(item: dict[str, Any]) -> str:
    user = item.get("user") or {}
    return str(user.get("login") or "")


def _pull(data: dict[str, Any]) -> PullRequest:
    head, base = data.get("head") or {}, data.get("base") or {}
    return PullRequest(
        number=int(data["number"]),
        url=str(data.get("html_url") or ""),
        state=str(data.get("state") or ""),
        # Listings carry `merged_at` but not `merged`.
        merged=bool(data.get("merged") or data.get("merged_at")),
        mergeable=data.get("mergeable"),
        mergeable_state=str(data.get("mergeable_state") or "unknown"),
        head_ref=str(head.get("ref") or ""),
        head_sha=str(head.get("sha") or ""),
        base_ref=str(base.get("ref") or ""),
        title=str(data.get("title") or ""),
    )


def _message(exc: urllib.error.HTTPError) -> str:
    """GitHub's own words from an error body: `message`, then any `errors[].message`."""
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        return exc.reason or f"HTTP {exc.code}"
    if not isinstance(body, dict):
        return f"HTTP {exc.code}"
    parts = [str(body.get("message") or exc.reason or f"HTTP {exc.code}").rstrip(".")]
    for item in body.get("errors") or []:
        if isinstance(item, dict) and item.get("message"):
            parts.append(str(item["message"]).rstrip("."))
        elif isinstance(item, dict) and item.get("field"):
            parts.append(f"{item['field']} {item.get('code') or 'invalid'}")
    return ": ".join(parts)


def _reset_time(headers: Message) -> str:
    reset = headers.get("X-RateLimit-Reset")
    if reset is None or not reset.isdigit():
        return "the limit resets"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(reset)))


_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _next_link(link: str | None) -> str | None:
    if not link:
        return None
    match = _NEXT.search(link)
    return match.group(1) if match else None


_REPO_URL = re.compile(
    r"""^(?:
        https?://(?:[^@/]+@)?github\.com/
      | git@github\.com:
      | ssh://git@github\.com(?::\d+)?/
    )
    (?P<owner>[A-Za-z0-9][A-Za-z0-9-]*)/(?P<name>[A-Za-z0-9._-]+?)(?:\.git)?/?$""",
    re.VERBOSE,
)


def repo_from_url(url: str) -> str | None:
    """ "owner/name" of a github.com remote URL (https, scp-style or ssh), or None."""
    match = _REPO_URL.match(url.strip())
    if match is None or match["name"] in (".", ".."):
        return None
    return f"{match['owner']}/{match['name']}"
