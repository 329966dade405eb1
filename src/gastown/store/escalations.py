"""The shared SQL for escalations: what a person must look at (`EscalationQueries`, a mixin
of `Tx`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.model import Escalation

if TYPE_CHECKING:
    from gastown.store.sql import Executor

ESCALATION_COLUMNS = (
    "id, severity, message, created_at, bead_id, run_id, rig, acknowledged_at, acknowledged_by"
)


def escalation_of(row: Sequence[Any]) -> Escalation:
    """The escalation a row of `ESCALATION_COLUMNS` holds."""
    return Escalation(*row)


class EscalationQueries:
    """Escalations: raise one, list them, read one, acknowledge one."""

    db: Executor

    def insert_escalation(self, e: Escalation) -> int:
        """Raise an escalation; returns its id (the one on `e` is ignored)."""
        row = self.db.execute(
            "INSERT INTO escalations (severity, message, created_at, bead_id, run_id, rig, "
            "acknowledged_at, acknowledged_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                e.severity,
                e.message,
                e.created_at,
                e.bead_id,
                e.run_id,
                e.rig,
                e.acknowledged_at,
                e.acknowledged_by,
            ),
        ).fetchone()
        return int(row[0])

    def list_escalations(
        self, *, open_only: bool = False, bead_id: str | None = None
    ) -> list[Escalation]:
        """Escalations oldest first: only the unacknowledged, only one bead's, if asked."""
        clauses = ["acknowledged_at IS NULL"] if open_only else []
        params: list[Any] = []
        if bead_id is not None:
            clauses.append("bead_id = ?")
            params.append(bead_id)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.db.execute(
            f"SELECT {ESCALATION_COLUMNS} FROM escalations{where} ORDER BY id", params
        ).fetchall()
        return [escalation_of(r) for r in rows]

    def get_escalation(self, escalation_id: int) -> Escalation | None:
        """The escalation with this id, or None."""
        row = self.db.execute(
            f"SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = ?", (escalation_id,)
        ).fetchone()
        return None if row is None else escalation_of(row)

    def acknowledge_escalation(self, escalation_id: int, at: str, by: str) -> bool:
        """Acknowledge an open escalation; False if it is already acknowledged or unknown."""
        cur = self.db.execute(
            "UPDATE escalations SET acknowledged_at = ?, acknowledged_by = ? "
            "WHERE id = ? AND acknowledged_at IS NULL",
            (at, by, escalation_id),
        )
        return cur.rowcount == 1
