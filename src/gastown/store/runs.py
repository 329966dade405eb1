"""The shared SQL for runs and the dispatch state of beads (`RunQueries`, a mixin of `Tx`;
polecats are in `polecats.py`, escalations in `escalations.py`).

The invariants "at most one active run per bead" and "per polecat" are partial unique
indexes (migration 3): `insert_run` is a conditional insert that the database itself
refuses, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.errors import IllegalTransition
from gastown.model import (
    RUN_TRANSITIONS,
    Run,
)
from gastown.store.projection import READY_CLAUSE
from gastown.store.rows import ACTIVE_RUNS, marks

if TYPE_CHECKING:
    from gastown.store.sql import Executor

RUN_COLUMNS = (
    "id, bead_id, polecat, rig, runtime, branch, worktree, attempt, status, pid, created_at, "
    "started_at, ended_at, last_heartbeat, exit_code, outcome, tokens_in, tokens_out, cost_usd, "
    "transcript, summary, done_at, status_text, status_at, checkpoint, checkpoint_at, "
    "cache_read_tokens, cache_write_tokens, model, cost_known, queue, host"
)
PAUSE_KEY = "dispatch.paused"
_CHECKPOINT = Run.__fields__.index("checkpoint")  # stored as JSON text
_COST_KNOWN = Run.__fields__.index("cost_known")  # stored as 0 or 1
_ACTIVE = f"status IN ({ACTIVE_RUNS})"


def run_of(row: Sequence[Any]) -> Run:
    """The run a row of `RUN_COLUMNS` holds, its checkpoint read back from JSON."""
    values = list(row)
    values[18] = float(values[18])  # a whole number of dollars may come back as an int
    values[_CHECKPOINT] = None if row[_CHECKPOINT] is None else json.loads(row[_CHECKPOINT])
    values[_COST_KNOWN] = bool(values[_COST_KNOWN])
    return Run(*values)


def _run_params(r: Run) -> tuple[Any, ...]:
    values = [getattr(r, name) for name in Run.__fields__]
    values[_CHECKPOINT] = None if r.checkpoint is None else json.dumps(r.checkpoint, sort_keys=True)
    values[_COST_KNOWN] = int(r.cost_known)
    return tuple(values)


class RunQueries:
    """Runs, and the dispatch columns of beads."""

    db: Executor

    if TYPE_CHECKING:  # from `BeadQueries`, which `Tx` also inherits

        def require_settled(self) -> None:
            """See `BeadQueries.require_settled`."""

    # --- runs ---------------------------------------------------------------------------

    def insert_run(self, run: Run) -> bool:
        """Create a run. False, and nothing written, when its bead or its polecat already has
        an active run (or its id is taken): the store's answer to a dispatch race."""
        cur = self.db.execute(
            f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({marks(Run.__fields__)}) "
            "ON CONFLICT DO NOTHING",
            _run_params(run),
        )
        return cur.rowcount == 1

    def update_run(self, run: Run, expected_status: str) -> bool:
        """Write the mutable fields of `run` if it is still `expected_status` (False if not).
        A status change must follow `RUN_TRANSITIONS`; an ended run never becomes active.
        `last_heartbeat` is left alone: only `heartbeat` writes it, so a stale record cannot
        turn the watchdog's clock back."""
        if run.status != expected_status and run.status not in RUN_TRANSITIONS[expected_status]:
            raise IllegalTransition(
                f"Run {run.id} cannot go from {expected_status} to {run.status}."
            )
        cur = self.db.execute(
            "UPDATE runs SET status = ?, pid = ?, started_at = ?, ended_at = ?, "
            "exit_code = ?, outcome = ?, tokens_in = ?, tokens_out = ?, "
            "cost_usd = ?, transcript = ?, cache_read_tokens = ?, cache_write_tokens = ?, "
            "model = ?, cost_known = ? WHERE id = ? AND status = ?",
            (
                run.status,
                run.pid,
                run.started_at,
                run.ended_at,
                run.exit_code,
                run.outcome,
                run.tokens_in,
                run.tokens_out,
                run.cost_usd,
                run.transcript,
                run.cache_read_tokens,
                run.cache_write_tokens,
                run.model,
                int(run.cost_known),
                run.id,
                expected_status,
            ),
        )
        return cur.rowcount == 1

    def mark_done(self, run_id: str, summary: str | None, at: str) -> bool:
        """Record the agent's `gt done` on an active run; False if the run is not active."""
        cur = self.db.execute(
            f"UPDATE runs SET summary = ?, done_at = ? WHERE id = ? AND {_ACTIVE}",
            (summary, at, run_id),
        )
        return cur.rowcount == 1

    def set_run_status(self, run_id: str, text: str, at: str) -> bool:
        """Keep an active run's latest `gt status` text; False if the run is not active."""
        cur = self.db.execute(
            f"UPDATE runs SET status_text = ?, status_at = ? WHERE id = ? AND {_ACTIVE}",
            (text, at, run_id),
        )
        return cur.rowcount == 1

    def set_checkpoint(self, run_id: str, data: dict[str, Any], at: str) -> bool:
        """Keep an active run's latest `gt checkpoint`; False if the run is not active."""
        cur = self.db.execute(
            f"UPDATE runs SET checkpoint = ?, checkpoint_at = ? WHERE id = ? AND {_ACTIVE}",
            (json.dumps(data, sort_keys=True), at, run_id),
        )
        return cur.rowcount == 1

    def heartbeat(self, run_id: str, at: str) -> bool:
        """Note output from an active run; False if the run has ended (or does not exist)."""
        cur = self.db.execute(
            f"UPDATE runs SET last_heartbeat = ? WHERE id = ? AND {_ACTIVE}", (at, run_id)
        )
        return cur.rowcount == 1

    def get_run(self, run_id: str, *, lock: bool = False) -> Run | None:
        """One run; `lock` holds its row until commit."""
        row = self.db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?{self.db.lock_clause if lock else ''}",
            (run_id,),
        ).fetchone()
        return None if row is None else run_of(row)

    def list_runs(
        self,
        *,
        bead_id: str | None = None,
        rig: str | None = None,
        polecat: str | None = None,
        statuses: Sequence[str] | None = None,
        ended_since: str | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        """Runs matching every filter given, oldest first."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("bead_id", bead_id), ("rig", rig), ("polecat", polecat)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if statuses is not None:
            clauses.append(f"status IN ({marks(statuses)})" if statuses else "1 = 0")
            params.extend(statuses)
        if ended_since is not None:
            clauses.append("ended_at >= ?")
            params.append(ended_since)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = self.db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs{where} ORDER BY created_at, id{tail}", params
        ).fetchall()
        return [run_of(r) for r in rows]

    # --- dispatch state of beads --------------------------------------------------------

    def set_dispatch(self, bead_id: str, attempts: int, not_before: str | None = None) -> None:
        """Record how many times a bead was dispatched, and the earliest time it may be again
        (None: no hold-off beyond the backoff policy). Untouched by `update_bead`."""
        self.db.execute(
            "UPDATE beads SET dispatch_attempts = ?, not_before = ? WHERE id = ?",
            (attempts, not_before, bead_id),
        )

    def get_dispatch(self, bead_id: str) -> tuple[int, str | None] | None:
        """The bead's dispatch attempts so far and when it may next be tried (None:
        now), or None when there is no such bead."""
        row = self.db.execute(
            "SELECT dispatch_attempts, not_before FROM beads WHERE id = ?", (bead_id,)
        ).fetchone()
        return None if row is None else (int(row[0]), row[1])

    def retry_waits(self, rig: str | None = None) -> list[tuple[Any, ...]]:
        """Open beads (on `rig`, or all) that were dispatched before or carry a `not_before`:
        the ones whose next attempt may still be to come. Each row: id, rig,
        dispatch_attempts, not_before, and when its last run ended (None if none has)."""
        where, params = ("AND b.rig = ?", [rig]) if rig is not None else ("", [])
        return self.db.execute(
            "SELECT b.id, b.rig, b.dispatch_attempts, b.not_before, "
            "(SELECT MAX(r.ended_at) FROM runs r WHERE r.bead_id = b.id) FROM beads b "
            "WHERE b.status = 'open' AND b.rig IS NOT NULL "
            f"AND (b.dispatch_attempts > 0 OR b.not_before IS NOT NULL) {where}",
            params,
        ).fetchall()

    def dispatch_candidates(self) -> list[tuple[Any, ...]]:
        """Ready, slung beads that have a rig and no active run, by priority then age. Each
        row: id, rig, priority, created_at, dispatch_attempts, not_before, runtime, convoy_id,
        and when its last run ended (None if it never ran)."""
        self.require_settled()
        return self.db.execute(
            "SELECT b.id, b.rig, b.priority, b.created_at, b.dispatch_attempts, b.not_before, "
            "b.runtime, b.convoy_id, (SELECT MAX(r.ended_at) FROM runs r WHERE r.bead_id = b.id) "
            "FROM beads b WHERE b.slung = 1 AND b.rig IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM runs a WHERE a.bead_id = b.id AND a.{_ACTIVE}) "
            f"AND {READY_CLAUSE} ORDER BY b.priority, b.created_at, b.id"
        ).fetchall()

    def get_pause(self) -> dict[str, Any] | None:
        """Why dispatch is paused town-wide (`{"since", "reason", "by"}`), or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (PAUSE_KEY,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def set_pause(self, pause: dict[str, Any] | None) -> None:
        """Pause dispatch with this record of who and why, or resume it (None)."""
        if pause is None:
            self.db.execute("DELETE FROM meta WHERE key = ?", (PAUSE_KEY,))
            return
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (PAUSE_KEY, json.dumps(pause, sort_keys=True)),
        )
