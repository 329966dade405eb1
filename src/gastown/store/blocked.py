"""What a transaction wrote that may change which beads are blocked.

The `blocked` table names every bead that cannot be worked on yet (an unclosed `blocks`
blocker, or an unclosed child). Writes record here what they touched; `Tx.settle` reads it
just before the commit and brings the table up to date for those beads alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gastown.model import BLOCKS, PARENT_CHILD
from gastown.store.rows import chunks, marks

if TYPE_CHECKING:
    from gastown.store.sql import Executor

BLOCKING = (BLOCKS, PARENT_CHILD)
"""The edge types that decide whether a bead is blocked."""


class Unsettled:
    """What a transaction wrote that may change which beads are blocked (see `Tx.settle`)."""

    __slots__ = ("arrived", "parents", "reopened_or_closed", "rewired")

    def __init__(self) -> None:
        self.arrived: set[str] = set()
        """New beads: they may be the missing blocker, parent or child of beads already here."""
        self.reopened_or_closed: set[str] = set()
        """Beads whose status went to or from closed: their `blocks` dependents change, and
        so may their parents."""
        self.rewired: set[str] = set()
        """Beads that gained or lost a `blocks` or `parent-child` edge of their own."""
        self.parents: set[str] = set()
        """Beads that gained or lost a child (or may have): whether one of their children is
        unclosed changes them alone, not their descendants."""

    def __len__(self) -> int:
        return (
            len(self.arrived) + len(self.reopened_or_closed) + len(self.rewired) + len(self.parents)
        )

    def seeds(self, db: Executor) -> tuple[set[str], set[str]]:
        """The beads to check again whose descendants through `parent-child` follow them, and
        those to check again alone (the parents of beads that arrived, closed or reopened)."""
        seeds = self.arrived | self.rewired
        parents = set(self.parents)
        # Any edge onto a new bead counts (a child of it is also found by walking down).
        for ids, types in ((self.arrived, BLOCKING), (self.reopened_or_closed, (BLOCKS,))):
            for chunk in chunks(sorted(ids)):
                seeds.update(
                    r[0]
                    for r in db.execute(
                        f"SELECT bead_id FROM deps WHERE depends_on_id IN ({marks(chunk)}) "
                        f"AND type IN ({marks(types)})",
                        [*chunk, *types],
                    ).fetchall()
                )
        for chunk in chunks(sorted(self.arrived | self.reopened_or_closed)):
            parents.update(
                r[0]
                for r in db.execute(
                    f"SELECT depends_on_id FROM deps WHERE bead_id IN ({marks(chunk)}) "
                    f"AND type = '{PARENT_CHILD}'",
                    chunk,
                ).fetchall()
            )
        return seeds, parents
