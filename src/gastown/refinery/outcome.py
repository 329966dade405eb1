"""What a refinery step writes to the ledger: each outcome in one transaction, with its event.

Every function re-reads the merge request under a lock and does nothing if it has meanwhile
reached an end (merged or failed), so a step that raced a person's `gt mr` command never
undoes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gastown.limits import printable
from gastown.model import (
    DISCOVERED_FROM,
    IN_PROGRESS,
    IN_REVIEW,
    MR_FAILED,
    MR_HELD,
    MR_LANDING,
    MR_MERGED,
    MR_OPEN,
    MR_REWORK,
    MR_TESTING,
    OPEN,
    Bead,
    Dependency,
    MergeRequest,
)
from gastown.services import beads, escalations
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger, on_merge_request
from gastown.store import Tx

MAX_ATTEMPTS = 3
"""Steps that end without a decision (a failing reviewer, a moving target) before a person is
asked."""


def _event(
    ledger: Ledger,
    tx: Tx,
    mr: MergeRequest,
    kind: str,
    reason: str | None,
    after: dict[str, Any] | None = None,
) -> None:
    ledger.record_event(
        tx,
        kind,
        **on_merge_request(mr),
        after={"mr": mr.id, "status": mr.status, **(after or {})},
        reason=reason,
    )


def _fresh(tx: Tx, mr: MergeRequest) -> MergeRequest | None:
    current = tx.get_merge_request(mr.id, lock=True)
    return None if current is None or current.done else current


def update(
    ledger: Ledger,
    mr: MergeRequest,
    kind: str,
    reason: str | None,
    after: dict[str, Any] | None = None,
    **fields: Any,
) -> MergeRequest | None:
    """Set `fields` on the merge request and append a `kind` event; None if it has ended."""
    with ledger.store.transaction() as tx:
        current = _fresh(tx, mr)
        if current is None:
            return None
        for name, value in fields.items():
            setattr(current, name, value)
        current.updated_at = ledger.now()
        if reason is not None:
            current.note = reason
        tx.update_merge_request(current)
        _event(ledger, tx, current, kind, reason, after)
        return current


def start(ledger: Ledger, batch: Sequence[MergeRequest]) -> list[MergeRequest]:
    """Take a batch: each still-waiting merge request goes `testing`."""
    taken = []
    for mr in batch:
        got = update(
            ledger,
            mr,
            "mr.testing",
            f"taken by the refinery with {len(batch) - 1} other(s)"
            if len(batch) > 1
            else "taken by the refinery",
            status=MR_TESTING,
        )
        if got is not None:
            taken.append(got)
    return taken


def requeue(ledger: Ledger, mr: MergeRequest, reason: str, **fields: Any) -> None:
    update(ledger, mr, "mr.requeued", reason, status=MR_OPEN, **fields)


def hold(
    ledger: Ledger, mr: MergeRequest, message: str, severity: str = "medium", **fields: Any
) -> None:
    """Stop the merge request for a person: `held`, and an escalation saying why. Lines of
    `message` after its first are quoted output (git's words): they stay last, after what to
    do."""
    with ledger.store.transaction() as tx:
        current = _fresh(tx, mr)
        if current is None:
            return
        for name, value in fields.items():
            setattr(current, name, value)
        current.status, current.note, current.updated_at = MR_HELD, message, ledger.now()
        tx.update_merge_request(current)
        _event(ledger, tx, current, "mr.held", message)
        first, newline, rest = message.partition("\n")
        quoted = newline + rest
        escalations.raise_in(
            ledger,
            tx,
            severity,
            f"Merge request {mr.id} is held: {first} "
            f"`gt mr retry {mr.id}` queues it again once that is dealt with.{quoted}",
            bead_id=mr.bead_id,
            run_id=mr.run_id,
            rig=mr.rig,
        )


def fail(ledger: Ledger, mr: MergeRequest, reason: str, reopen_bead: bool = False) -> None:
    """The merge request will not land. With `reopen_bead`, its bead goes back to `open` to be
    worked again."""
    with ledger.store.transaction() as tx:
        current = _fresh(tx, mr)
        if current is None:
            return
        current.status, current.note, current.updated_at = MR_FAILED, reason, ledger.now()
        tx.update_merge_request(current)
        _event(ledger, tx, current, "mr.failed", reason)
        if reopen_bead and current.bead_id:
            bead = tx.get_bead(current.bead_id, lock=True)
            if bead is not None and bead.status == IN_REVIEW:
                beads.write(ledger, tx, bead, {"status": OPEN, "assignee": None}, reason=reason)


def send_back(
    ledger: Ledger,
    mr: MergeRequest,
    why: str,
    title: str,
    body: str,
    labels: Sequence[str],
    limit: int,
    **fields: Any,
) -> Bead | None:
    """Rework: a new bead, dispatched at once, for a polecat to work on the merge request's
    own branch; the merge request waits (`rework`) until it closes. After `limit` reworks a
    person is asked instead (the merge request is held)."""
    with ledger.store.reader() as tx:
        before = tx.get_merge_request(mr.id)
    if before is not None and before.reworks >= limit:
        held = f"{why}, after {before.reworks} rework(s) already."
        hold(ledger, mr, held[0].upper() + held[1:], "high", **fields)
        return None
    with ledger.store.transaction() as tx:
        current = _fresh(tx, mr)
        if current is None:
            return None
        source = tx.get_bead(current.bead_id) if current.bead_id else None
        spec = NewBead(  # what programs wrote (logs, comments) made fit for a bead
            title=printable(title, one_line=True)[:200],
            body=printable(body),
            type="bug" if "conflict" not in labels else "task",
            priority=current.priority,
            labels=["rework", *labels],
            rig=current.rig,
            slung=True,
        )
        (bead,) = beads.build(ledger, tx, [spec])
        if source is not None:
            bead.dependencies.append(
                Dependency(bead.id, source.id, DISCOVERED_FROM, bead.created_at, ledger.actor)
            )
        beads.insert(ledger, tx, [bead], reason=f"rework for merge request {current.id}: {why}")
        for name, value in fields.items():
            setattr(current, name, value)
        current.status, current.rework_bead_id = MR_REWORK, bead.id
        current.reworks += 1
        current.note, current.updated_at = why, ledger.now()
        tx.update_merge_request(current)
        _event(ledger, tx, current, "mr.rework", why, {"rework_bead": bead.id})
        return bead


def landed(
    ledger: Ledger, mrs: Sequence[tuple[MergeRequest, dict[str, Any]]], commit: str, how: str
) -> list[MergeRequest]:
    """The merge requests are on their target at `commit`: merged, their beads closed (their
    convoys advance, their dependents become ready), a convoy's landing lands the convoy. A
    bead that gained a child after it was dispatched does not close before that child: it
    stays `in_review`, its work landed, and closes when its last open child does."""
    done = []
    with ledger.store.transaction() as tx:
        now = ledger.now()
        for mr, fields in mrs:
            current = _fresh(tx, mr)
            if current is None:
                continue
            for name, value in fields.items():
                setattr(current, name, value)
            current.status, current.merged_commit = MR_MERGED, commit
            current.landed_at = current.updated_at = now
            current.note = f"landed on {current.target} at {commit[:10]} ({how})"
            tx.update_merge_request(current)
            _event(ledger, tx, current, "mr.merged", current.note, {"commit": commit})
            if current.bead_id:
                bead = tx.get_bead(current.bead_id, lock=True)
                if bead is not None and bead.status in (IN_REVIEW, IN_PROGRESS, OPEN):
                    beads.close_or_wait(ledger, tx, bead, current.note)
                elif bead is not None and bead.convoy_id:
                    beads.refresh_convoy(ledger, tx, bead.convoy_id)
            if current.kind == MR_LANDING and current.convoy_id:
                beads.refresh_convoy(ledger, tx, current.convoy_id)
            done.append(current)
    return done
