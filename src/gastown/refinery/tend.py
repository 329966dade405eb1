"""Tending the queue at the start of a step: what changed while the refinery was away.

Rework that closed queues its merge request again (failed rework holds it); a merge request
left `testing` by a step that died is taken again; one whose bead a person closed or reopened
ends; a review-then-land convoy whose beads are all in gets its landing merge request; open
pull requests are followed.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gastown.git import merge as gm
from gastown.model import (
    CLOSED,
    CONVOY_OPEN,
    FAILED,
    IN_REVIEW,
    MR_BEAD,
    MR_FAILED,
    MR_LANDING,
    MR_MERGED,
    MR_OPEN,
    MR_PR,
    MR_REWORK,
    MR_TESTING,
    REVIEW_THEN_LAND,
    Convoy,
    MergeRequest,
)
from gastown.refinery import outcome
from gastown.services.convoys import feature_branch
from gastown.store import BeadFilter

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep


def tend(step: RigStep) -> None:
    with step.ledger.store.reader() as tx:
        mine = tx.list_merge_requests(
            rig=step.rig.name, statuses=(MR_OPEN, MR_REWORK, MR_PR, MR_TESTING)
        )
        rework = {
            m.id: tx.get_bead(m.rework_bead_id)
            for m in mine
            if m.status == MR_REWORK and m.rework_bead_id
        }
        sources = {
            m.id: tx.get_bead(m.bead_id)
            for m in mine
            if m.status == MR_OPEN and m.kind == MR_BEAD and m.bead_id
        }
        convoys = [
            c
            for c in tx.list_convoys(rig=step.rig.name, status=CONVOY_OPEN)
            if c.merge_mode == REVIEW_THEN_LAND and c.total and c.closed == c.total
        ]
    for mr in mine:
        if mr.status == MR_TESTING:  # this step holds the rig: whoever took it is gone
            outcome.requeue(step.ledger, mr, "the refinery step that took it stopped")
            step.progress.changed = True
            continue
        bead = rework.get(mr.id)
        if bead is not None and bead.status == CLOSED:
            outcome.requeue(step.ledger, mr, f"its rework {bead.id} closed")
            step.progress.changed = True
        elif bead is not None and bead.status == FAILED:
            outcome.hold(step.ledger, mr, f"its rework {bead.id} failed.", "high")
            step.progress.held.append(mr.id)
        source = sources.get(mr.id)
        if source is not None and source.status != IN_REVIEW:
            outcome.fail(step.ledger, mr, f"its bead {source.id} is {source.status}")
            step.progress.changed = True
    for convoy in convoys:
        with step.ledger.store.reader() as tx:
            theirs = tx.list_merge_requests(convoy_id=convoy.id)
        land_convoy(step, convoy, theirs)
    if any(m.status == MR_PR for m in mine):
        from gastown.refinery import pr

        pr.follow_all(step, [m for m in mine if m.status == MR_PR])


def land_convoy(step: RigStep, convoy: Convoy, mrs: Sequence[MergeRequest]) -> None:
    """Every bead of a review-then-land convoy is in: its feature branch goes to the
    target as one landing merge request (none needed when nothing landed on it)."""
    landing = [m for m in mrs if m.kind == MR_LANDING and m.status != MR_FAILED]
    if landing or not any(m.status == MR_MERGED for m in mrs):
        return
    branch = feature_branch(convoy)
    step.fetch()
    head = gm.rev(step.clone, f"refs/remotes/origin/{branch}") or gm.rev(
        step.clone, f"refs/heads/{branch}"
    )
    target = step.target_commit(step.rig.branch)
    if head is None:
        return
    with step.ledger.store.transaction() as tx:
        now = step.ledger.now()
        priorities = [
            b.priority for b in tx.list_beads(BeadFilter(convoy_id=convoy.id, limit=None))
        ]
        mr = MergeRequest(
            id=f"mr-{secrets.token_hex(4)}",
            bead_id=None,
            run_id=None,
            rig=step.rig.name,
            branch=branch,
            target=step.rig.branch,
            base_commit=gm.merge_base(step.clone, target, head),
            head_commit=head,
            summary=f"Land convoy {convoy.id}: {convoy.title}",
            created_at=now,
            updated_at=now,
            kind=MR_LANDING,
            convoy_id=convoy.id,
            priority=min(priorities, default=2),
        )
        tx.insert_merge_request(mr)
        step.ledger.record_event(
            tx,
            "mr.created",
            at=now,
            convoy_id=convoy.id,
            rig=step.rig.name,
            after={"mr": mr.id, "branch": branch, "target": mr.target},
            reason=f"every bead of convoy {convoy.id} is in: land {branch}",
        )
    step.progress.changed = True
