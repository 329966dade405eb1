"""The shared SQL for convoys: a set of beads that lands together, read back with how many of
its beads there are and how many are closed (`ConvoyQueries`, a mixin of `Tx`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.model import Convoy
from gastown.store.rows import CONVOY_COLUMNS, convoy_of, marks

if TYPE_CHECKING:
    from gastown.store.sql import Executor


class ConvoyQueries:
    """Convoys: insert, update, read one, list by rig and status."""

    db: Executor

    def insert_convoy(self, c: Convoy) -> None:
        """Write a new convoy (its beads name it through `convoy_id`)."""
        self.db.execute(
            f"INSERT INTO convoys ({CONVOY_COLUMNS}) VALUES ({marks(range(12))})",
            (
                c.id,
                c.title,
                c.rig,
                c.status,
                int(c.staged),
                c.merge_mode,
                c.created_at,
                c.updated_at,
                c.landed_at,
                c.close_reason,
                c.created_by,
                c.cancelled_at,
            ),
        )

    def update_convoy(self, c: Convoy) -> None:
        """Write back the fields of a convoy that change after it is made."""
        self.db.execute(
            "UPDATE convoys SET title = ?, status = ?, staged = ?, merge_mode = ?, "
            "updated_at = ?, landed_at = ?, cancelled_at = ?, close_reason = ? WHERE id = ?",
            (
                c.title,
                c.status,
                int(c.staged),
                c.merge_mode,
                c.updated_at,
                c.landed_at,
                c.cancelled_at,
                c.close_reason,
                c.id,
            ),
        )

    def _convoys(self, where: str, params: Sequence[Any], lock: bool = False) -> list[Convoy]:
        rows = self.db.execute(
            f"SELECT {CONVOY_COLUMNS} FROM convoys {where} ORDER BY created_at, id"
            f"{self.db.lock_clause if lock else ''}",
            params,
        ).fetchall()
        convoys = [convoy_of(r) for r in rows]
        if convoys:
            ids = [c.id for c in convoys]
            counts = {
                r[0]: (int(r[1]), int(r[2] or 0))
                for r in self.db.execute(
                    "SELECT convoy_id, COUNT(*), "
                    "SUM(CASE WHEN status = 'closed' THEN 1 ELSE 0 END) "
                    f"FROM beads WHERE convoy_id IN ({marks(ids)}) GROUP BY convoy_id",
                    ids,
                ).fetchall()
            }
            for c in convoys:
                c.total, c.closed = counts.get(c.id, (0, 0))
        return convoys

    def get_convoy(self, convoy_id: str, *, lock: bool = False) -> Convoy | None:
        """One convoy with its progress; `lock` holds its row until commit."""
        found = self._convoys("WHERE id = ?", (convoy_id,), lock)
        return found[0] if found else None

    def list_convoys(self, rig: str | None = None, status: str | None = None) -> list[Convoy]:
        """Convoys oldest first, in one rig and with one status if given."""
        clauses, params = [], []
        if rig is not None:
            clauses.append("rig = ?")
            params.append(rig)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        return self._convoys(("WHERE " + " AND ".join(clauses)) if clauses else "", params)
