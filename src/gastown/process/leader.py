"""A town process of a PostgreSQL town: lead, or stand by until the leader is gone.

Every `gt up` of the town serves its API and dashboard (reads, and the writes that go straight
to the ledger). Only the leader runs the reconciler, the refinery and the workers' watch. A
standby tries to take the leader's lock every second; when the leader's process dies the lock
goes with its connection, so a standby leads within about a second of PostgreSQL noticing.
A leader that loses its lock (its connection broke and another process took the lock first)
stops: serving on would let two processes decide.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from gastown.clock import SystemClock, stamp
from gastown.process.settings_sync import settle
from gastown.process.town_loop import TownLoop
from gastown.store import hosts
from gastown.workers.leading import TRY_EVERY, Leadership, listen_for_wakes

log = logging.getLogger("gastown.town")

BEAT_EVERY = 2.0
"""Seconds between a town process's heartbeats in `hosts`."""


class TownRole:
    """Lead or stand by, for one town process."""

    def __init__(self, loop: TownLoop, db_url: str, app_state: Any, stop: Callable[[], None]):
        self.loop, self.app_state, self.stop = loop, app_state, stop
        self.leadership = Leadership(db_url)
        self.clock = SystemClock()
        now = stamp(self.clock.now())
        self.me = hosts.Host(
            f"town@{socket.gethostname()}:{os.getpid()}",
            hosts.STANDBY,
            socket.gethostname(),
            os.getpid(),
            started_at=now,
            heartbeat_at=now,
        )
        self.reconciling: asyncio.Task[None] | None = None
        self.wakes: asyncio.Task[None] | None = None
        self.db_url = db_url

    @property
    def leading(self) -> bool:
        """Whether this process leads (runs the reconciler)."""
        return self.reconciling is not None

    async def run(self) -> None:
        """Stand by until this process can lead, then lead until it stops or loses the lock."""
        ledger = self.loop.ledger
        with ledger.store.transaction() as tx:
            hosts.register(tx, self.me, self.clock.now(), 0)
        last_beat = 0.0
        clock = asyncio.get_running_loop()
        try:
            while True:
                if self.reconciling is None:
                    if await asyncio.to_thread(self.leadership.try_lead):
                        self._lead()
                elif not await asyncio.to_thread(self.leadership.still_leads):
                    log.error("this town process lost the leader's lock; stopping")
                    self.stop()
                    return
                if clock.time() - last_beat >= BEAT_EVERY:
                    last_beat = clock.time()
                    self._beat()
                await asyncio.sleep(TRY_EVERY)
        finally:
            try:
                with ledger.store.transaction() as tx:
                    hosts.leave(tx, self.me.name, self.me.pid)
            except Exception:  # the database may be what failed
                log.warning("could not remove this town process from the hosts list")

    def _lead(self) -> None:
        log.warning("this town process leads the town")
        self.me.role = hosts.LEADER
        # Before it leads: with the town's settings, and (before it shows as leader) a folder
        # joining now, or a worker, finds them.
        settle(self.loop.ledger, self.loop.launch.town)
        with self.loop.ledger.store.transaction() as tx:  # whoever led before is gone
            hosts.forget_leaders(tx, but=self.me.name)
        self.wakes = asyncio.get_running_loop().create_task(
            listen_for_wakes(self.db_url, self.loop.wake)
        )
        self.app_state.loop = self.loop
        self.reconciling = asyncio.get_running_loop().create_task(self.loop.run())
        self._beat()

    def _beat(self) -> None:
        try:
            settle(self.loop.ledger, self.loop.launch.town)
            with self.loop.ledger.store.transaction() as tx:
                at = stamp(self.clock.now())
                if not hosts.beat(tx, self.me.name, self.me.pid, at, self.me.role):
                    self.me.heartbeat_at = at
                    hosts.register(tx, self.me, self.clock.now(), 0)
        except Exception:  # the database is down: the next beat tries again
            log.warning("could not write this town process's heartbeat", exc_info=True)

    async def close(self) -> None:
        """Stop leading: the loop's agents are stopped and recorded, the lock let go."""
        if self.wakes is not None:
            self.wakes.cancel()
            await asyncio.gather(self.wakes, return_exceptions=True)
        if self.reconciling is not None:
            await self.loop.shutdown()
            self.reconciling.cancel()
            await asyncio.gather(self.reconciling, return_exceptions=True)
        await asyncio.to_thread(self.leadership.release)
