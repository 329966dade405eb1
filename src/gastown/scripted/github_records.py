"""What the fake GitHub keeps and the small facts it answers by: its issues and pull requests
as records, the error answer a route raises, GitHub's closing keywords and the merge
committer, and the helpers naming a target's kind and web address."""

from __future__ import annotations

import json
import re
from typing import Any

from gastown.record import Record, field
from gastown.scripted import github_shapes as shapes

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
