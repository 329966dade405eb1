"""Reviewing any pull (merge) request, people's included: `gt review URL`, and the review of
people's pull requests as they come and change (`review.human_prs`).

    find       the rig whose repository the address names (`github.repo` / `gitlab.repo`,
               else the rig's URL), and its forge
    fetch      the pull request's head into the rig's clone, from the forge's own ref
               (`refs/pull/N/head`, GitLab's `refs/merge-requests/N/head`)
    review     the rig's reviewer, the refinery's own, on the whole change; or, when an earlier
               head was reviewed and is still in the history, on what changed since
    post       a first-pass review: comments on lines the diff shows, REQUEST_CHANGES or
               COMMENT; APPROVE only when the caller says so
    remember   the head reviewed (`meta` key `review.pr.<rig>.<number>`) and a `pr.reviewed`
               event, written only once the forge took the review
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gastown import config
from gastown.errors import Conflict, NotFound
from gastown.forge.base import Forge, PullRequest
from gastown.forge.select import require
from gastown.git import merge as gm
from gastown.git import worktree as wt
from gastown.git.repo import git
from gastown.model import Rig
from gastown.record import Record, field
from gastown.refinery.review import Reviewer, ReviewFailed, ReviewRequest, Verdict, spend_row
from gastown.refinery.review_out import compose
from gastown.sections import sections
from gastown.services import rigs
from gastown.services.ledger import Ledger
from gastown.town import Town

ReviewerFor = Callable[[config.Resolved], Reviewer]


class Reviewed(Record):
    """What one review of a pull request found and posted."""

    rig: str
    number: int
    url: str
    head: str
    decision: str
    """`approve` or `changes`."""
    summary: str
    event: str
    """The review's event on the forge: COMMENT, REQUEST_CHANGES or APPROVE."""
    review_id: int
    line_comments: int
    folded_comments: int
    since: str | None = None
    """The head reviewed before, when only what changed since was reviewed."""
    comments: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__fields__}


def review_url(
    ledger: Ledger,
    town: Town,
    environ: Mapping[str, str],
    url: str,
    reviewer_for: ReviewerFor,
    *,
    approve_ok: bool = False,
) -> Reviewed:
    """`gt review URL`: review the pull request and post the review."""
    rig, settings, ref = rigs.of_pull(ledger, town, environ, url)
    forge = require(settings, rig, environ)
    pull = forge.get_pull(ref.number)
    if pull.state != "open":
        what = "merged" if pull.merged else "closed"
        raise Conflict(f"Pull request #{pull.number} on {forge.repo} is {what}; nothing to review.")
    return review(ledger, town, rig, settings, forge, pull, reviewer_for, approve_ok=approve_ok)


def review(
    ledger: Ledger,
    town: Town,
    rig: Rig,
    settings: config.Resolved,
    forge: Forge,
    pull: PullRequest,
    reviewer_for: ReviewerFor,
    *,
    approve_ok: bool = False,
) -> Reviewed:
    """Review `pull` at its head and post it; only the new commits when an earlier head of
    it was reviewed and is still in its history."""
    clone = (town.path / rig.path).resolve()
    head = fetch_head(clone, forge, pull)
    whole, cut = gm.diff(clone, f"refs/remotes/origin/{pull.base_ref}", head)
    before = last_reviewed(ledger, rig.name, pull.number)
    since = None
    text = whole
    if before and before != head and gm.rev(clone, before) and gm.is_ancestor(clone, before, head):
        since = before
        text, cut = _two_dot(clone, before, head)
    body = pull.body
    if since:
        body += (
            f"\n\n(A re-review: the diff shows only what changed since {since[:12]}, the head "
            "reviewed before.)"
        )
    request = ReviewRequest(
        f"Pull request #{pull.number}: {pull.title}",
        body.strip(),
        pull.head_ref,
        pull.base_ref,
        text,
        cut,
        sections(settings).refinery.custom_instructions,
        clone=clone,
        head=head,
        logs=town.path / "logs" / "review" / rig.name / str(pull.number) / head[:12],
    )
    try:
        verdict = reviewer_for(settings).review(request)
    except ReviewFailed as exc:
        if exc.spent is not None:
            charge(ledger, rig.name, exc.spent)
        raise
    charge(ledger, rig.name, verdict)
    composed = compose(
        verdict.decision, verdict.summary, verdict.comments, whole, approve_ok=approve_ok
    )
    review_id = forge.post_review(
        pull.number, head, composed.body, composed.comments, composed.event
    )
    done = Reviewed(
        rig=rig.name,
        number=pull.number,
        url=pull.url,
        head=head,
        decision=verdict.decision,
        summary=verdict.summary,
        event=composed.event,
        review_id=review_id,
        line_comments=len(composed.comments),
        folded_comments=len(verdict.comments) - len(composed.comments),
        since=since,
        comments=verdict.comments,
    )
    remember(ledger, done)
    return done


def charge(ledger: Ledger, rig: str, spent: Verdict) -> None:
    """Keep what a review of a pull request spent, as the reviewer's on its rig (the pull
    request is no bead of the town's)."""
    with ledger.store.transaction() as tx:
        tx.insert_spend(spend_row(spent, ledger.now(), rig=rig))


def fetch_head(clone: Path, forge: Forge, pull: PullRequest) -> str:
    """Fetch the target and the pull request's head (from the forge's own ref for it) into
    the clone; the head commit."""
    source = (
        f"refs/merge-requests/{pull.number}/head"
        if forge.kind == "gitlab"
        else f"refs/pull/{pull.number}/head"
    )
    local = f"refs/gastown/review/{pull.number}"
    with wt.clone_lock(clone):
        wt.fetch(clone)
        git("fetch", "--quiet", "origin", f"+{source}:{local}", cwd=clone, timeout=600)
    head = gm.rev(clone, local)
    if head is None:  # git said nothing and fetched nothing: not worth a guess
        raise NotFound(f"The head of pull request #{pull.number} could not be fetched.")
    return head


def _two_dot(clone: Path, older: str, newer: str, limit: int = 60_000) -> tuple[str, bool]:
    text = git("diff", "--no-color", "--no-ext-diff", f"{older}..{newer}", cwd=clone).out
    return (text[:limit], True) if len(text) > limit else (text, False)


def _key(rig: str, number: int) -> str:
    return f"review.pr.{rig}.{number}"


def last_reviewed(ledger: Ledger, rig: str, number: int) -> str | None:
    """The head of pull request `number` reviewed last, if any."""
    with ledger.store.reader() as tx:
        raw = tx.get_meta(_key(rig, number))
    return str(json.loads(raw)["head"]) if raw else None


def remember(ledger: Ledger, done: Reviewed) -> None:
    """The head reviewed, for the next review to start from, and the event saying so."""
    with ledger.store.transaction() as tx:
        tx.set_meta(_key(done.rig, done.number), json.dumps({"head": done.head}))
        ledger.record_event(
            tx,
            "pr.reviewed",
            rig=done.rig,
            after={
                "pr": done.number,
                "url": done.url,
                "head": done.head,
                "since": done.since,
                "verdict": done.decision,
                "event": done.event,
                "review": done.review_id,
            },
            reason=done.summary,
        )
