"""The SQL both stores share: one transaction object, `Tx`, with every query the services use.

Queries are written with `?` placeholders; a backend translates them once. Rows come back as
tuples and become `model` records, so services never see a cursor. `Tx` is composed of one
query mixin per noun, each in its own module:

    rigs.py            RigQueries            the repositories a town works on
    beads.py           BeadQueries           beads, their labels, listings, claims
    dependencies.py    DependencyQueries     edges between beads (BeadQueries builds on it)
    convoys.py         ConvoyQueries         beads that land together
    events.py          EventQueries          the append-only history
    polecats.py        PolecatQueries        the town's named coding agents
    runs.py            RunQueries            runs, and the dispatch state of beads
    escalations.py     EscalationQueries     what a person must look at
    merge_requests.py  MergeRequestQueries   the refinery's queue
    mail.py            MailQueries           mail between polecats, the mayor and the town
    mayor.py           MayorQueries          the mayor's conversation
    issue_links.py     IssueLinkQueries      forge issues' beads
    costs.py           CostQueries           model spend

What stays here is what every query shares: the backend's `Executor`, the `Turn`s writers
take, the `meta` table, and `settle`, which keeps the `blocked` table true as a transaction
commits (`blocked.py` holds what it reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import IntEnum
from typing import Any, Protocol

from gastown.model import PARENT_CHILD
from gastown.store.beads import BeadQueries
from gastown.store.blocked import Unsettled
from gastown.store.convoys import ConvoyQueries
from gastown.store.costs import CostQueries
from gastown.store.escalations import EscalationQueries
from gastown.store.events import EventQueries
from gastown.store.issue_links import IssueLinkQueries
from gastown.store.mail import MailQueries
from gastown.store.mayor import MayorQueries
from gastown.store.merge_requests import MergeRequestQueries
from gastown.store.polecats import PolecatQueries
from gastown.store.projection import JsonDialect, blocked_clause
from gastown.store.rigs import RigQueries
from gastown.store.rows import CHUNK, chunks, marks
from gastown.store.runs import RunQueries


class Cursor(Protocol):
    """What a statement gives back: its rows, and how many rows it changed."""

    def fetchone(self) -> Any:
        """The next row, or None when there are no more."""
        ...

    def fetchall(self) -> list[Any]:
        """Every row left."""
        ...

    @property
    def rowcount(self) -> int:
        """How many rows the statement changed."""
        ...


class Executor(Protocol):
    """What a backend lends the shared SQL: run one statement, or one per row."""

    lock_clause: str
    """Appended to a SELECT that must lock its rows until commit (empty where writers are
    already serialized, as in SQLite's BEGIN IMMEDIATE)."""

    turn_sql: str
    """A statement that waits for, then holds until commit, the lock on one `Turn` (its
    number is the one parameter); empty where writers are already serialized."""

    json: JsonDialect
    """How this database builds JSON (for the projections in `projection`)."""

    day_totals: bool
    """Whether the database keeps each day's run spend per rig (`spend_days`, SQLite)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement written with `?` placeholders."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters."""
        ...


class Turn(IntEnum):
    """Checks that read many rows and then write: writers making the same check take turns
    (`Tx.take_turn`), since no row lock covers rows that are not there yet."""

    NEW_IDS = 1
    """Choosing ids for new beads and convoys: two writers must not both pick a free id."""
    BLOCKS = 2
    """Adding a `blocks` edge: two edges, each checked without the other, may close a cycle."""
    READINESS = 3
    """Bringing the `blocked` table up to date (`Tx.settle`): whether a bead is blocked is
    read from other beads, which other writers may be changing."""


class Tx(
    RigQueries,
    BeadQueries,
    ConvoyQueries,
    EventQueries,
    PolecatQueries,
    RunQueries,
    EscalationQueries,
    MergeRequestQueries,
    MailQueries,
    MayorQueries,
    IssueLinkQueries,
    CostQueries,
):
    """One transaction on the ledger. Obtain it from `Store.transaction()` or `Store.reader()`.
    Its queries come from one mixin per noun (see this module's docstring)."""

    def __init__(self, db: Executor) -> None:
        self.db = db
        self._unsettled = Unsettled()

    def settle(self) -> None:
        """Bring the `blocked` table up to date with what this transaction wrote; the stores
        call it just before they commit. It runs last and holds `Turn.READINESS` until the
        commit, so each transaction reads what the one before it committed; and it writes no
        rows but those of `blocked`, which only the holder of that turn writes, so it never
        waits for a lock another writer holds (nor can two writers deadlock over it). A bulk
        write (an import, a town written at once) that touched a quarter of the beads or more
        redoes the whole table in one statement, far faster than bead by bead."""
        unsettled, self._unsettled = self._unsettled, Unsettled()
        if not unsettled:
            return
        self.take_turn(Turn.READINESS)
        size = len(unsettled)
        if size > CHUNK and size * 4 >= self.count_beads():  # a bulk write: redo them all
            self.db.execute("DELETE FROM blocked")
            self.db.execute(
                "INSERT INTO blocked (bead_id) SELECT b.id FROM beads b "
                f"WHERE {blocked_clause('b.id')}"
            )
            return
        seeds, affected = unsettled.seeds(self.db)
        for chunk in chunks(sorted(seeds)):
            affected.update(
                r[0]
                for r in self.db.execute(
                    "WITH RECURSIVE down(id) AS ("
                    f"SELECT id FROM beads WHERE id IN ({marks(chunk)}) "
                    "UNION SELECT d.bead_id FROM deps d JOIN down ON d.depends_on_id = down.id "
                    f"WHERE d.type = '{PARENT_CHILD}') SELECT id FROM down",
                    chunk,
                ).fetchall()
            )
        for chunk in chunks(sorted(affected)):
            self.db.execute(f"DELETE FROM blocked WHERE bead_id IN ({marks(chunk)})", chunk)
            self.db.execute(
                f"INSERT INTO blocked (bead_id) SELECT b.id FROM beads b "
                f"WHERE b.id IN ({marks(chunk)}) AND {blocked_clause('b.id')}",
                chunk,
            )

    # --- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """The town-wide value kept under `key`, or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Keep `value` under `key`, replacing what was there."""
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def take_turn(self, turn: Turn) -> None:
        """Wait until no other transaction holds `turn`, then hold it until this one ends."""
        if self.db.turn_sql:
            self.db.execute(self.db.turn_sql, (int(turn),))
