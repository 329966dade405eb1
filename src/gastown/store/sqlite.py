"""SQLite backend: one file in the town, WAL mode, writers serialized by BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gastown.errors import RuntimeFailure
from gastown.store.migrate import apply_pending, current_version, needs_migration
from gastown.store.sql import Tx

BUSY_TIMEOUT_MS = 30_000


class _Executor:
    lock_clause = ""  # BEGIN IMMEDIATE already holds the write lock

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
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise RuntimeFailure(f"Cannot open the town database {path}: {exc}.") from exc
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.db = _Executor(self.conn)
        if needs_migration(lambda: current_version(self.db), self.url, sqlite3.OperationalError):
            self.conn.execute("PRAGMA journal_mode = WAL")
            with self.transaction() as tx:
                apply_pending(tx.db, "INTEGER PRIMARY KEY AUTOINCREMENT", self.url)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        self._begin("BEGIN IMMEDIATE")
        try:
            yield Tx(self.db)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

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
