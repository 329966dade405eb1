"""The shared SQL for beads: write them, read them back with their labels and edges, list and
count them by filter, and the compare-and-swap writes (an update, a claim).

`BeadQueries` is a mixin of `Tx`; it builds on `DependencyQueries`, since a bead is written and
read together with its edges. The ready and blocked filters read the `blocked` table, which
catches up only as a transaction commits (`Tx.settle`), so a transaction that changed it may
not read them (`require_settled`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gastown.model import CLOSED, Bead, Dependency
from gastown.store.dependencies import DEP_COLUMNS, DependencyQueries
from gastown.store.rows import BEAD_COLUMNS, BeadFilter, bead_of, bead_params, chunks, marks


class BeadQueries(DependencyQueries):
    """Beads: insert, read, list, count, and the writes that must not lose a race."""

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
        """Replace the bead's labels with `labels`, kept as a sorted set."""
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
            scopes = [(f" WHERE bead_id IN ({marks(c)})", list(c)) for c in chunks(list(by_id))]
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
                f"SELECT {DEP_COLUMNS} FROM deps{scope} ORDER BY depends_on_id", args
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
        """How many beads have each status (in one rig, if given); absent statuses are left out."""
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
        """How many beads the town has."""
        return int(self.db.execute("SELECT COUNT(*) FROM beads").fetchone()[0])

    def statuses(self, ids: Sequence[str]) -> dict[str, str]:
        """The status of each of `ids` that exists, by id."""
        out: dict[str, str] = {}
        for chunk in chunks(ids):
            out.update(
                self.db.execute(
                    f"SELECT id, status FROM beads WHERE id IN ({marks(chunk)})", chunk
                ).fetchall()
            )
        return out

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Those of `ids` already taken by a bead or a convoy."""
        found: set[str] = set()
        for chunk in chunks(ids):
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

    def raise_child_counter(self, parent_id: str, last_child: int) -> None:
        """Number the next child of `parent_id` after `last_child` (children may be imported)."""
        self.db.execute(
            "INSERT INTO child_counters (parent_id, last_child) VALUES (?, ?) "
            "ON CONFLICT (parent_id) DO UPDATE SET last_child = excluded.last_child "
            "WHERE child_counters.last_child < excluded.last_child",
            (parent_id, last_child),
        )

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
