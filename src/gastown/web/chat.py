"""The mayor over HTTP: one turn at a time of the town's single conversation, answered whole
(`POST /api/mayor/ask`, in `api`) or streamed as server-sent events (`POST /api/mayor/stream`),
and the recent conversation for the chat panel every page carries."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from gastown.errors import GastownError, InvalidValue
from gastown.mayor.agents import on_loop
from gastown.mayor.chat import TurnResult
from gastown.mayor.toolkit import Control
from gastown.services.ledger import Ledger
from gastown.store import Tx
from gastown.town import Town
from gastown.web.common import Led
from gastown.web.live import STREAM_HEADERS, sse

log = logging.getLogger("gastown.web")

PANEL_MESSAGES = 12
_turns: set[asyncio.Task[None]] = set()
"""Turns under way (held so that they are not collected before they end)."""


class AskBody(BaseModel):
    text: str
    """What to tell or ask the mayor."""


def words(text: str) -> str:
    said = text.strip()
    if not said:
        raise InvalidValue("Tell the mayor something: the text is empty.")
    return said


def take_turn(
    town: Town,
    lock: threading.Lock,
    environ: Mapping[str, str],
    text: str,
    on_text: Callable[[str], None] | None = None,
    control: Control | None = None,
) -> TurnResult:
    """One turn with the mayor on a store handle of its own; turns never interleave. Run it in
    a worker thread of the server (`control` hands agent actions back to the town's loop).
    The town is read again first: its settings (the mayor's model) may have changed."""
    from gastown.mayor import open_mayor
    from gastown.town import load

    town = load(town.path)
    store = town.open_store()
    try:
        ledger = Ledger(store, prefix=town.prefix, actor="mayor")
        with lock:
            mayor = open_mayor(ledger, town, environ, control)
            try:
                return mayor.ask(text, on_text)
            finally:
                mayor.close()
    finally:
        store.close()


def history(tx: Tx, last: int = PANEL_MESSAGES) -> list[dict[str, str]]:
    """The latest things said by the user and the mayor, without tool traffic or notes."""
    said = []
    for m in tx.mayor_messages(last=last * 3):
        if m.role == "user" and isinstance(m.content, str):
            text = m.content.split("\n\n", 1)[-1] if m.content.startswith("[Town") else m.content
            said.append({"role": "you", "text": text})
        elif m.role == "assistant" and isinstance(m.content, list):
            text = "".join(b.get("text", "") for b in m.content if b.get("type") == "text")
            if text.strip():
                said.append({"role": "mayor", "text": text})
    return said[-last:]


router = APIRouter(prefix="/api/mayor", tags=["mayor"])


@router.get("/messages")
def messages(led: Led, last: int = PANEL_MESSAGES) -> list[dict[str, str]]:
    """The latest turns of the conversation: the user's words and the mayor's replies."""
    with led.store.reader() as tx:
        return history(tx, max(1, min(last, 200)))


@router.post("/stream", response_class=StreamingResponse)
async def stream(request: Request, body: AskBody) -> StreamingResponse:
    """One turn with the mayor as server-sent events: `text` pieces of the reply as they
    arrive, then `done` (what `POST /api/mayor/ask` answers) or `error`."""
    text = words(body.text)
    town: Town = request.app.state.town
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def put(kind: str, data: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (kind, data))

    town_loop = getattr(request.app.state, "loop", None)
    control = on_loop(town_loop.control) if town_loop is not None else None

    def turn() -> None:
        try:
            result = take_turn(
                town,
                request.app.state.mayor_turn,
                request.app.state.environ,
                text,
                lambda piece: put("text", {"text": piece}),
                control,
            )
            put("done", result.to_json())
        except GastownError as exc:
            put("error", exc.to_json())
        except Exception as exc:  # the stream must end with a word, whatever went wrong
            log.exception("mayor turn failed")
            put("error", {"code": "error", "message": f"The mayor failed: {exc}"})

    # A task of its own, not the response's: the turn finishes (and is recorded) even if the
    # page goes away before the reply is complete.
    task = loop.create_task(anyio.to_thread.run_sync(turn), name="mayor turn")
    _turns.add(task)
    task.add_done_callback(_turns.discard)

    async def events() -> AsyncIterator[str]:
        while True:
            kind, data = await queue.get()
            yield sse(kind, data)
            if kind != "text":
                return

    return StreamingResponse(events(), media_type="text/event-stream", headers=STREAM_HEADERS)
