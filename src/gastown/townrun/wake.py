"""Waking the town process: a command that changed the ledger nudges it to look again now.

The town process listens for UDP datagrams on 127.0.0.1 at the port it records in
`run/town.json` (`wake_port`). A datagram carries nothing: it only says "look again", so
anyone who can send one can do no more than make the reconciler run a pass early.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path


def notify(town: Path) -> bool:
    """Tell the town process (if one is up) to reconcile now. Never fails the caller."""
    try:
        port = int(json.loads((town / "run" / "town.json").read_text())["wake_port"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(b"w", ("127.0.0.1", port))
        except OSError:
            return False
    return True


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, woke: Callable[[], None]) -> None:
        self.woke = woke

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.woke()


async def listen(woke: Callable[[], None]) -> tuple[asyncio.DatagramTransport, int]:
    """Start listening; returns the transport (close it to stop) and the port."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Listener(woke), local_addr=("127.0.0.1", 0)
    )
    port = int(transport.get_extra_info("sockname")[1])
    return transport, port


async def woken_or_after(event: asyncio.Event, seconds: float) -> None:
    """Wait until `event` is set or `seconds` pass, then clear it. Unlike `asyncio.wait_for`
    on Python 3.11, a cancellation that arrives as the event is set is never swallowed, so a
    loop built on this always ends when its task is cancelled."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
    event.clear()
