"""PostgreSQL backend: for teams and several machines. Row locks (`FOR UPDATE`) serialize
writers per record; an advisory lock serializes migrations."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
import psycopg.errors

from gastown.errors import RuntimeFailure
from gastown.store import redact, unstorable
from gastown.store.migrate import apply_pending, current_version, needs_migration
from gastown.store.projection import JsonDialect, PostgresJson
from gastown.store.sql import Tx

MIGRATION_LOCK = 0x6761_7374  # "gast"
TURN_LOCKS = MIGRATION_LOCK  # first key of the two-key advisory locks, a separate key space
WAKE_CHANNEL = "gastown_wake"
"""The NOTIFY channel a town's leader listens on; the payload is the town's schema, since
towns in separate schemas of one database share the channel."""


@lru_cache(maxsize=512)
def _translate(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _Executor:
    json: JsonDialect = PostgresJson()
    lock_clause = " FOR UPDATE"
    day_totals = False  # no `spend_days`: roll-ups sum the runs
    turn_sql = f"SELECT pg_advisory_xact_lock({TURN_LOCKS}, ?)"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        try:
            return self.conn.execute(_translate(sql), params)
        except (psycopg.DataError, UnicodeEncodeError) as exc:  # a value PostgreSQL refuses
            raise unstorable(exc) from None

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)
        if batch:
            with self.conn.cursor() as cur:
                try:
                    cur.executemany(_translate(sql), batch)
                except (psycopg.DataError, UnicodeEncodeError) as exc:
                    raise unstorable(exc) from None


class PostgresStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.writes = 0
        shown = redact(url)
        try:
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
            raise RuntimeFailure(f"Cannot connect to PostgreSQL at {shown}: {reason}.") from exc
        self.db = _Executor(self.conn)
        try:
            if needs_migration(self._version, shown, psycopg.errors.UndefinedTable):
                with self.transaction() as tx:
                    tx.db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
                    apply_pending(tx.db, "BIGSERIAL PRIMARY KEY", shown)
        except BaseException:
            self.conn.close()
            raise

    def _version(self) -> int:
        with self.conn.transaction():
            return current_version(self.db)

    def _connected(self) -> None:
        """Reconnect after the connection broke (PostgreSQL restarted, the network dropped):
        the transaction that found it broken failed, and the next one runs on a new one."""
        if not (self.conn.broken or self.conn.closed):
            return
        try:
            self.conn = psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
            raise RuntimeFailure(
                f"Cannot reconnect to PostgreSQL at {redact(self.url)}: {reason}."
            ) from exc
        self.db = _Executor(self.conn)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A transaction that writes; it settles `blocked` and commits when the block ends
        (rolls back if it raises)."""
        self._connected()
        with self.conn.transaction():
            tx = Tx(self.db)
            yield tx
            tx.settle()
        self.writes += 1

    @contextmanager
    def reader(self) -> Iterator[Tx]:
        """A consistent, read-only view of the ledger at one moment."""
        self._connected()
        with self.conn.transaction():
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield Tx(self.db)

    def wake_others(self) -> None:
        """NOTIFY the town's leader, wherever it runs, that the ledger changed (see
        `WAKE_CHANNEL`); never fails the caller."""
        try:
            self._connected()
            self.conn.execute(f"SELECT pg_notify('{WAKE_CHANNEL}', current_schema())")
        except (psycopg.Error, RuntimeFailure):
            pass

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
