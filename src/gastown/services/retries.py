"""Retries in words: when a bead that failed an attempt is tried again, and what each attempt
of a bead that ran out of them came to.

The planner waits `Attempts.ready_at` before a bead's next attempt (the backoff after its last
run, or a `not_before` a person or the budget set); `waiting` reads the same from the ledger
for many beads at once, so `gt ready`, the board and `gt bead show` say the same thing the
planner decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from gastown import config
from gastown.clock import duration, stamp
from gastown.model import Run
from gastown.reconciler.policy import Attempts
from gastown.reconciler.snapshot import ReadyBead
from gastown.sections import sections
from gastown.store import Tx

SHOWN_ATTEMPTS = 10
"""Attempts an escalation lists (the latest); a bead with more says how many it left out."""


def next_attempt(
    attempts: int, not_before: str | None, last_ended: str | None, backoff: float
) -> datetime | None:
    """When the planner would dispatch a bead again, as `Attempts.ready_at` decides (None:
    at once)."""
    bead = ReadyBead("", "", attempts=attempts, not_before=not_before, last_ended_at=last_ended)
    return Attempts.spaced(backoff).ready_at(bead)


def waiting(
    tx: Tx,
    settings: Mapping[str, Any],
    environ: Mapping[str, str],
    now: datetime,
    rig: str | None = None,
) -> dict[str, datetime]:
    """Open beads (on `rig`, or all) whose next attempt is still to come, and when it is.
    One query, of the beads that ever had an attempt or a `not_before`."""
    backoff: dict[str, float] = {}
    found: dict[str, datetime] = {}
    for bead_id, bead_rig, attempts, not_before, last_ended in tx.retry_waits(rig):
        if bead_rig not in backoff:
            found_rig = tx.get_rig(bead_rig)
            layer = found_rig.settings if found_rig is not None else None
            resolved = config.resolve(settings, layer, environ)
            backoff[bead_rig] = float(sections(resolved).polecat.retry_backoff_seconds)
        at = next_attempt(int(attempts), not_before, last_ended, backoff[bead_rig])
        if at is not None and at > now:
            found[bead_id] = at
    return found


def clock_time(at: datetime) -> str:
    """`2026-12-07 20:41 UTC`, as the town writes its times."""
    return stamp(at)[:16].replace("T", " ") + " UTC"


def words(at: datetime, now: datetime) -> str:
    """`retry at 2026-12-07 20:41 UTC (in 3 min)`."""
    return f"retry at {clock_time(at)} (in {duration((at - now).total_seconds())})"


def history(runs: Iterable[Run]) -> str:
    """Each ended attempt on a line of its own: number, outcome, reason and when it ended, the
    latest `SHOWN_ATTEMPTS` of them."""
    ended = [r for r in runs if r.ended_at]
    lines = [
        f"  attempt {r.attempt}: {r.status} ({_short(r.outcome or 'no reason recorded')}), "
        f"ended {str(r.ended_at)[:19].replace('T', ' ')} UTC, run {r.id}"
        for r in ended[-SHOWN_ATTEMPTS:]
    ]
    if len(ended) > SHOWN_ATTEMPTS:
        lines.insert(0, f"  ({len(ended) - SHOWN_ATTEMPTS} earlier attempts not shown)")
    return "\n".join(["Its attempts:", *lines]) if lines else ""


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
