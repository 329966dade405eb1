"""The shared SQL for dependencies: the edges between beads (`blocks`, `parent-child`,
`related`), and what they say about who waits on whom.

`DependencyQueries` is a mixin of `Tx`. Adding or removing an edge notes the beads whose
readiness may change, for `Tx.settle` to bring the `blocked` table up to date.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gastown.model import BLOCKS, CLOSED, PARENT_CHILD, Dependency
from gastown.store.blocked import BLOCKING, Unsettled
from gastown.store.rows import chunks, marks

if TYPE_CHECKING:
    from gastown.store.sql import Executor

DEP_COLUMNS = "bead_id, depends_on_id, type, created_at, created_by"
_DEEPEST = 100
"""How far up `parent-child` edges `blocked_ancestor` looks (they may form a cycle)."""


class DependencyQueries:
    """Edges between beads: add, remove, and read them either way."""

    db: Executor
    _unsettled: Unsettled

    def insert_deps(self, deps: Sequence[Dependency]) -> None:
        """Add edges (the beads on both ends must exist)."""
        self.db.executemany(
            f"INSERT INTO deps ({DEP_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            [(d.bead_id, d.depends_on_id, d.type, d.created_at, d.created_by) for d in deps],
        )
        self._unsettled.rewired.update(d.bead_id for d in deps if d.type in BLOCKING)
        self._unsettled.parents.update(d.depends_on_id for d in deps if d.type == PARENT_CHILD)

    def delete_dep(self, bead_id: str, depends_on_id: str) -> bool:
        """Remove the edge from `bead_id` to `depends_on_id`; False if there was none."""
        cur = self.db.execute(
            "DELETE FROM deps WHERE bead_id = ? AND depends_on_id = ?", (bead_id, depends_on_id)
        )
        if cur.rowcount == 0:
            return False
        self._unsettled.rewired.add(bead_id)
        self._unsettled.parents.add(depends_on_id)  # if it was a child, it is one no longer
        return True

    def deps_of(self, bead_id: str) -> list[Dependency]:
        """The edges out of `bead_id` (what it depends on), by the other end's id."""
        rows = self.db.execute(
            f"SELECT {DEP_COLUMNS} FROM deps WHERE bead_id = ? ORDER BY depends_on_id",
            (bead_id,),
        ).fetchall()
        return [Dependency(*r) for r in rows]

    def dependents_of(self, bead_id: str) -> list[Dependency]:
        """The edges into `bead_id` (what depends on it), by the other end's id."""
        rows = self.db.execute(
            f"SELECT {DEP_COLUMNS} FROM deps WHERE depends_on_id = ? ORDER BY bead_id",
            (bead_id,),
        ).fetchall()
        return [Dependency(*r) for r in rows]

    def edges(self, dep_type: str) -> list[tuple[str, str]]:
        """Every edge of one type, as (bead, depends on) pairs."""
        rows = self.db.execute(
            "SELECT bead_id, depends_on_id FROM deps WHERE type = ?", (dep_type,)
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def waiting_on(self, ids: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
        """The unclosed `blocks` blockers of each bead (id, status, title), by bead, in id
        order; a bead without any is left out."""
        return self._unclosed(ids, "bead_id", "depends_on_id", BLOCKS)

    def open_children(self, ids: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
        """The unclosed children of each bead through `parent-child` edges (id, status,
        title), by bead, in id order; a bead without any is left out."""
        return self._unclosed(ids, "depends_on_id", "bead_id", PARENT_CHILD)

    def _unclosed(
        self, ids: Sequence[str], near: str, far: str, dep_type: str
    ) -> dict[str, list[tuple[str, str, str]]]:
        """For each of `ids` at the `near` end of a `dep_type` edge, the unclosed beads at its
        `far` end (id, status, title), in id order."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        for chunk in chunks(ids):
            for bead_id, *other in self.db.execute(
                f"SELECT d.{near}, o.id, o.status, o.title FROM deps d "
                f"JOIN beads o ON o.id = d.{far} "
                f"WHERE d.{near} IN ({marks(chunk)}) AND d.type = '{dep_type}' "
                f"AND o.status <> '{CLOSED}' ORDER BY o.id",
                chunk,
            ).fetchall():
                out.setdefault(bead_id, []).append((other[0], other[1], other[2]))
        return out

    def blocked_ancestor(self, bead_id: str) -> str | None:
        """The nearest ancestor through `parent-child` edges that has an unclosed `blocks`
        blocker (what blocks a bead that has none of its own), or None."""
        row = self.db.execute(
            "WITH RECURSIVE up(id, depth) AS ("
            f"SELECT depends_on_id, 1 FROM deps WHERE bead_id = ? AND type = '{PARENT_CHILD}' "
            "UNION SELECT p.depends_on_id, up.depth + 1 FROM deps p JOIN up ON p.bead_id = up.id "
            f"WHERE p.type = '{PARENT_CHILD}' AND up.depth < {_DEEPEST}) "
            "SELECT up.id FROM up WHERE EXISTS (SELECT 1 FROM deps d JOIN beads t "
            f"ON t.id = d.depends_on_id WHERE d.bead_id = up.id AND d.type = '{BLOCKS}' "
            f"AND t.status <> '{CLOSED}') ORDER BY up.depth, up.id LIMIT 1",
            (bead_id,),
        ).fetchone()
        return None if row is None else str(row[0])
