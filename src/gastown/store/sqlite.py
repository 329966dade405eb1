"""SQLite backend: one file in the town, WAL mode, writers serialized by BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gastown.errors import RuntimeFailure
from gastown.store.migrate import apply_pending, current_version, needs_migration
from gastown.store.projection import JsonDialect, SqliteJson
from gastown.store.sql import Tx

BUSY_TIMEOUT_MS = 30_000


class _Executor:
    json: JsonDialect = SqliteJson()
    lock_clause = ""  # BEGIN IMMEDIATE already holds the write lock
    turn_sql = ""  # and so every writer already takes its turn

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.writes = 0
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
        if needs_migration(lambda: current_version(self.db), self.url, sqlite3.OperationalError):
            self._use_wal()
            with self.transaction() as tx:
                apply_pending(tx.db, "INTEGER PRIMARY KEY AUTOINCREMENT", self.url)

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
        self._begin("BEGIN IMMEDIATE")
        try:
            yield Tx(self.db)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        self.writes += 1

    @contextmanager
    def reader(self) -> Iterator[Tx]:
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

    def close(self) -> None:
        self.conn.close()
