"""What a person said on a pull request, read from its forge: the reviews, line comments and
conversation comments new since it was last read, and its failing checks. The refinery reads it
to send a pull request's merge request back for rework; `gt sling <PR URL>` reads it to write
the babysitting bead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gastown.forge.base import CheckRun, Forge, PullRequest

FAILING = frozenset({"failure", "timed_out", "cancelled", "action_required", "startup_failure"})
"""Check conclusions that count as failing."""


def feedback(
    gh: Forge, pull: PullRequest, runs: Sequence[CheckRun], state: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """What is new on the pull request since it was last handled: line comments, requested
    changes, conversation comments and failing checks, as lines for a fix-up bead; and
    `state` (what was seen, kept on the merge request) brought up to date."""
    seen_reviews = set(state.get("reviews_seen", []))
    seen_comment = int(state.get("comment_seen", 0))
    seen_issue = int(state.get("issue_comment_seen", 0))
    town = state.get("town_user") or None  # the town's own posted reviews are not feedback
    lines = []
    for review in gh.list_reviews(pull.number):
        if review.user == town:
            continue
        if review.state == "CHANGES_REQUESTED" and review.id not in seen_reviews:
            lines.append(f"- {review.user} requested changes: {review.body or '(no summary)'}")
            seen_reviews.add(review.id)
    for c in gh.list_review_comments(pull.number):
        if c.id > seen_comment and c.user != town:
            where = f"{c.path}:{c.line}" if c.line else c.path
            lines.append(f"- {where} ({c.user}): {c.body}")
            seen_comment = max(seen_comment, c.id)
    for ic in gh.list_comments(pull.number, pull=True):
        if ic.id > seen_issue and ic.user != town:
            lines.append(f"- comment by {ic.user}: {ic.body}")
            seen_issue = max(seen_issue, ic.id)
    failing = [r for r in runs if r.conclusion in FAILING]
    if failing and state.get("checks_failed_at") != pull.head_sha:
        lines.extend(f"- the check `{r.name}` ended {r.conclusion}" for r in failing)
        state["checks_failed_at"] = pull.head_sha
    state.update(
        reviews_seen=sorted(seen_reviews),
        comment_seen=seen_comment,
        issue_comment_seen=seen_issue,
    )
    return lines, state
