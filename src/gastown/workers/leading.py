"""Which town process leads a PostgreSQL town.

The leader holds a session-level advisory lock on a connection of its own. The lock lives as
long as that connection: when the leader's process dies, PostgreSQL drops the connection and
the lock with it, and a standby's next try (every second) takes it. A leader that finds its
connection broken (PostgreSQL restarted, the network cut) tries to take the lock again at once;
if another process got it first, this one is no longer the leader and must stop leading.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import psycopg

from gastown.store.postgres import WAKE_CHANNEL

LEADER_LOCK = 0x6761_7376
"""The advisory lock the leader holds, with the town's schema as its second key: towns kept
in separate schemas of one database each have a leader."""
TRY_EVERY = 1.0
"""Seconds between a standby's tries to lead."""


class Leadership:
    """This process's claim on leading the town."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.conn: psycopg.Connection[Any] | None = None
        self.leading = False

    def try_lead(self) -> bool:
        """Take the lock if it is free; whether this process leads now."""
        try:
            if self.conn is None or self.conn.closed or self.conn.broken:
                self._close()
                self.conn = psycopg.connect(self.db_url, autocommit=True, connect_timeout=5)
            row = self.conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (LEADER_LOCK,)
            ).fetchone()
        except psycopg.Error:
            self._close()
            self.leading = False
            return False
        self.leading = bool(row and row[0])
        return self.leading

    def still_leads(self) -> bool:
        """Whether the lock is still ours: the connection answers, or, broken, it could be
        taken again before anyone else took it."""
        if not self.leading:
            return False
        try:
            assert self.conn is not None
            self.conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            self.leading = False
            return self.try_lead()

    def release(self) -> None:
        """Let the lock go (a clean stop: a standby leads at its next try)."""
        self._close()
        self.leading = False

    def _close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
        self.conn = None


async def listen_for_wakes(db_url: str, woke: Callable[[], None]) -> None:
    """Call `woke` whenever a process on any host says the town's ledger changed (a worker's
    run ended, a command from another host's folder); reconnects until cancelled."""
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
            async with conn:
                found = await (await conn.execute("SELECT current_schema()")).fetchone()
                schema = str(found[0]) if found else ""
                await conn.execute(f"LISTEN {WAKE_CHANNEL}")
                async for note in conn.notifies():
                    if note.payload == schema:
                        woke()
        except psycopg.Error:
            await asyncio.sleep(TRY_EVERY)  # PostgreSQL restarting: listen again once it answers
