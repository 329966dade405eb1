"""The town at a glance, for `gt status`, the HTTP API and the mayor: one read of what is
working, what is stuck and what waits for a person."""

from __future__ import annotations

from typing import Any

from gastown.model import (
    ACTIVE_RUN_STATUSES,
    MR_HELD,
    MR_REWORK,
    Bead,
    Escalation,
    MergeRequest,
    Run,
)
from gastown.record import Record, field
from gastown.services.ledger import Ledger
from gastown.store import BeadFilter


class Summary(Record):
    beads: dict[str, int]
    """Beads by status."""
    ready: int = 0
    """Beads ready for work (`gt ready`)."""
    blocked: int = 0
    """Unfinished beads waiting on others (`gt blocked`)."""
    active_runs: list[Run] = field(default_factory=list)
    """Runs queued, starting or running."""
    failed: list[Bead] = field(default_factory=list)
    """The most recently failed beads (at most the limit asked for)."""
    escalations: list[Escalation] = field(default_factory=list)
    """Open ones."""
    paused: dict[str, Any] | None = None
    """Why dispatch is paused, when it is."""
    rigs_paused: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Rigs paused on their own (`gt pause --rig`), by name."""
    merge_queue: dict[str, int] = field(default_factory=dict)
    """Merge requests not yet merged or failed, by state."""
    stuck: list[MergeRequest] = field(default_factory=list)
    """Merge requests held for a person or waiting for rework."""


def summary(ledger: Ledger, failed_limit: int = 20) -> Summary:
    """The town at a glance, as `gt status` shows it."""
    from gastown.services.deps import UNFINISHED
    from gastown.services.merge_requests import LIVE
    from gastown.store import controls

    with ledger.store.reader() as tx:
        found = Summary(
            beads=tx.count_by_status(),
            ready=tx.count(BeadFilter(ready=True)),
            blocked=tx.count(BeadFilter(blocked=True, statuses=UNFINISHED)),
            active_runs=tx.list_runs(statuses=ACTIVE_RUN_STATUSES),
            failed=tx.list_beads(BeadFilter(statuses=["failed"], limit=failed_limit)),
            escalations=tx.list_escalations(open_only=True),
            paused=tx.get_pause(),
            rigs_paused={k: v for k, v in controls.pauses(tx).items() if k},
        )
        for mr in tx.list_merge_requests(statuses=LIVE):
            found.merge_queue[mr.status] = found.merge_queue.get(mr.status, 0) + 1
            if mr.status in (MR_HELD, MR_REWORK):
                found.stuck.append(mr)
    return found
