"""The SQL both stores share: one transaction object with every query the services use.

Queries are written with `?` placeholders; a backend translates them once. Rows come back as
tuples and become `model` records here, so services never see a cursor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from enum import IntEnum
from typing import Any, Protocol

from gastown.model import BLOCKS, CLOSED, PARENT_CHILD, Bead, Convoy, Dependency, Event, Rig
from gastown.store.costs import CostQueries
from gastown.store.issue_links import IssueLinkQueries
from gastown.store.mail import MailQueries
from gastown.store.mayor import MayorQueries
from gastown.store.merge_requests import MergeRequestQueries
from gastown.store.projection import JsonDialect, blocked_clause
from gastown.store.rows import (
    BEAD_COLUMNS,
    CONVOY_COLUMNS,
    EVENT_COLUMNS,
    BeadFilter,
    bead_of,
    bead_params,
    convoy_of,
    event_of,
    marks,
    rig_of,
)
from gastown.store.runs import RunQueries


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...

    @property
    def rowcount(self) -> int: ...


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

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


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


_BLOCKING = (BLOCKS, PARENT_CHILD)
"""The edge types that decide whether a bead is blocked."""


class _Unsettled:
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
        for ids, types in ((self.arrived, _BLOCKING), (self.reopened_or_closed, (BLOCKS,))):
            for chunk in _chunks(sorted(ids)):
                seeds.update(
                    r[0]
                    for r in db.execute(
                        f"SELECT bead_id FROM deps WHERE depends_on_id IN ({marks(chunk)}) "
                        f"AND type IN ({marks(types)})",
                        [*chunk, *types],
                    ).fetchall()
                )
        for chunk in _chunks(sorted(self.arrived | self.reopened_or_closed)):
            parents.update(
                r[0]
                for r in db.execute(
                    f"SELECT depends_on_id FROM deps WHERE bead_id IN ({marks(chunk)}) "
                    f"AND type = '{PARENT_CHILD}'",
                    chunk,
                ).fetchall()
            )
        return seeds, parents


_CHUNK = 500
_DEEPEST = 100
"""How far up `parent-child` edges `Tx.blocked_ancestor` looks (they may form a cycle)."""


def _chunks(ids: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    """`ids` in slices small enough for one statement's parameters."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class Tx(RunQueries, MergeRequestQueries, MailQueries, MayorQueries, IssueLinkQueries, CostQueries):
    """One transaction on the ledger. Obtain it from `Store.transaction()` or `Store.reader()`.
    Queries on polecats, runs and escalations come from `RunQueries` (`store/runs.py`), on
    mail from `MailQueries` (`store/mail.py`), on the mayor's conversation from
    `MayorQueries` (`store/mayor.py`), on forge issues' beads from `IssueLinkQueries`
    (`store/issue_links.py`), on model spend from `CostQueries` (`store/costs.py`)."""

    def __init__(self, db: Executor) -> None:
        self.db = db
        self._unsettled = _Unsettled()

    def settle(self) -> None:
        """Bring the `blocked` table up to date with what this transaction wrote; the stores
        call it just before they commit. It runs last and holds `Turn.READINESS` until the
        commit, so each transaction reads what the one before it committed; and it writes no
        rows but those of `blocked`, which only the holder of that turn writes, so it never
        waits for a lock another writer holds (nor can two writers deadlock over it). A bulk
        write (an import, a town written at once) that touched a quarter of the beads or more
        redoes the whole table in one statement, far faster than bead by bead."""
        unsettled, self._unsettled = self._unsettled, _Unsettled()
        if not unsettled:
            return
        self.take_turn(Turn.READINESS)
        size = len(unsettled)
        if size > _CHUNK and size * 4 >= self.count_beads():  # a bulk write: redo them all
            self.db.execute("DELETE FROM blocked")
            self.db.execute(
                "INSERT INTO blocked (bead_id) SELECT b.id FROM beads b "
                f"WHERE {blocked_clause('b.id')}"
            )
            return
        seeds, affected = unsettled.seeds(self.db)
        for chunk in _chunks(sorted(seeds)):
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
        for chunk in _chunks(sorted(affected)):
            self.db.execute(f"DELETE FROM blocked WHERE bead_id IN ({marks(chunk)})", chunk)
            self.db.execute(
                f"INSERT INTO blocked (bead_id) SELECT b.id FROM beads b "
                f"WHERE b.id IN ({marks(chunk)}) AND {blocked_clause('b.id')}",
                chunk,
            )

    # --- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def take_turn(self, turn: Turn) -> None:
        """Wait until no other transaction holds `turn`, then hold it until this one ends."""
        if self.db.turn_sql:
            self.db.execute(self.db.turn_sql, (int(turn),))

    # --- rigs ---------------------------------------------------------------------------

    def insert_rig(self, rig: Rig) -> None:
        self.db.execute(
            "INSERT INTO rigs (name, url, branch, path, created_at, settings) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (rig.name, rig.url, rig.branch, rig.path, rig.created_at, json.dumps(rig.settings)),
        )

    def get_rig(self, name: str) -> Rig | None:
        row = self.db.execute(
            "SELECT name, url, branch, path, created_at, settings FROM rigs WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else rig_of(row)

    def list_rigs(self) -> list[Rig]:
        rows = self.db.execute(
            "SELECT name, url, branch, path, created_at, settings FROM rigs ORDER BY name"
        ).fetchall()
        return [rig_of(r) for r in rows]

    def set_rig_settings(self, name: str, settings: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE rigs SET settings = ? WHERE name = ?",
            (json.dumps(settings, sort_keys=True), name),
        )

    def delete_rig(self, name: str) -> None:
        self.db.execute("DELETE FROM rigs WHERE name = ?", (name,))

    # --- beads --------------------------------------------------------------------------

    def insert_beads(self, beads: Sequence[Bead]) -> None:
        """Write new beads with their labels and dependencies. Labels and edges go first:
        where the database keeps each bead's JSON (SQLite), it is then built once, as the
        bead's row arrives, not again for every label and edge after it."""
        self.insert_deps([d for b in beads for d in b.dependencies])
        self.db.executemany(
            "INSERT INTO labels (bead_id, label) VALUES (?, ?)",
            [(b.id, label) for b in beads for label in b.labels],
        )
        self.db.executemany(
            f"INSERT INTO beads ({BEAD_COLUMNS}) VALUES ({marks(range(21))})",
            [bead_params(b) for b in beads],
        )
        self._unsettled.arrived.update(b.id for b in beads)

    def update_bead(self, bead: Bead) -> bool:
        """Write every field of `bead` if nobody wrote it since it was read; bumps its version."""
        params = bead_params(bead)
        was = self.db.execute("SELECT status FROM beads WHERE id = ?", (bead.id,)).fetchone()
        cur = self.db.execute(
            "UPDATE beads SET title = ?, body = ?, type = ?, priority = ?, status = ?, rig = ?, "
            "assignee = ?, held = ?, slung = ?, runtime = ?, convoy_id = ?, created_at = ?, "
            "updated_at = ?, started_at = ?, closed_at = ?, close_reason = ?, created_by = ?, "
            "version = ?, extra = ?, model = ? WHERE id = ? AND version = ?",
            (*params[1:18], bead.version + 1, params[19], params[20], bead.id, bead.version),
        )
        if cur.rowcount != 1:
            return False
        bead.version += 1
        if (was[0] == CLOSED) != (bead.status == CLOSED):
            self._unsettled.reopened_or_closed.add(bead.id)
        return True

    def set_labels(self, bead_id: str, labels: Iterable[str]) -> None:
        self.db.execute("DELETE FROM labels WHERE bead_id = ?", (bead_id,))
        self.db.executemany(
            "INSERT INTO labels (bead_id, label) VALUES (?, ?)",
            [(bead_id, label) for label in sorted(set(labels))],
        )

    def get_bead(self, bead_id: str, *, lock: bool = False) -> Bead | None:
        """One bead with its labels and dependencies; `lock` holds its row until commit."""
        row = self.db.execute(
            f"SELECT {BEAD_COLUMNS} FROM beads WHERE id = ?{self.db.lock_clause if lock else ''}",
            (bead_id,),
        ).fetchone()
        if row is None:
            return None
        bead = bead_of(row)
        bead.labels = [
            r[0]
            for r in self.db.execute(
                "SELECT label FROM labels WHERE bead_id = ? ORDER BY label", (bead_id,)
            ).fetchall()
        ]
        bead.dependencies = self.deps_of(bead_id)
        return bead

    def list_beads(self, flt: BeadFilter | None = None) -> list[Bead]:
        """Beads matching the filter by priority then age, with labels and dependencies."""
        flt = flt or BeadFilter()
        where, params = flt.where()
        beads = [bead_of(r) for r in self._ordered(BEAD_COLUMNS, flt)]
        if not beads:
            return beads
        by_id = {b.id: b for b in beads}
        # Labels and edges of the same beads: named by id when a LIMIT cut the listing short
        # (the filter again would find them all), else by the filter.
        if flt.limit is not None:
            scopes = [(f" WHERE bead_id IN ({marks(c)})", list(c)) for c in _chunks(list(by_id))]
        else:
            scopes = [
                (f" WHERE bead_id IN (SELECT b.id FROM beads b{where})" if where else "", params)
            ]
        for scope, args in scopes:
            for bead_id, label in self.db.execute(
                f"SELECT bead_id, label FROM labels{scope} ORDER BY label", args
            ).fetchall():
                if (owner := by_id.get(bead_id)) is not None:
                    owner.labels.append(label)
            for r in self.db.execute(
                "SELECT bead_id, depends_on_id, type, created_at, created_by FROM deps"
                f"{scope} ORDER BY depends_on_id",
                args,
            ).fetchall():
                if (owner := by_id.get(r[0])) is not None:
                    owner.dependencies.append(Dependency(*r))
        return beads

    def bead_ids(self, flt: BeadFilter | None = None) -> list[str]:
        """The ids of the beads the filter picks, in listing order (with `ready`: the ready
        set, as the store reads it without building a record)."""
        sql, params = self.select(flt or BeadFilter(), "b.id")
        return [r[0] for r in self.db.execute(sql, params).fetchall()]

    def select(self, flt: BeadFilter, columns: str) -> tuple[str, list[Any]]:
        """`flt.select(columns)`, once the ready filter can be trusted (`require_settled`)."""
        self._trust(flt)
        return flt.select(columns)

    def _trust(self, flt: BeadFilter) -> None:
        if flt.ready or flt.blocked:
            self.require_settled()

    def require_settled(self) -> None:
        """Refuse to read the ready set where this transaction has written what changes it:
        `blocked` catches up only as the transaction commits."""
        if self._unsettled:
            raise RuntimeError(
                "The ready set cannot be read in a transaction that has changed it; "
                "read it before the change or after the commit."
            )

    def beads_json(self, flt: BeadFilter | None = None) -> str:
        """`[b.to_json() for b in list_beads(flt)]` as JSON text, built by the database."""
        rows = self._ordered(self.db.json.bead(), flt or BeadFilter())
        return "[" + ",".join([r[0] for r in rows]) + "]"

    def _ordered(self, columns: str, flt: BeadFilter) -> list[Any]:
        """Rows of `columns` for the beads `flt` picks, by priority, then age, then id."""
        sql, params = self.select(flt, columns)
        return self.db.execute(sql, params).fetchall()

    def count_by_status(self, rig: str | None = None) -> dict[str, int]:
        where = " WHERE rig = ?" if rig is not None else ""
        rows = self.db.execute(
            f"SELECT status, COUNT(*) FROM beads{where} GROUP BY status",
            (rig,) if rig is not None else (),
        ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def count(self, flt: BeadFilter) -> int:
        """How many beads the filter picks (its limit aside)."""
        self._trust(flt)
        where, params = flt.where()
        return int(self.db.execute(f"SELECT COUNT(*) FROM beads b{where}", params).fetchone()[0])

    def count_beads(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM beads").fetchone()[0])

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids):
            found.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT id FROM beads WHERE id IN ({marks(chunk)}) "
                    f"UNION SELECT id FROM convoys WHERE id IN ({marks(chunk)})",
                    [*chunk, *chunk],
                ).fetchall()
            )
        return found

    def ids_starting(self, prefix: str, limit: int = 5) -> list[str]:
        """Bead ids beginning with `prefix`, taken literally and case-sensitively (LIKE would
        read `_` and `%` as wildcards, and SQLite's LIKE ignores case)."""
        rows = self.db.execute(
            "SELECT id FROM beads WHERE SUBSTR(id, 1, ?) = ? ORDER BY id LIMIT ?",
            (len(prefix), prefix, limit),
        ).fetchall()
        return [r[0] for r in rows]

    def next_child(self, parent_id: str) -> int:
        """The next child number of `parent_id` (1, 2, ...); its counter row stays locked until
        commit. One upsert, so two first children cannot both insert the counter."""
        self.db.execute(
            "INSERT INTO child_counters (parent_id, last_child) VALUES (?, 1) "
            "ON CONFLICT (parent_id) DO UPDATE SET last_child = child_counters.last_child + 1",
            (parent_id,),
        )
        row = self.db.execute(
            "SELECT last_child FROM child_counters WHERE parent_id = ?", (parent_id,)
        ).fetchone()
        return int(row[0])

    def claim(self, bead_id: str, assignee: str, now: str) -> bool:
        """Compare-and-swap: open and unassigned → in_progress, held by `assignee`."""
        cur = self.db.execute(
            "UPDATE beads SET status = 'in_progress', assignee = ?, updated_at = ?, "
            "started_at = COALESCE(started_at, ?), version = version + 1 "
            "WHERE id = ? AND status = 'open' AND held = 0 "
            "AND (assignee IS NULL OR assignee = '' OR assignee = ?)",
            (assignee, now, now, bead_id, assignee),
        )
        return cur.rowcount == 1

    # --- dependencies -------------------------------------------------------------------

    def insert_deps(self, deps: Sequence[Dependency]) -> None:
        self.db.executemany(
            "INSERT INTO deps (bead_id, depends_on_id, type, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?)",
            [(d.bead_id, d.depends_on_id, d.type, d.created_at, d.created_by) for d in deps],
        )
        self._unsettled.rewired.update(d.bead_id for d in deps if d.type in _BLOCKING)
        self._unsettled.parents.update(d.depends_on_id for d in deps if d.type == PARENT_CHILD)

    def delete_dep(self, bead_id: str, depends_on_id: str) -> bool:
        cur = self.db.execute(
            "DELETE FROM deps WHERE bead_id = ? AND depends_on_id = ?", (bead_id, depends_on_id)
        )
        if cur.rowcount == 0:
            return False
        self._unsettled.rewired.add(bead_id)
        self._unsettled.parents.add(depends_on_id)  # if it was a child, it is one no longer
        return True

    def deps_of(self, bead_id: str) -> list[Dependency]:
        rows = self.db.execute(
            "SELECT bead_id, depends_on_id, type, created_at, created_by FROM deps "
            "WHERE bead_id = ? ORDER BY depends_on_id",
            (bead_id,),
        ).fetchall()
        return [Dependency(*r) for r in rows]

    def waiting_on(self, ids: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
        """The unclosed `blocks` blockers of each bead (id, status, title), by bead, in id
        order; a bead without any is left out."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        for chunk in _chunks(ids):
            for bead_id, *blocker in self.db.execute(
                "SELECT d.bead_id, t.id, t.status, t.title FROM deps d "
                "JOIN beads t ON t.id = d.depends_on_id "
                f"WHERE d.bead_id IN ({marks(chunk)}) AND d.type = '{BLOCKS}' "
                f"AND t.status <> '{CLOSED}' ORDER BY t.id",
                chunk,
            ).fetchall():
                out.setdefault(bead_id, []).append((blocker[0], blocker[1], blocker[2]))
        return out

    def open_children(self, ids: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
        """The unclosed children of each bead through `parent-child` edges (id, status,
        title), by bead, in id order; a bead without any is left out."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        for chunk in _chunks(ids):
            for parent_id, *child in self.db.execute(
                "SELECT d.depends_on_id, k.id, k.status, k.title FROM deps d "
                "JOIN beads k ON k.id = d.bead_id "
                f"WHERE d.depends_on_id IN ({marks(chunk)}) AND d.type = '{PARENT_CHILD}' "
                f"AND k.status <> '{CLOSED}' ORDER BY k.id",
                chunk,
            ).fetchall():
                out.setdefault(parent_id, []).append((child[0], child[1], child[2]))
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

    def dependents_of(self, bead_id: str) -> list[Dependency]:
        rows = self.db.execute(
            "SELECT bead_id, depends_on_id, type, created_at, created_by FROM deps "
            "WHERE depends_on_id = ? ORDER BY bead_id",
            (bead_id,),
        ).fetchall()
        return [Dependency(*r) for r in rows]

    def edges(self, dep_type: str) -> list[tuple[str, str]]:
        rows = self.db.execute(
            "SELECT bead_id, depends_on_id FROM deps WHERE type = ?", (dep_type,)
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def statuses(self, ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in _chunks(ids):
            out.update(
                self.db.execute(
                    f"SELECT id, status FROM beads WHERE id IN ({marks(chunk)})", chunk
                ).fetchall()
            )
        return out

    # --- convoys ------------------------------------------------------------------------

    def insert_convoy(self, c: Convoy) -> None:
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
        found = self._convoys("WHERE id = ?", (convoy_id,), lock)
        return found[0] if found else None

    def list_convoys(self, rig: str | None = None, status: str | None = None) -> list[Convoy]:
        clauses, params = [], []
        if rig is not None:
            clauses.append("rig = ?")
            params.append(rig)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        return self._convoys(("WHERE " + " AND ".join(clauses)) if clauses else "", params)

    # --- events -------------------------------------------------------------------------

    def append_events(self, events: Sequence[Event]) -> None:
        self.db.executemany(
            "INSERT INTO events (at, actor, kind, bead_id, convoy_id, rig, before_json, "
            "after_json, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e.at,
                    e.actor,
                    e.kind,
                    e.bead_id,
                    e.convoy_id,
                    e.rig,
                    None if e.before is None else json.dumps(e.before, sort_keys=True),
                    None if e.after is None else json.dumps(e.after, sort_keys=True),
                    e.reason,
                )
                for e in events
            ],
        )

    def list_events(
        self,
        *,
        bead_id: str | None = None,
        convoy_id: str | None = None,
        rig: str | None = None,
        kind: str | None = None,
        after_id: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        """Events matching every filter given, oldest first unless `newest_first`. `kind` is
        matched exactly, or as a prefix when it ends in `*` (`bead.*`)."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("bead_id", bead_id), ("convoy_id", convoy_id), ("rig", rig)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if kind is not None and kind.endswith("*"):  # `bead.*`: every kind with that start
            stem = kind.rstrip("*")
            clauses.append("SUBSTR(kind, 1, ?) = ?")
            params.extend((len(stem), stem))
        elif kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        if after_id is not None:
            clauses.append("id > ?")
            params.append(after_id)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        order = "DESC" if newest_first else "ASC"
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = self.db.execute(
            f"SELECT {EVENT_COLUMNS} FROM events{where} ORDER BY id {order}{tail}", params
        ).fetchall()
        return [event_of(r) for r in rows]

    def raise_child_counter(self, parent_id: str, last_child: int) -> None:
        """Number the next child of `parent_id` after `last_child` (children may be imported)."""
        self.db.execute(
            "INSERT INTO child_counters (parent_id, last_child) VALUES (?, ?) "
            "ON CONFLICT (parent_id) DO UPDATE SET last_child = excluded.last_child "
            "WHERE child_counters.last_child < excluded.last_child",
            (parent_id, last_child),
        )
