"""The HTTP side of the scripted model server: routes, and ways to run it.

`app(script)` builds the ASGI application. `ScriptedModelServer` runs it on 127.0.0.1 in a
background thread for tests and demos (`with ScriptedModelServer(script) as server: ...`);
`serve_forever` runs it in the foreground for `gt scripted-model`.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import FrameType
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from gastown.scripted import anthropic_api, gemini_api, openai_api
from gastown.scripted.script import Logged, Reply, Script, ScriptExhausted

DEFAULT_MODEL = "scripted"
"""The model id `GET /v1/models` lists and replies carry when a request names none."""


class ErrorBody(Protocol):
    """An API's error body for a message and a code (each API's own `error` function)."""

    def __call__(self, message: str, code: str = ..., /) -> dict[str, Any]: ...


class _Refused(Exception):
    """A request the scripted model will not answer: a 400 with the API's own error body."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.response = JSONResponse(body, status_code=400)


def app(script: Script, *, now: Callable[[], float] = time.time) -> FastAPI:
    """The ASGI application answering the Anthropic, OpenAI and Gemini APIs from `script`."""
    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    error_bodies: dict[str, ErrorBody] = {
        "anthropic": anthropic_api.error,
        "gemini": gemini_api.error,
    }

    @api.exception_handler(_Refused)
    async def refused(request: Request, exc: _Refused) -> Response:
        return exc.response

    async def read(
        request: Request,
        kind: str,
        latest: Callable[[dict[str, Any]], str],
        model: str | None = None,
    ) -> tuple[dict[str, Any], Reply, int, str]:
        """The request body, its reply, the reply's serial number and the model to name;
        a bad request raises `_Refused` with an error in the API's own shape. `model` is
        given when the API names it in the path (Gemini) rather than the body."""
        errors = error_bodies.get(kind, openai_api.error)
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise _Refused(errors("The request body is not JSON.")) from None
        if not isinstance(body, dict):
            raise _Refused(errors("The request body is not a JSON object."))
        try:
            reply = script.answer(kind, request.url.path, body, latest(body), model=model)
        except ScriptExhausted as exc:
            # 400, not 5xx: SDKs retry server errors, and a spent script stays spent.
            raise _Refused(errors(str(exc), "script_exhausted")) from None
        named = model or str(body.get("model") or DEFAULT_MODEL)
        return body, reply, len(script.requests), named

    @api.post("/v1/messages")
    async def messages(request: Request) -> Response:
        body, reply, serial, model = await read(request, "anthropic", anthropic_api.latest_message)
        if body.get("stream"):
            return _events(anthropic_api.stream(reply, model, serial))
        return JSONResponse(anthropic_api.message(reply, model, serial))

    @api.post("/v1/messages/count_tokens")
    async def count_tokens(request: Request) -> Response:
        # A rough count; clients use it for display only, so it takes no reply from the script.
        return JSONResponse({"input_tokens": max(1, len(await request.body()) // 4)})

    @api.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body, reply, serial, model = await read(request, "chat", openai_api.latest_chat_message)
        created = int(now())
        if body.get("stream"):
            options = body.get("stream_options") or {}
            usage = bool(isinstance(options, dict) and options.get("include_usage"))
            return _events(openai_api.chat_stream(reply, model, serial, created, usage))
        return JSONResponse(openai_api.chat_completion(reply, model, serial, created))

    @api.post("/v1/responses")
    async def responses(request: Request) -> Response:
        body, reply, serial, model = await read(
            request, "responses", openai_api.latest_responses_input
        )
        created = int(now())
        if body.get("stream"):
            return _events(openai_api.responses_stream(reply, model, serial, created))
        return JSONResponse(openai_api.response(reply, model, serial, created))

    @api.post("/v1beta/models/{target}")
    async def gemini(target: str, request: Request) -> Response:
        model, method = gemini_api.split_target(target)
        if method == "countTokens":
            return JSONResponse(gemini_api.count_tokens(await request.body()))
        if method not in gemini_api.METHODS:
            unknown = f"The scripted model does not serve the method {method!r}."
            return JSONResponse(gemini_api.error(unknown, code=404), status_code=404)
        _, reply, serial, _ = await read(request, "gemini", gemini_api.latest_contents, model)
        if method == "streamGenerateContent":
            return _events(gemini_api.stream(reply, model, serial))
        return JSONResponse(gemini_api.generate(reply, model, serial))

    @api.get("/v1/models")
    async def models() -> Response:
        # One body both SDKs read: OpenAI's list fields and Anthropic's.
        entry = {
            "id": DEFAULT_MODEL,
            "object": "model",
            "type": "model",
            "created": 0,
            "created_at": "1970-01-01T00:00:00Z",
            "owned_by": "gastown",
            "display_name": "Gas Town scripted model",
        }
        return JSONResponse(
            {
                "object": "list",
                "data": [entry],
                "has_more": False,
                "first_id": DEFAULT_MODEL,
                "last_id": DEFAULT_MODEL,
            }
        )

    return api


def _events(lines: Iterator[str]) -> StreamingResponse:
    async def send() -> AsyncIterator[str]:
        for line in lines:
            yield line

    return StreamingResponse(send(), media_type="text/event-stream")


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 picks a free one. Clients may connect at once: the kernel
    queues them until the server accepts."""
    # Naming TCP lets asyncio set TCP_NODELAY on accepted connections: without it a streamed
    # reply's first chunk can wait ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def base_url(sock: socket.socket) -> str:
    """`http://HOST:PORT` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def _server(script: Script, now: Callable[[], float]) -> uvicorn.Server:
    config = uvicorn.Config(
        app(script, now=now), log_level="warning", lifespan="off", ws="none", http="h11"
    )
    return uvicorn.Server(config)


def serve_forever(script: Script, sock: socket.socket) -> None:
    """Answer on `sock` until interrupted (Ctrl-C or SIGTERM), then return normally."""
    # uvicorn shuts down gracefully on these signals, then raises them again for the handlers
    # it found; handlers that do nothing make that the end of a normal run.
    quiet = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _server(script, time.time).run(sockets=[sock])
    finally:
        for sig, handler in quiet.items():
            signal.signal(sig, handler)


def _ignore(sig: int, frame: FrameType | None) -> None:
    """A signal handler that does nothing."""


class ScriptedModelServer:
    """The server running in a background thread; a context manager.

    `base_url` is the Anthropic base URL (`ANTHROPIC_BASE_URL`) and the Gemini one
    (`GOOGLE_GEMINI_BASE_URL`); `openai_base_url` adds `/v1` (`OPENAI_BASE_URL`).
    `requests` is every request received, in order.
    """

    def __init__(
        self,
        script: Script,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.script = script
        self._sock = bind(host, port)
        self.base_url = base_url(self._sock)
        self._server = _server(script, now)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def requests(self) -> list[Logged]:
        return self.script.requests

    def replies_used(self) -> list[Reply]:
        """The replies sent so far, in the order they were sent."""
        return [self.script.replies[r.reply] for r in self.requests if r.reply is not None]

    def start(self) -> ScriptedModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread; open streams are finished first."""
        self._server.should_exit = True
        self._thread.join()
        self._sock.close()

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
