"""A convoy's status, made from its beads' each time one of them changes status."""

from __future__ import annotations

from gastown.model import (
    CONVOY_CANCELLED,
    CONVOY_FAILED,
    CONVOY_LANDED,
    CONVOY_OPEN,
    FAILED,
    MR_BEAD,
    MR_LANDING,
    MR_MERGED,
    REVIEW_THEN_LAND,
    Convoy,
)
from gastown.services.ledger import Ledger, append
from gastown.store import BeadFilter, Tx


def refresh_convoy(ledger: Ledger, tx: Tx, convoy_id: str) -> None:
    """Recompute a convoy's status from its beads (`convoy_status`). A cancelled convoy stays
    cancelled while all its beads are closed; one of them reopened reopens it."""
    convoy = tx.get_convoy(convoy_id, lock=True)
    if convoy is None:
        return
    target = convoy_status(tx, convoy)
    if target == convoy.status:
        return
    if convoy.status == CONVOY_CANCELLED and convoy.closed == convoy.total:
        return
    now = ledger.now()
    before = convoy.status
    convoy.status = target
    convoy.updated_at = now
    convoy.landed_at = now if target == CONVOY_LANDED else None
    convoy.cancelled_at = None
    tx.update_convoy(convoy)
    append(
        tx,
        [
            ledger.event(
                f"convoy.{'reopened' if target == CONVOY_OPEN else target}",
                at=now,
                convoy_id=convoy.id,
                rig=convoy.rig,
                before={"status": before},
                after={"status": target},
                reason=f"{convoy.closed}/{convoy.total} beads closed",
            )
        ],
    )


def convoy_status(tx: Tx, convoy: Convoy) -> str:
    """What a convoy's beads make it: landed when all are closed (and, for review-then-land,
    its branch is on the target), failed when one failed, else open."""
    if convoy.total and convoy.closed == convoy.total and not _awaits_landing(tx, convoy):
        return CONVOY_LANDED
    if tx.list_beads(BeadFilter(convoy_id=convoy.id, statuses=[FAILED], limit=1)):
        return CONVOY_FAILED
    return CONVOY_OPEN


def _awaits_landing(tx: Tx, convoy: Convoy) -> bool:
    """A review-then-land convoy whose work landed on its feature branch is not landed until
    its landing merge request lands that branch on the target."""
    if convoy.merge_mode != REVIEW_THEN_LAND:
        return False
    mrs = tx.list_merge_requests(convoy_id=convoy.id)
    on_branch = any(m.kind == MR_BEAD and m.status == MR_MERGED for m in mrs)
    return on_branch and not any(m.kind == MR_LANDING and m.status == MR_MERGED for m in mrs)
