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

from gastown.errors import RuntimeFailure, UserError
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


class ForgeDown(RuntimeFailure):
    """The forge answered a request with a server error (5xx): its failure, not the asker's,
    so a runtime failure; the next poll or sweep tries again."""

    code = "forge_down"

    def __init__(self, message: str, *, status: int, detail: str = "") -> None:
        super().__init__(message)
        self.status: int | None = status
        """The HTTP status the forge answered with (500 and up)."""
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
    """Its title."""
    body: str
    """Its description (empty when it has none)."""
    state: Literal["open", "closed"]
    """Whether it is open or closed."""
    url: str
    """The page people open."""
    labels: list[str] = field(default_factory=list)
    """Its labels' names."""
    author: str = ""
    """The login of who opened it."""
    updated_at: str = ""
    """When it last changed (RFC 3339), as the forge says."""


class PullRequest(Record):
    """One pull request (GitLab: merge request) as the forge reports it now."""

    number: int
    """GitHub's pull request number; GitLab's merge request iid."""
    url: str
    """The page people open, not the API address."""
    state: Literal["open", "closed"]
    """A merged pull request is `closed` with `merged` set."""
    merged: bool
    """Whether it was merged."""
    mergeable: bool | None
    """None while the forge is still computing it."""
    mergeable_state: str
    """`clean`, `dirty` (conflicts), `blocked`, `behind`, `unstable`, `unknown`, ..."""
    head_ref: str
    """The branch it brings in."""
    head_sha: str
    """The commit at the tip of `head_ref`; merging names it so a later push is not merged."""
    base_ref: str
    """The branch it goes into."""
    title: str
    """Its title."""
    body: str = ""
    """Its description."""
    author: str = ""
    """The login of who opened it."""
    draft: bool = False
    """Whether it is marked as a draft."""


class Review(Record):
    """One submitted review (GitLab: an approval, or a discussion opened by a reviewer)."""

    id: int
    """The forge's id of the review."""
    state: str
    """`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`."""
    body: str
    """What the reviewer wrote with it (may be empty)."""
    user: str
    """The reviewer's login."""
    submitted_at: str | None
    """When it was submitted (None while pending)."""
    commit_id: str | None
    """The head commit the review was made against."""


class ReviewComment(Record):
    """A comment on a line of the diff."""

    id: int
    """The forge's id of the comment."""
    path: str
    """The file it is on."""
    line: int | None
    """None when the comment is on a line the current diff no longer shows."""
    body: str
    """What it says."""
    user: str
    """Its author's login."""
    created_at: str
    """When it was written (RFC 3339)."""


class Comment(Record):
    """A comment on the conversation of an issue or pull request, not tied to a line."""

    id: int
    """The forge's id of the comment."""
    body: str
    """What it says."""
    user: str
    """Its author's login."""
    created_at: str
    """When it was written (RFC 3339)."""


class CheckRun(Record):
    """One CI check on one commit (GitLab: a pipeline job)."""

    id: int
    """The forge's id of the check (GitLab: the job's)."""
    name: str
    """The check's name, as the forge shows it."""
    status: str
    """`queued`, `in_progress` or `completed`."""
    conclusion: str | None
    """Set once completed: `success`, `failure`, `neutral`, `cancelled`, `skipped`, ..."""
    head_sha: str
    """The commit it checks."""


class LineComment(Record):
    """A comment to post on one line of a pull request's new version."""

    path: str
    """The file, as the diff names it."""
    line: int
    """The line in the new version."""
    body: str
    """What to say there."""


class Forge(Protocol):
    """One repository on one forge."""

    # Read-only, so an adapter may narrow them (`kind: Literal["gitlab"]`).
    @property
    def kind(self) -> ForgeKind:
        """Which forge this is: `github` or `gitlab`."""
        ...

    @property
    def repo(self) -> str:
        """`owner/name` (GitLab: the project's full path, groups included)."""
        ...

    # --- issues -------------------------------------------------------------------------

    def get_issue(self, number: int) -> Issue:
        """Issue `number` as it is now."""
        ...

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

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        """Add these labels to issue (or pull request) `number`; those it has stay."""
        ...

    def list_labels(self) -> list[str]:
        """The names of the repository's labels."""
        ...

    def close_issue(self, number: int, comment: str | None = None) -> None:
        """Close issue `number`, first commenting `comment` when given."""
        ...

    # --- pull requests ------------------------------------------------------------------

    def create_pull(self, head: str, base: str, title: str, body: str = "") -> PullRequest:
        """Open a pull request of `head` into `base`; the open one, if it exists already."""
        ...

    def find_open_pull(self, head: str, base: str | None = None) -> PullRequest | None:
        """The open pull request of `head` (into `base`, when given), or None."""
        ...

    def get_pull(self, number: int) -> PullRequest:
        """Pull request `number` as it is now."""
        ...

    def list_pulls(self, state: str = "open") -> list[PullRequest]:
        """The repository's pull requests in `state` (`open`, `closed` or `all`)."""
        ...

    def merge_pull(self, number: int, sha: str, method: str = "merge") -> str:
        """Merge if the head is still `sha`; the merge commit."""
        ...

    def close_pull(self, number: int) -> PullRequest:
        """Close pull request `number` without merging it; the pull request as it is then."""
        ...

    def list_reviews(self, number: int) -> list[Review]:
        """The reviews submitted on pull request `number`, oldest first."""
        ...

    def list_review_comments(self, number: int) -> list[ReviewComment]:
        """The comments on lines of pull request `number`'s diff, oldest first."""
        ...

    def list_comments(self, number: int, *, pull: bool = False) -> list[Comment]:
        """The conversation of issue `number` (pull request with `pull`), oldest first."""
        ...

    def list_check_runs(self, sha: str) -> list[CheckRun]:
        """The CI checks on commit `sha`."""
        ...

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
