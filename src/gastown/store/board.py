"""What a board card says beyond its bead, read for a whole page at once: the beads counted by
status under the board's filter, each shown bead's runs (attempts, the one at work, the last
to end) and its latest merge request. One grouped query per question, never one per card.
Plain functions over a `Tx`, so the store's classes stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.model import ACTIVE_RUN_STATUSES
from gastown.record import Record
from gastown.store.rows import ACTIVE_RUNS, BeadFilter, chunks, marks

if TYPE_CHECKING:
    from gastown.store.sql import Tx

_ACTIVE = ACTIVE_RUNS


class RunFacts(Record):
    """A bead's runs, as its card tells them."""

    attempts: int = 0
    """How many runs it has had (the one at work included)."""
    polecat: str | None = None
    """The polecat of its active run (None: nothing at work on it)."""
    runtime: str | None = None
    """That run's runtime; else the last run's."""
    model: str | None = None
    """The model that run reported, when it said."""
    started_at: str | None = None
    """When the active run started (or was queued)."""
    last_ended_at: str | None = None
    """When its latest ended run ended."""


def count_by_status(tx: Tx, flt: BeadFilter) -> dict[str, int]:
    """How many beads the filter picks in each status (its statuses and limit aside)."""
    every = {name: getattr(flt, name) for name in flt.__fields__}
    where, params = BeadFilter(**{**every, "statuses": None, "limit": None}).where()
    rows = tx.db.execute(
        f"SELECT b.status, COUNT(*) FROM beads b{where} GROUP BY b.status", params
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def run_facts(tx: Tx, ids: Sequence[str]) -> dict[str, RunFacts]:
    """Each bead's runs in brief, by bead; a bead never run is left out."""
    out: dict[str, RunFacts] = {}
    for chunk in chunks(ids):
        rows = tx.db.execute(
            "SELECT bead_id, polecat, runtime, model, status, created_at, started_at, ended_at "
            f"FROM runs WHERE bead_id IN ({marks(chunk)}) ORDER BY bead_id, created_at",
            list(chunk),
        ).fetchall()
        for bead_id, polecat, runtime, model, status, created, started, ended in rows:
            facts = out.setdefault(bead_id, RunFacts())
            facts.attempts += 1
            if status in ACTIVE_RUN_STATUSES:
                facts.polecat, facts.runtime, facts.model = polecat, runtime, model
                facts.started_at = started or created
            else:
                facts.last_ended_at = max(facts.last_ended_at or "", ended or created)
                if facts.polecat is None:
                    facts.runtime, facts.model = runtime, model
    return out


def merge_states(tx: Tx, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each bead's latest merge request (id, status, verdict, since), by bead."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in chunks(ids):
        rows = tx.db.execute(
            "SELECT bead_id, id, status, verdict, created_at, pr_url FROM merge_requests "
            f"WHERE bead_id IN ({marks(chunk)}) ORDER BY bead_id, created_at",
            list(chunk),
        ).fetchall()
        for bead_id, mr_id, status, verdict, created, pr_url in rows:
            out[bead_id] = {
                "id": mr_id,
                "status": status,
                "verdict": verdict,
                "since": created,
                "pr_url": pr_url,
            }
    return out


def known(tx: Tx, column: str, value: str) -> bool:
    """Whether any bead has this label (`column` "label") or assignee ("assignee")."""
    sql = {
        "label": "SELECT 1 FROM labels WHERE label = ? LIMIT 1",
        "assignee": "SELECT 1 FROM beads WHERE assignee = ? LIMIT 1",
    }[column]
    return tx.db.execute(sql, (value,)).fetchone() is not None
