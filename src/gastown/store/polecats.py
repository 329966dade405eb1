"""The shared SQL for polecats: the town's named coding agents (`PolecatQueries`, a mixin of
`Tx`). A name is taken once: `insert_polecat` lets the database refuse a second taker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.model import Polecat
from gastown.store.rows import marks

if TYPE_CHECKING:
    from gastown.store.sql import Executor

POLECAT_COLUMNS = "name, rig, state, bead_id, run_id, worktree, created_at, updated_at"


def polecat_of(row: Sequence[Any]) -> Polecat:
    """The polecat a row of `POLECAT_COLUMNS` holds."""
    return Polecat(*row)


class PolecatQueries:
    """Polecats: name one, write it back, read one, list them."""

    db: Executor

    def insert_polecat(self, p: Polecat) -> bool:
        """Name a new polecat; False if the name is taken (two dispatchers picked it at once)."""
        cur = self.db.execute(
            f"INSERT INTO polecats ({POLECAT_COLUMNS}) VALUES ({marks(range(8))}) "
            "ON CONFLICT (name) DO NOTHING",
            tuple(getattr(p, name) for name in Polecat.__fields__),
        )
        return cur.rowcount == 1

    def update_polecat(self, p: Polecat) -> None:
        """Write back the polecat's rig, state, work and worktree (its name names it)."""
        self.db.execute(
            "UPDATE polecats SET rig = ?, state = ?, bead_id = ?, run_id = ?, worktree = ?, "
            "updated_at = ? WHERE name = ?",
            (p.rig, p.state, p.bead_id, p.run_id, p.worktree, p.updated_at, p.name),
        )

    def get_polecat(self, name: str, *, lock: bool = False) -> Polecat | None:
        """One polecat; `lock` holds its row until commit."""
        row = self.db.execute(
            f"SELECT {POLECAT_COLUMNS} FROM polecats WHERE name = ?"
            f"{self.db.lock_clause if lock else ''}",
            (name,),
        ).fetchone()
        return None if row is None else polecat_of(row)

    def list_polecats(self, rig: str | None = None) -> list[Polecat]:
        """Every polecat (of one rig, if given), by name."""
        where = " WHERE rig = ?" if rig is not None else ""
        rows = self.db.execute(
            f"SELECT {POLECAT_COLUMNS} FROM polecats{where} ORDER BY name",
            (rig,) if rig is not None else (),
        ).fetchall()
        return [polecat_of(r) for r in rows]
