"""The forge seam: what the town asks of the place a team keeps its code, issues and reviews.

    Forge            one repository on one forge: issues, pull (merge) requests, reviews with
                     line comments, conversation comments, labels, checks
    records          Issue, PullRequest, Review, ReviewComment, Comment, CheckRun, LineComment:
                     the same shapes whichever forge answered
    ForgeError       one plain sentence on what the forge refused and what to do; `.status`
                     carries the HTTP status when there was one. `RateLimited` says until when.

GitHub (`forge.github`) and GitLab (`forge.gitlab`) implement `Forge` over their client
libraries, which are imported only when a forge is first used, never on the CLI's start-up
path. A GitLab merge request is a `PullRequest` here and its iid is its `number`; GitLab's
"notes" are comments, its pipelines' jobs are checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from gastown.errors import UserError
from gastown.record import Record, field

ForgeKind = Literal["github", "gitlab"]
ReviewEvent = Literal["COMMENT", "REQUEST_CHANGES", "APPROVE"]


class ForgeError(UserError):
    """The forge refused a request, or could not be reached."""

    code = "forge"

    def __init__(
        self, message: str, *, status: int | None = None, detail: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        """The HTTP status the forge answered with; None when no answer came."""
        self.detail = detail
        """The forge's own words, when it gave any."""


class RateLimited(ForgeError):
    """The forge's rate limit is used up until `reset_at` (Unix seconds)."""

    def __init__(self, message: str, *, reset_at: float, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.reset_at = reset_at


class Issue(Record):
    """One issue as the forge reports it now."""

    number: int
    """GitHub's issue number; GitLab's iid (the `#N` people write)."""
    title: str
    body: str
    state: Literal["open", "closed"]
    url: str
    """The page people open."""
    labels: list[str] = field(default_factory=list)
    author: str = ""
    updated_at: str = ""


class PullRequest(Record):
    """One pull request (GitLab: merge request) as the forge reports it now."""

    number: int
    url: str
    """The page people open, not the API address."""
    state: Literal["open", "closed"]
    """A merged pull request is `closed` with `merged` set."""
    merged: bool
    mergeable: bool | None
    """None while the forge is still computing it."""
    mergeable_state: str
    """`clean`, `dirty` (conflicts), `blocked`, `behind`, `unstable`, `unknown`, ..."""
    head_ref: str
    head_sha: str
    """The commit at the tip of `head_ref`; merging names it so a later push is not merged."""
    base_ref: str
    title: str
    body: str = ""
    author: str = ""
    draft: bool = False


class Review(Record):
    """One submitted review (GitLab: an approval, or a discussion opened by a reviewer)."""

    id: int
    state: str
    """`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`."""
    body: str
    user: str
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


class Comment(Record):
    """A comment on the conversation of an issue or pull request, not tied to a line."""

    id: int
    body: str
    user: str
    created_at: str


class CheckRun(Record):
    """One CI check on one commit (GitLab: a pipeline job)."""

    id: int
    name: str
    status: str
    """`queued`, `in_progress` or `completed`."""
    conclusion: str | None
    """Set once completed: `success`, `failure`, `neutral`, `cancelled`, `skipped`, ..."""
    head_sha: str


class LineComment(Record):
    """A comment to post on one line of a pull request's new version."""

    path: str
    line: int
    body: str


class Forge(Protocol):
    """One repository on one forge."""

    # Read-only, so an adapter may narrow them (`kind: Literal["gitlab"]`).
    @property
    def kind(self) -> ForgeKind: ...

    @property
    def repo(self) -> str:
        """`owner/name` (GitLab: the project's full path, groups included)."""
        ...

    # --- issues -------------------------------------------------------------------------

    def get_issue(self, number: int) -> Issue: ...

    def list_issues(
        self, *, labels: Sequence[str] = (), state: str = "open", since: str | None = None
    ) -> list[Issue] | None:
        """Issues (never pull requests) with every one of `labels`, updated since `since`;
        None when nothing changed since the last identical call (a conditional request the
        forge answered 304, which costs no rate limit)."""
        ...

    def comment(self, number: int, body: str, *, pull: bool = False) -> int:
        """Comment on issue `number` (pull request `number` with `pull`: GitLab numbers the
        two apart); the comment's id."""
        ...

    def add_labels(self, number: int, labels: Sequence[str]) -> None: ...

    def list_labels(self) -> list[str]: ...

    def close_issue(self, number: int, comment: str | None = None) -> None: ...

    # --- pull requests ------------------------------------------------------------------

    def create_pull(self, head: str, base: str, title: str, body: str = "") -> PullRequest:
        """Open a pull request of `head` into `base`; the open one, if it exists already."""
        ...

    def find_open_pull(self, head: str, base: str | None = None) -> PullRequest | None: ...

    def get_pull(self, number: int) -> PullRequest: ...

    def list_pulls(self, state: str = "open") -> list[PullRequest]: ...

    def merge_pull(self, number: int, sha: str, method: str = "merge") -> str:
        """Merge if the head is still `sha`; the merge commit."""
        ...

    def close_pull(self, number: int) -> PullRequest: ...

    def list_reviews(self, number: int) -> list[Review]: ...

    def list_review_comments(self, number: int) -> list[ReviewComment]: ...

    def list_comments(self, number: int, *, pull: bool = False) -> list[Comment]:
        """The conversation of issue `number` (pull request with `pull`), oldest first."""
        ...

    def list_check_runs(self, sha: str) -> list[CheckRun]: ...

    def post_review(
        self,
        number: int,
        sha: str,
        body: str,
        comments: Sequence[LineComment] = (),
        event: ReviewEvent = "COMMENT",
    ) -> int:
        """A review of pull request `number` at head `sha`, with comments on lines; its id."""
        ...
