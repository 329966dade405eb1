"""Live updates: the town's changes pushed to open pages as server-sent events.

The ledger's event log only grows, with increasing ids, so following it needs no triggers:
one `Hub` per server process reads the events after the last id it saw, every
`POLL_INTERVAL` seconds, and hands a summary of each batch (`Change`) to every connected
client. Fifty clients cost one query per interval, not fifty. The hub starts with its first
subscriber and stops with its last; `close()` ends every stream (the town process calls it
when it is told to stop, so open pages never hold up a shutdown).

A run's transcript stream follows its transcript file instead, or, for a run whose agent runs
on another host, the chunks that host ships to the ledger (`transcript.Source`), read as often.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from gastown.errors import NotFound
from gastown.limits import MAX_INT
from gastown.model import Event
from gastown.polecat.conversation import Conversation
from gastown.store import Store
from gastown.town import Town
from gastown.web import views

log = logging.getLogger("gastown.web")

POLL_INTERVAL = 0.2
"""Seconds between reads of the event log while anyone listens."""
KEEPALIVE = 15.0
"""Seconds of silence after which a comment line keeps proxies (and disconnect checks) awake."""
QUEUE_SIZE = 64
TRANSCRIPT_INTERVAL = 0.3
RUN_CHECK_EVERY = 2.0
"""Seconds between checks that a followed run is still going."""

Change = dict[str, Any]
"""What one batch of events touched: `last_id`, `count` and `topics` (`*`, `rig:NAME`,
`bead:ID`, `convoy:ID`, `kind:bead`, `kind:run`, ...). A page refreshes the parts of it that
listen for any of those topics."""


def change_of(events: list[Event]) -> Change:
    topics = {"*"}
    for e in events:
        topics.add(f"kind:{e.kind.split('.', 1)[0]}")
        for name, value in (("rig", e.rig), ("bead", e.bead_id), ("convoy", e.convoy_id)):
            if value:
                topics.add(f"{name}:{value}")
        polecat = (e.after or {}).get("polecat")
        if isinstance(polecat, str):
            topics.add(f"agent:{polecat}")
    return {"last_id": events[-1].id, "count": len(events), "topics": sorted(topics)}


class Hub:
    """One poller of the event log, fanning each change out to every subscriber."""

    def __init__(self, open_store: Callable[[], Store], interval: float = POLL_INTERVAL) -> None:
        self.open_store = open_store
        self.interval = interval
        self.last_id = 0
        self.polls = 0
        """Reads of the event log so far (one per interval, however many listen)."""
        self.closed = False
        self._queues: set[asyncio.Queue[Change | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def listeners(self) -> int:
        return len(self._queues)

    async def subscribe(self) -> asyncio.Queue[Change | None]:
        """A queue that gets every change from now on (None when the hub closes)."""
        queue: asyncio.Queue[Change | None] = asyncio.Queue(QUEUE_SIZE)
        if self.closed:
            queue.put_nowait(None)
            return queue
        self._queues.add(queue)
        if self._task is None or self._ready is None or self._task.done():
            # Decided before the first await, so that clients arriving together share one.
            self._loop = asyncio.get_running_loop()
            self._ready = self._loop.create_future()
            self._task = self._loop.create_task(self._poll(self._ready), name="live updates")
        ready = self._ready
        try:
            await asyncio.shield(ready)  # the poller knows where the log ends
        except BaseException:
            self._queues.discard(queue)
            raise
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change | None]) -> None:
        self._queues.discard(queue)

    async def _poll(self, ready: asyncio.Future[None]) -> None:
        store: Store | None = None
        try:
            store = await asyncio.to_thread(self.open_store)
            self.last_id = await asyncio.to_thread(_latest_id, store)
            ready.set_result(None)
            while self._queues and not self.closed:
                await asyncio.sleep(self.interval)
                events = await asyncio.to_thread(_events_after, store, self.last_id)
                self.polls += 1
                if events:
                    self.last_id = events[-1].id
                    self.publish(change_of(events))
        except Exception as exc:  # a failing read must not end live updates silently
            log.exception("live updates stopped")
            if not ready.done():
                ready.set_exception(exc)  # the subscribers waiting on it hear why
            self._end_all()
        finally:
            if store is not None:
                store.close()

    def publish(self, change: Change) -> None:
        for queue in list(self._queues):
            if queue.full():  # a client that cannot keep up gets one catch-all change
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        queue.get_nowait()
                change = {**change, "topics": ["*"]}
            queue.put_nowait(change)

    def close(self) -> None:
        """End every stream. Safe to call from a signal handler or another thread."""
        self.closed = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._end_all)

    def _end_all(self) -> None:
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self._queues.clear()


def _latest_id(store: Store) -> int:
    with store.reader() as tx:
        found = tx.list_events(newest_first=True, limit=1)
    return found[0].id if found else 0


def _events_after(store: Store, after: int) -> list[Event]:
    with store.reader() as tx:
        return tx.list_events(after_id=after, limit=1000)


def sse(event: str, data: Any) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}

router = APIRouter(tags=["live"])


@router.get("/api/stream", response_class=StreamingResponse)
async def stream(request: Request) -> StreamingResponse:
    """Server-sent events: `hello` (with the last event id) once subscribed, then a `change`
    (`last_id`, `count`, `topics`) for every batch of new events in the ledger."""
    hub: Hub = request.app.state.live

    async def events() -> AsyncIterator[str]:
        queue = await hub.subscribe()
        try:
            yield "retry: 1000\n" + sse("hello", {"last_id": hub.last_id})
            while True:
                try:
                    change = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if change is None:
                    return
                yield sse("change", change)
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream", headers=STREAM_HEADERS)


@router.get("/api/runs/{run_id}/transcript/stream", response_class=StreamingResponse)
async def transcript_stream(
    request: Request, run_id: str, offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0
) -> StreamingResponse:
    """Server-sent events: a `line` (a conversation line: `kind`, `text`, `at`, `failed`,
    `running`, `call_id`) for what the transcript says after byte `offset`, then `end` once
    the run is over and its transcript read to the end."""
    hub: Hub = request.app.state.live
    town: Town = request.app.state.town
    run = await asyncio.to_thread(_run_of, town, run_id)
    if run is None:
        raise NotFound(f"There is no run '{run_id}'.", hint="`gt runs` lists them.")
    source = views.Source(town.path, run_id, run["transcript"], None)

    async def lines() -> AsyncIterator[str]:
        position, active, checked = max(offset, 0), run["active"], 0.0
        clock = asyncio.get_running_loop().time
        talk = Conversation()  # read as `gt peek -f` reads it
        ledger: Store | None = None
        if not source.path.exists():  # the run is on another host (or has not started)
            ledger = source.ledger = await asyncio.to_thread(town.open_store)
        try:
            while not hub.closed:
                found, position = await asyncio.to_thread(source.read, position)
                said = talk.feed_all(found)
                if not found or not active:  # a call still waiting is shown as running
                    said += talk.flush()
                for line in said:
                    yield sse("line", line.to_json())
                if not active:
                    yield sse("end", {"offset": position})
                    return
                if clock() - checked >= RUN_CHECK_EVERY:
                    checked = clock()
                    now = await asyncio.to_thread(_run_of, town, run_id)
                    active = bool(now and now["active"])
                    continue  # read once more before ending: the last lines come with the end
                await asyncio.sleep(TRANSCRIPT_INTERVAL)
        finally:
            if ledger is not None:
                ledger.close()

    return StreamingResponse(lines(), media_type="text/event-stream", headers=STREAM_HEADERS)


def _run_of(town: Town, run_id: str) -> dict[str, Any] | None:
    store = town.open_store()
    try:
        with store.reader() as tx:
            run = tx.get_run(run_id)
    finally:
        store.close()
    if run is None:
        return None
    return {"transcript": run.transcript, "active": run.active}
