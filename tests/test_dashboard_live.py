"""Live updates and the login link against the real town process (`gt up -d`): the event
stream over real HTTP, one poller for many listeners, a stream that never holds up `gt down`,
the mayor's streamed reply, and `gt dashboard`."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gastown.services import beads
from gastown.services.ledger import Ledger
from gastown.store import Store
from gastown.town import load
from gastown.web.live import Hub
from tests.builders import point_at, serve
from tests.conftest import Gt


class Stream:
    """A server-sent event stream read over a real socket."""

    def __init__(self, url: str, token: str, path: str = "/api/stream", body: Any = None) -> None:
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if body is None:
            self.conn.request("GET", path, headers=headers)
        else:
            headers["Content-Type"] = "application/json"
            self.conn.request("POST", path, body=json.dumps(body), headers=headers)
        self.response = self.conn.getresponse()
        assert self.response.status == 200, self.response.read()
        assert self.response.getheader("content-type", "").startswith("text/event-stream")

    def next(self) -> tuple[str, Any] | None:
        """The next event (name, data), skipping comments; None at the end of the stream."""
        name, data = "message", list[str]()
        while True:
            line = self.response.readline()
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if not text:
                if data:
                    return name, json.loads("\n".join(data))
                continue
            if text.startswith("event: "):
                name = text[7:]
            elif text.startswith("data: "):
                data.append(text[6:])

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def up(rig_gt: Gt, town_path: Path) -> Iterator[dict[str, Any]]:
    address = rig_gt.json("up", "-d")
    try:
        yield {**address, "token": (town_path / "run" / "token").read_text().strip()}
    finally:
        rig_gt("down")


def test_a_change_reaches_every_open_stream(rig_gt: Gt, up: dict[str, Any]) -> None:
    streams = [Stream(up["url"], up["token"]) for _ in range(5)]
    try:
        hellos = [s.next() for s in streams]
        assert all(h is not None and h[0] == "hello" for h in hellos)
        bead = rig_gt.json("bead", "create", "Fix the login redirect", "--rig", "app")["id"]
        for stream in streams:
            got = stream.next()
            assert got is not None and got[0] == "change"
            assert {"*", "kind:bead", "rig:app", f"bead:{bead}"} <= set(got[1]["topics"])
            assert got[1]["last_id"] > hellos[0][1]["last_id"]  # type: ignore[index]
    finally:
        for stream in streams:
            stream.close()


def test_an_open_stream_never_holds_up_gt_down(rig_gt: Gt, up: dict[str, Any]) -> None:
    stream = Stream(up["url"], up["token"])
    assert stream.next() is not None
    began = time.monotonic()
    stopped = rig_gt.json("down")
    took = time.monotonic() - began
    assert stopped["stopped"] is True
    assert stream.next() is None  # the stream ended with the process
    assert took < 10, f"gt down took {took:.1f} s with a stream open"
    stream.close()


def test_one_poller_feeds_fifty_listeners(rig_gt: Gt, town_path: Path) -> None:
    town = load(town_path)
    opened: list[Store] = []

    def open_store() -> Store:
        opened.append(town.open_store())
        return opened[-1]

    async def story() -> None:
        hub = Hub(open_store, interval=0.05)
        queues = await asyncio.gather(*(hub.subscribe() for _ in range(50)))  # all at once
        assert hub.listeners == 50 and len(opened) == 1
        store = town.open_store()
        try:
            beads.create(Ledger(store, actor="tester"), beads.NewBead("Watched", rig="app"))
        finally:
            store.close()
        changes = [await asyncio.wait_for(q.get(), 5) for q in queues]
        assert all(c == changes[0] for c in changes) and changes[0] is not None
        assert "kind:bead" in changes[0]["topics"]
        polls = hub.polls
        await asyncio.sleep(0.2)
        assert hub.polls - polls <= 5  # one poller, whatever the number of listeners
        hub.close()
        assert [await q.get() for q in queues] == [None] * 50
        await asyncio.sleep(0.1)
        late = await hub.subscribe()
        assert await late.get() is None

    asyncio.run(story())
    assert len(opened) == 1


def test_the_mayor_streams_its_reply(rig_gt: Gt, town_path: Path) -> None:
    server = serve(
        {"text": "Two beads are open; nothing is stuck."},
        {"repeat": True, "text": "ok"},
    )
    with server:
        point_at(rig_gt, server)
        address = rig_gt.json("up", "-d")
        token = (town_path / "run" / "token").read_text().strip()
        try:
            stream = Stream(address["url"], token, "/api/mayor/stream", {"text": "What is up?"})
            events = []
            while (event := stream.next()) is not None:
                events.append(event)
            stream.close()
        finally:
            rig_gt("down")
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"text"}
    assert "".join(data["text"] for name, data in events if name == "text") == (
        "Two beads are open; nothing is stuck."
    )
    assert events[-1][1]["reply"] == "Two beads are open; nothing is stuck."
    assert server.requests[0].body.get("stream") is True
    assert rig_gt.json("mayor", "usage")["messages"] == 2


def test_gt_dashboard_prints_a_link_that_works_once(
    rig_gt: Gt, town_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    down = rig_gt("dashboard")
    assert down.code == 1 and "is down" in down.err and "gt up -d" in down.err
    address = rig_gt.json("up", "-d")
    try:
        assert address["login_url"].startswith(address["url"] + "/login?key=")
        shown = rig_gt.json("dashboard")
        assert shown["url"] == address["url"] and shown["expires_in"] == 600
        human = rig_gt.ok("dashboard").out
        assert "/login?key=" in human and "one use" in human

        def visit(link: str) -> tuple[int, str]:
            parts = urllib.parse.urlsplit(link)
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
            try:
                conn.request("GET", f"{parts.path}?{parts.query}")
                answer = conn.getresponse()
                answer.read()
                return answer.status, answer.getheader("set-cookie") or ""
            finally:
                conn.close()

        status, cookie = visit(shown["login_url"])
        assert status == 303 and cookie.startswith("gt_session=") and "HttpOnly" in cookie
        assert visit(shown["login_url"])[0] == 401
        assert visit(address["login_url"])[0] == 303  # the link `gt up` printed, still unused
    finally:
        rig_gt("down")
    capsys.readouterr()
    rig_gt.ok("up", "--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert "there is no way to turn authentication off" in help_text
