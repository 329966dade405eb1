"""Run the town process: take the town's lock, bind, serve the API until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator, Mapping
from types import FrameType

import uvicorn

from gastown.clock import SystemClock, stamp
from gastown.errors import UserError
from gastown.process.leader import TownRole
from gastown.process.live_town import live
from gastown.process.town_loop import TownLoop
from gastown.services.ledger import Ledger
from gastown.town import Town
from gastown.townrun import state, wake

GRACE = 5
"""Seconds requests still open at shutdown get to finish."""


class _Server(uvicorn.Server):
    """uvicorn, but SIGINT and SIGTERM only ask it to finish: the town process then cleans up
    (uvicorn's own handling re-raises the signal, which would skip that)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    on_stop: Callable[[], None] | None = None
    """Called when told to stop, before uvicorn waits for open requests (so open event
    streams can end instead of holding the shutdown up)."""

    def stop_now(self) -> None:
        """Finish serving, as a signal would ask."""
        self._stop(signal.SIGTERM, None)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:  # a second signal: stop without waiting for requests
            self.force_exit = True
        self.should_exit = True
        if self.on_stop is not None:
            self.on_stop()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a plain error when the address is taken or not ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Naming TCP lets asyncio set TCP_NODELAY on accepted connections (streamed replies and
    # server-sent events are not held back waiting for a delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(
            f"Cannot listen on {host}:{port}: {exc.strerror}.",
            hint="Pick another with --port (0 takes any free port).",
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(
    town: Town,
    host: str,
    port: int,
    environ: Mapping[str, str],
    on_ready: Callable[[state.Address], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM. Leaves no address behind when it ends.

    Whatever the town process writes (run logs, transcripts, the database's -wal, gate output)
    is its owner's alone: the umask is set here, once, rather than in each writer."""
    from gastown.web.api import create_app

    lock = state.acquire(town.path)
    umask = os.umask(0o077)
    store = None
    sock: socket.socket | None = None
    try:
        town.make_private()  # a town made by an older gt
        town = live(town.path)  # settings changed while it runs reach what reads them next
        token = state.token(town.path)
        started = stamp(SystemClock().now())
        sock = bind(host, port)
        address = state.Address(os.getpid(), host, sock.getsockname()[1], started)
        store = town.open_store()
        ledger = Ledger(store, prefix=town.prefix, actor="town")
        shared = town.db_url.startswith(("postgresql://", "postgres://"))
        watch = None
        if shared:  # the job engine is imported by PostgreSQL towns alone
            from gastown.workers.watch import Watch

            watch = Watch(ledger, town.db_url)
        api_url = f"http://127.0.0.1:{address.port}"
        loop = TownLoop(town, ledger, api_url, token, environ, watch=watch)
        listener, address.wake_port = await wake.listen(loop.wake)
        app = create_app(town, token, started, environ=environ)
        # A PostgreSQL town's process reconciles only while it leads (see `process.leader`).
        app.state.loop = None if shared else loop
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=GRACE,
        )
        server = _Server(config)
        server.on_stop = app.state.live.close
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        role = TownRole(loop, town.db_url, app.state, stop=server.stop_now) if shared else None
        reconciling = asyncio.create_task(role.run() if role is not None else loop.run())
        state.write_address(town.path, address)
        if on_ready is not None:
            on_ready(address)
        try:
            await serving
        finally:
            if role is not None:
                await role.close()
            else:
                await loop.shutdown()
            reconciling.cancel()
            # The loop's own tasks end before the ledger closes below.
            await asyncio.gather(reconciling, return_exceptions=True)
            listener.close()
    finally:
        state.clear_address(town.path)
        if sock is not None:
            sock.close()
        if store is not None:
            store.close()
        lock.close()
        os.umask(umask)
