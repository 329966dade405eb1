"""SQLite backend: one file in the town, WAL mode, writers serialized by BEGIN IMMEDIATE.

Two things the shared schema does not say. Each bead's JSON is kept in its row (`beads.doc`,
see `projection`): when the store is opened, the column, the view and triggers that keep it,
and the docs themselves are made to match this gt's `projection.doc_schema`, so a gt that
builds the JSON differently builds them all again, without a migration. And the planner
picks its indexes well only with statistics (reading statuses by `id` from an index rather
than from the rows, when a transaction works out which beads are blocked), so a handle that
wrote runs ANALYZE as it closes once the town has doubled in beads since the last time.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gastown.errors import RuntimeFailure
from gastown.store import unstorable
from gastown.store.migrate import apply_pending, current_version, needs_migration
from gastown.store.projection import JsonDialect, SqliteJson, doc_schema, rebuild_docs
from gastown.store.spend_days import PREFIX as DAYS_PREFIX
from gastown.store.spend_days import day_schema, keep_days
from gastown.store.sql import Executor, Tx

BUSY_TIMEOUT_MS = 30_000
SERIAL = "INTEGER PRIMARY KEY AUTOINCREMENT"
MMAP_BYTES = 1 << 28
"""Read the file through memory mapping, up to this size: a whole-town listing reads every
page of the beads, and copying each one through read() costs a third of reading them."""
ANALYZED_TABLES = ("beads", "deps", "labels")
"""What the listings' plans depend on; other tables (events grow large) are left alone."""
ANALYZE_FROM = 100
"""Fewer beads than this are read fast whatever the plan: no statistics are kept for them."""


class _Executor:
    json: JsonDialect = SqliteJson()
    lock_clause = ""  # BEGIN IMMEDIATE already holds the write lock
    day_totals = True  # `spend_days`
    turn_sql = ""  # and so every writer already takes its turn

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except (OverflowError, UnicodeEncodeError) as exc:  # a value SQLite cannot hold
            raise unstorable(exc) from None

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except (OverflowError, UnicodeEncodeError) as exc:
            raise unstorable(exc) from None


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.writes = 0
        self._closed = False
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise RuntimeFailure(f"Cannot open the town database {path}: {exc}.") from exc
        self.db = _Executor(self.conn)
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise RuntimeFailure(f"Cannot open the town database {path}: {exc}.") from exc
        except BaseException:
            self.conn.close()
            raise

    def _prepare(self) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        migrate = needs_migration(
            lambda: current_version(self.db), self.url, sqlite3.OperationalError
        )
        if migrate or _derived(self.db) != (doc_schema(), day_schema()):
            self._use_wal()
            with self.transaction() as tx:
                apply_pending(tx.db, SERIAL, self.url)
                _keep_docs(tx.db)
                keep_days(tx.db, _derived(tx.db)[1])

    def _use_wal(self) -> None:
        """Switch the file to WAL. SQLite may answer BUSY at once here, without waiting out the
        busy timeout (when several processes open a new town together), so wait here."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A transaction that writes, taking the write lock first (BEGIN IMMEDIATE); it
        settles `blocked` and commits when the block ends (rolls back if it raises)."""
        self._begin("BEGIN IMMEDIATE")
        try:
            tx = Tx(self.db)
            yield tx
            tx.settle()
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        self.writes += 1

    @contextmanager
    def reader(self) -> Iterator[Tx]:
        """A consistent view of the ledger at one moment, for reading; it blocks no writer."""
        self._begin("BEGIN")
        try:
            yield Tx(self.db)
        finally:
            self.conn.execute("COMMIT")

    def _begin(self, statement: str) -> None:
        try:
            self.conn.execute(statement)
        except sqlite3.OperationalError as exc:
            raise RuntimeFailure(f"The town database {self.path} is unavailable: {exc}.") from exc

    def wake_others(self) -> None:
        """Nothing: a SQLite town is one process, woken by `townrun.wake`."""

    def close(self) -> None:
        """Close the handle (again: a no-op); one that wrote first brings the planner's
        statistics up to date if the town has doubled in beads since they were gathered."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.writes and _statistics_stale(self.db):
                with self.transaction() as tx:
                    if _statistics_stale(tx.db):  # nobody else did it meanwhile
                        _analyze(tx.db)
        finally:
            self.conn.close()


def _derived(db: Executor) -> tuple[dict[str, str], dict[str, str]]:
    """What the database has of `projection.doc_schema` and of `spend_days.day_schema`, by
    name: one read of the catalogue at each open."""
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE substr(name, 1, 8) = 'bead_doc' "
        f"OR substr(name, 1, {len(DAYS_PREFIX)}) = '{DAYS_PREFIX}' ORDER BY rowid"
    ).fetchall()
    docs = {name: sql for name, sql in rows if name.startswith("bead_doc")}
    return docs, {name: sql for name, sql in rows if name.startswith(DAYS_PREFIX)}


def _doc_schema(db: Executor) -> dict[str, str]:
    """The view and triggers of `projection.doc_schema` the database has, by name."""
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE substr(name, 1, 8) = 'bead_doc' ORDER BY rowid"
    ).fetchall()
    return dict(rows)


def _keep_docs(db: Executor) -> None:
    """Give `beads` its `doc` column and this gt's `projection.doc_schema`, and build every
    doc again, unless the database has that schema already (then its docs are current)."""
    have, want = _doc_schema(db), doc_schema()
    if have == want:
        return
    if "doc" not in [row[1] for row in db.execute("PRAGMA table_info(beads)").fetchall()]:
        db.execute("ALTER TABLE beads ADD COLUMN doc TEXT")
    for name, sql in reversed(have.items()):
        db.execute(f"DROP {sql.split()[1]} {name}")  # CREATE VIEW x ..., CREATE TRIGGER y ...
    for create in want.values():
        db.execute(create)
    db.execute(rebuild_docs())


def _statistics_stale(db: Executor) -> bool:
    """Whether the town has at least `ANALYZE_FROM` beads and twice as many as at the last
    ANALYZE (beads are never deleted, so the largest rowid counts them)."""
    beads, analyzed = db.execute(
        "SELECT (SELECT MAX(rowid) FROM beads), "
        "(SELECT value FROM meta WHERE key = 'analyzed_beads')"
    ).fetchone()
    return (beads or 0) >= max(ANALYZE_FROM, 2 * int(analyzed or 0))


def _analyze(db: Executor) -> None:
    for table in ANALYZED_TABLES:
        db.execute(f"ANALYZE {table}")
    beads = db.execute("SELECT MAX(rowid) FROM beads").fetchone()[0]
    Tx(db).set_meta("analyzed_beads", str(beads))
