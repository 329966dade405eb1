"""Reviews out: a reviewer's verdict posted on a pull (merge) request as a real review.

    lines       which lines of the new version a diff shows (the only ones a forge takes a
                comment on), read from the diff's hunk headers
    compose     the verdict as a review: comments on lines the diff shows, the rest folded
                into the body; the event never approves unless the caller allows it
    post_for    the refinery's own pull request (`refinery.review_mode = comments`): posted
                as COMMENT, since a forge refuses approving or requesting changes on one's own
                change; the review's user is remembered so its comments are not taken for
                feedback to work on

`gt review` and the review of people's pull requests (`refinery.pr_review`) use `compose` too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.errors import GastownError
from gastown.forge.base import Forge, LineComment, ReviewEvent
from gastown.git import merge as gm
from gastown.model import APPROVE, MergeRequest
from gastown.record import Record, field
from gastown.refinery import outcome

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep

_FILE = re.compile(r"^\+\+\+ (?:b/)?(?P<path>.+?)\s*$")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,(?P<count>\d+))? @@")

HEADING = "Review by the Gas Town refinery"


class Composed(Record):
    """A verdict as a forge review."""

    body: str
    comments: list[LineComment] = field(default_factory=list)
    event: ReviewEvent = "COMMENT"


def lines(diff: str) -> dict[str, set[int]]:
    """Path → the lines of the new version that the diff's hunks show (added or context)."""
    shown: dict[str, set[int]] = {}
    path: str | None = None
    for text in diff.splitlines():
        if text.startswith("+++ "):
            found = _FILE.match(text)
            path = None if found is None or found["path"] == "/dev/null" else found["path"]
            continue
        hunk = _HUNK.match(text)
        if hunk is not None and path is not None:
            start, count = int(hunk["start"]), int(hunk["count"] or 1)
            shown.setdefault(path, set()).update(range(start, start + count))
    return shown


def compose(
    decision: str,
    summary: str,
    comments: Sequence[dict[str, Any]],
    diff: str,
    *,
    approve_ok: bool = False,
    heading: str = HEADING,
) -> Composed:
    """The review to post: comments on lines the diff shows go on those lines, the others
    are listed in the body. REQUEST_CHANGES for requested changes, APPROVE only with
    `approve_ok`, else COMMENT."""
    shown = lines(diff)
    on_lines: list[LineComment] = []
    folded: list[str] = []
    for c in comments:
        path, line, body = c.get("path"), c.get("line"), str(c.get("body") or "").strip()
        if not body:
            continue
        if path and isinstance(line, int) and line in shown.get(path, set()):
            on_lines.append(LineComment(path=path, line=line, body=body))
        else:
            where = f"`{path}:{line}`" if path and line else f"`{path}`" if path else "General"
            folded.append(f"- {where}: {body}")
    word = "approve" if decision == APPROVE else "changes requested"
    parts = [f"**{heading}: {word}.**", summary.strip()]
    if folded:
        parts.append("Also:\n" + "\n".join(folded))
    event: ReviewEvent = "COMMENT"
    if decision != APPROVE:
        event = "REQUEST_CHANGES"
    elif approve_ok:
        event = "APPROVE"
    return Composed(body="\n\n".join(p for p in parts if p), comments=on_lines, event=event)


def post_for(step: RigStep, mr: MergeRequest, pull_number: int, head: str) -> None:
    """Post the merge request's last review on its pull request (`refinery.review_mode =
    comments`); a forge that refuses is noted on the merge request, never a reason to stop."""
    if step.sections.refinery.review_mode != "comments" or not mr.review:
        return
    forge = step.forge()
    if forge is None:
        return
    diff, _cut = gm.diff(step.clone, f"refs/remotes/origin/{mr.target}", head)
    review = compose(
        mr.verdict or APPROVE, str(mr.review.get("summary") or ""), mr.review["comments"], diff
    )
    # The town's own change: GitHub refuses approving it or requesting changes on it.
    review.event = "COMMENT"
    try:
        posted = forge.post_review(pull_number, head, review.body, review.comments, "COMMENT")
        login = _author_of(forge, pull_number, review)
    except GastownError as exc:
        outcome.update(
            step.ledger,
            mr,
            "mr.review_posted",
            f"posting the review on pull request #{pull_number} failed: {exc}",
        )
        return
    outcome.update(
        step.ledger,
        mr,
        "mr.review_posted",
        f"review posted on pull request #{pull_number} with {len(review.comments)} line comment(s)",
        {"review": posted, "pr": pull_number},
        pr_state={**mr.pr_state, "town_user": login},
    )


def _author_of(forge: Forge, number: int, review: Composed) -> str:
    """Who the forge says wrote the review just posted (found by its words): the user the
    town acts as."""
    for c in forge.list_review_comments(number):
        if review.comments and c.body == review.comments[0].body:
            return c.user
    for r in forge.list_reviews(number):
        if r.body == review.body:
            return r.user
    for n in forge.list_comments(number, pull=True):
        if n.body == review.body:
            return n.user
    return ""
