"""Merge requests for people: the queue, one merge request in full, and queueing a held one
again; and a rework run's finish queueing its merge request again (`rework_done`), which the
polecat and the refinery both meet. The refinery's own writes go through
`gastown.refinery.outcome`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gastown.errors import Conflict, InvalidValue, NotFound
from gastown.model import (
    CLOSED,
    MR_DONE,
    MR_FAILED,
    MR_HELD,
    MR_OPEN,
    MR_REWORK,
    MR_STATUSES,
    Bead,
    Event,
    MergeRequest,
)
from gastown.services import beads
from gastown.services.ledger import Ledger, on_merge_request
from gastown.store import Tx

LIVE = tuple(s for s in MR_STATUSES if s not in MR_DONE)


def resolve(tx: Tx, text: str) -> MergeRequest:
    """A merge request by id, or by an unambiguous start of one (`mr-3f` for `mr-3f9a01c2`)."""
    found = tx.get_merge_request(text)
    if found is not None:
        return found
    ids = tx.find_merge_requests(text if text.startswith("mr-") else f"mr-{text}")
    if len(ids) == 1:
        mr = tx.get_merge_request(ids[0])
        assert mr is not None
        return mr
    if ids:
        raise InvalidValue(f"'{text}' matches several merge requests: {', '.join(ids)}.")
    raise NotFound(f"There is no merge request '{text}'.", hint="`gt mq --all` lists them.")


def queue(
    ledger: Ledger, rig: str | None = None, *, everything: bool = False
) -> list[dict[str, Any]]:
    """Merge requests not yet merged or failed (all of them with `everything`), in the order
    the refinery takes them (priority, then age), as the queue shows them."""
    with ledger.store.reader() as tx:
        if rig is not None and tx.get_rig(rig) is None:
            raise NotFound(f"There is no rig '{rig}'.", hint="`gt rig list` shows the town's rigs.")
        found = tx.list_merge_requests(rig=rig, statuses=None if everything else LIVE)
        found.sort(key=lambda m: (m.done, m.priority, m.created_at, m.id))
        titles = {}
        for mr in found:
            bead = tx.get_bead(mr.bead_id) if mr.bead_id else None
            convoy = tx.get_convoy(mr.convoy_id) if mr.convoy_id and bead is None else None
            titles[mr.id] = (
                bead.title if bead else f"Land: {convoy.title}" if convoy else mr.summary or ""
            )
    return [{**summary(m), "title": titles[m.id]} for m in found]


def show(ledger: Ledger, text: str) -> tuple[MergeRequest, list[Event]]:
    """One merge request and its events (each refinery step, with its reason)."""
    with ledger.store.reader() as tx:
        mr = resolve(tx, text)
        events = [
            e
            for e in tx.list_events(
                bead_id=mr.bead_id,
                convoy_id=None if mr.bead_id else mr.convoy_id,
                rig=mr.rig,
                kind="mr.*",
            )
            if (e.after or {}).get("mr") == mr.id
        ]
    return mr, events


def gate_log(town_path: Path, mr: MergeRequest, index: int) -> str:
    """The full output of the merge request's `index`-th gate (1-based) in its last run."""
    if not 1 <= index <= len(mr.gates):
        raise InvalidValue(f"Merge request {mr.id} has {len(mr.gates)} gate result(s).")
    path = Path(str(mr.gates[index - 1].get("log", "")))
    if not path.is_absolute():
        path = town_path / path
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return str(mr.gates[index - 1].get("log_tail", ""))


def retry(ledger: Ledger, text: str) -> MergeRequest:
    """Queue a held (or failed) merge request again, its attempts counted afresh."""
    with ledger.store.transaction() as tx:
        mr = resolve(tx, text)
        current = tx.get_merge_request(mr.id, lock=True)
        assert current is not None
        if current.status not in (MR_HELD, MR_FAILED):
            raise Conflict(
                f"Merge request {mr.id} is {current.status}; only a held or failed one is retried."
            )
        before = current.status
        current.status, current.attempts, current.updated_at = MR_OPEN, 0, ledger.now()
        current.note = f"queued again by {ledger.actor}"
        tx.update_merge_request(current)
        ledger.record_event(
            tx,
            "mr.requeued",
            **on_merge_request(current),
            before={"status": before},
            after={"mr": current.id, "status": MR_OPEN},
            reason=current.note,
        )
        return current


def summary(mr: MergeRequest) -> dict[str, Any]:
    """What the queue shows of a merge request."""
    gates = mr.gates
    return {
        "id": mr.id,
        "status": mr.status,
        "bead_id": mr.bead_id,
        "convoy_id": mr.convoy_id,
        "kind": mr.kind,
        "branch": mr.branch,
        "target": mr.target,
        "priority": mr.priority,
        "gates": "-"
        if not gates
        else f"{sum(1 for g in gates if g.get('ok'))}/{len(gates)} passed",
        "verdict": mr.verdict,
        "pr_url": mr.pr_url,
        "note": mr.note,
    }


def rework_done(ledger: Ledger, tx: Tx, bead: Bead, head: str, run_id: str) -> bool:
    """Inside a run's finish: if `bead` is a rework bead, its merge request takes the new
    head and queues again, and the bead closes (or, with an open child, waits for it to
    close). False when it is not a rework bead."""
    waiting = tx.list_merge_requests(rework_bead_id=bead.id, status=MR_REWORK)
    if not waiting:
        return False
    for mr in waiting:
        mr.head_commit, mr.status, mr.updated_at = head, MR_OPEN, ledger.now()
        mr.note = f"reworked by run {run_id} ({bead.id}); queued again"
        tx.update_merge_request(mr)
        ledger.record_event(
            tx,
            "mr.requeued",
            **on_merge_request(mr),
            after={"mr": mr.id, "status": mr.status, "head": head},
            reason=mr.note,
        )
    if bead.status != CLOSED:
        beads.close_or_wait(ledger, tx, bead, f"reworked at {head[:10]}")
    return True
