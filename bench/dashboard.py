"""The dashboard on the generated town: how long its pages take to render, and how fast a
change reaches many open pages.

Pages are rendered in process through the ASGI test client (the whole app: the gate, the
route, the store reads and the templates; no network). Live updates are measured over real
sockets: the app is served by uvicorn in a background thread, `clients` connections follow
`/api/stream`, one bead is created, and each connection's delay from the commit to its
`change` event is taken.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from pathlib import Path

import uvicorn
from starlette.testclient import TestClient

import timing
from gastown.process.serve import bind
from gastown.services import beads
from gastown.services.ledger import Ledger
from gastown.town import load
from gastown.web.api import create_app

TOKEN = "bench-token"
PAGE_GOAL_MS = 150.0
FILTERED = "town board, two filters and a search"
"""`/board?type=bug&label=backend&q=cache`: every rig, filtered in SQL (goal ≤ 150 ms)."""
LIVE_GOAL_MS = 1000.0


def bench(town_path: Path, runs: int, clients: int) -> list[str]:
    """Print render medians and the live-update latencies; return the lines judging goals."""
    app = create_app(load(town_path), TOKEN, "bench", environ={})
    headers = {"Authorization": f"Bearer {TOKEN}"}
    pages = {
        "overview page /": "/",
        "rig board page /rigs/app": "/rigs/app",
        "rig board, live region only": "/rigs/app?fragment=live",
        "GET /api/overview": "/api/overview",
        "GET /api/rigs/app/board": "/api/rigs/app/board",
        FILTERED: "/board?type=bug&label=backend&q=cache",
        "  the same, live region only": "/board?type=bug&label=backend&q=cache&fragment=live",
        "  the same, GET /api/board": "/api/board?type=bug&label=backend&q=cache",
    }
    sizes: dict[str, int] = {}
    with TestClient(app) as client:

        def fetch(label: str, path: str) -> None:
            answer = client.get(path, headers=headers)
            answer.raise_for_status()
            sizes[label] = len(answer.content)

        fns = {label: (lambda lb=label, p=path: fetch(lb, p)) for label, path in pages.items()}
        print(
            f"\n6. Dashboard on the generated town: medians of {runs} alternating renders "
            "in process (ASGI client, bearer token)"
        )
        times = timing.alternating(fns, runs)
    width = max(len(label) for label in times)
    for label, t in times.items():
        print(f"  {label:{width}}  {timing.median_ms(t):8.1f} ms  {sizes[label] / 1000:7.1f} kB")
    judged = []
    for label, what in (
        ("overview page /", "overview"),
        ("rig board page /rigs/app", "board"),
        (FILTERED, "board with two filters and a search"),
    ):
        ms = timing.median_ms(times[label])
        judged.append(
            f"dashboard {what} render median {ms:.1f} ms "
            f"(goal ≤ {PAGE_GOAL_MS:g} ms: {'met' if ms <= PAGE_GOAL_MS else 'MISSED'})"
        )
    worst, median, polls, took = live_latency(town_path, clients)
    print(
        f"  live update to {clients} connected clients: worst {worst:.0f} ms, median "
        f"{median:.0f} ms; {polls} reads of the event log in {took:.1f} s (one poller)"
    )
    judged.append(
        f"live update reached all {clients} clients: worst {worst:.0f} ms "
        f"(goal ≤ {LIVE_GOAL_MS:g} ms: {'met' if worst <= LIVE_GOAL_MS else 'MISSED'})"
    )
    for line in judged:
        print("  " + line)
    return judged


def live_latency(town_path: Path, clients: int) -> tuple[float, float, int, float]:
    """(worst ms, median ms, event-log reads, seconds) for one change reaching `clients`."""
    town = load(town_path)
    app = create_app(town, TOKEN, "bench", environ={})
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    began = time.monotonic()
    try:
        delays = asyncio.run(_follow(town_path, port, clients))
    finally:
        app.state.live.close()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    took = time.monotonic() - began
    return max(delays), statistics.median(delays), app.state.live.polls, took


async def _follow(town_path: Path, port: int, clients: int) -> list[float]:
    streams = [await _connect(port) for _ in range(clients)]
    try:
        for reader, _ in streams:
            await _until(reader, "event: hello")
        committed = await asyncio.to_thread(_change, town_path)
        arrivals = await asyncio.gather(*(_until(r, "event: change") for r, _ in streams))
    finally:
        for _, writer in streams:
            writer.close()
            await writer.wait_closed()
    return [(at - committed) * 1000 for at in arrivals]


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def _until(reader: asyncio.StreamReader, marker: str) -> float:
    """Read lines until one is `marker`; the time it arrived."""
    while True:
        line = await asyncio.wait_for(reader.readline(), 30)
        if not line:
            raise RuntimeError("the event stream ended early")
        if line.decode().strip() == marker:
            return time.monotonic()


def _change(town_path: Path) -> float:
    """Create one bead; the moment its transaction committed."""
    town = load(town_path)
    store = town.open_store()
    try:
        beads.create(Ledger(store, prefix=town.prefix, actor="bench"), beads.NewBead("Watched"))
        return time.monotonic()
    finally:
        store.close()
