"""Who may use the town's HTTP server: one gate in front of every route.

A request is let in with the **town token** (`Authorization: Bearer <token>`, for scripts and
the CLI) or a **session cookie** (for browsers, set by `/login` from a one-time key that
`gt up` or `gt dashboard` prints). There is no setting that turns this off. Without either, a
page redirects to `/login` and an API route answers 401. Only `/login` and the static assets
are public; the agent routes (`/api/agent/...`) take run tokens and check them themselves, and
the webhook routes (`/hooks/...`) check the forge's signature.

A state-changing request made with a cookie must also carry the session's CSRF token, in the
`X-CSRF-Token` header (htmx and the dashboard's scripts send it) or a `csrf_token` form field
(plain forms); a cross-origin `Origin` is refused outright. Bearer requests need neither: a
browser never adds that header by itself. Logging out ends the session here as well as in the
browser (`login.EndedSessions`): a copy of its cookie is refused like a forged one.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gastown.record import Record
from gastown.townrun import login, run_tokens

COOKIE = "gt_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM = 1 << 20
"""Largest form body read to find its CSRF field."""


class Identity(Record):
    """How the caller proved itself: `token` (the town token) or `session` (a cookie)."""

    via: str
    csrf: str = ""
    """The session's CSRF token (empty for token callers, who need none)."""
    session: str = ""
    """The session's nonce, which logging out ends (empty for token callers)."""


def public(path: str) -> bool:
    """Paths the gate lets through: the login page, static assets, the agent routes (which
    demand a run token of their own) and the forges' webhooks (which must be signed with the
    forge's webhook secret). `/logout` is not: it needs the session's CSRF token like any
    other write."""
    return path == "/login" or path.startswith(("/static/", "/api/agent/", "/hooks/"))


def is_page(path: str) -> bool:
    return not path.startswith("/api/")


class Gate:
    """ASGI middleware: authenticate, check CSRF for cookie writes, then pass the request on
    with its `Identity` in `request.state.identity`."""

    def __init__(
        self,
        app: ASGIApp,
        town_token: str,
        secret: bytes,
        ended: login.EndedSessions,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.token = town_token
        self.secret = secret
        self.ended = ended
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        method = scope["method"]
        path = scope["path"]
        given = headers.get("authorization", "")
        if given:
            bearer = given.removeprefix("Bearer ").strip()
            if not _same(bearer, self.token):
                run = bearer.startswith(f"{run_tokens.PREFIX}.")
                why = "a run token is not accepted here; " if run else ""
                await _deny(
                    send, 401, f"A valid town token is required ({why}see <town>/run/token)."
                )
                return
            identity = Identity("token")
        else:
            nonce = login.session_nonce(self.secret, _cookie(headers), self.clock())
            if nonce is None or nonce in self.ended:
                if is_page(path) and method in SAFE_METHODS:
                    await _to_login(scope, send)
                else:
                    await _deny(
                        send,
                        401,
                        "Log in first: open the link `gt dashboard` prints, or send the town "
                        "token (see <town>/run/token).",
                    )
                return
            identity = Identity("session", login.csrf_token(self.secret, nonce), nonce)
            if method not in SAFE_METHODS:
                if not _same_origin(headers):
                    await _deny(send, 403, "A request from another site was refused.")
                    return
                sent = headers.get(CSRF_HEADER, "")
                if not sent and _is_form(headers):
                    body, receive = await _buffer(receive)
                    sent = dict(parse_qsl(body.decode("utf-8", "replace"))).get(CSRF_FIELD, "")
                if not _same(sent, identity.csrf):
                    await _deny(
                        send,
                        403,
                        "This request lacks the page's CSRF token; reload the page and try again.",
                    )
                    return
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _cookie(headers: dict[str, str]) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except CookieError:  # a malformed Cookie header is no session, not a crash
        return ""
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else ""


def _same_origin(headers: dict[str, str]) -> bool:
    origin = headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == headers.get("host", "")


def _is_form(headers: dict[str, str]) -> bool:
    return headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body, and a `receive` that hands it over again."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_FORM or not message.get("more_body"):
            break
    body = b"".join(chunks)
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, again


async def _deny(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _to_login(scope: Scope, send: Send) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    target = scope["path"] + (f"?{query}" if query else "")
    location = "/login" if target == "/" else f"/login?next={quote(target, safe='')}"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", location.encode("latin-1")),
                (b"content-length", b"0"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def identity(scope_state: Any) -> Identity | None:
    """The caller's identity as the gate recorded it (None if the gate did not run)."""
    found = getattr(scope_state, "identity", None)
    return found if isinstance(found, Identity) else None


def safe_next(target: str | None) -> str:
    """A local path to go to after logging in or acting: never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
"""Only the package's own scripts and styles run: injected markup could not execute anyway."""


class SecureHeaders:
    """ASGI middleware adding the security headers every response carries."""

    HEADERS = (
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


router = APIRouter(include_in_schema=False)


def _session_response(request: Request, target: str | None) -> Response:
    secret_key: bytes = request.app.state.secret
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(
        COOKIE,
        login.new_session(secret_key, time.time()),
        max_age=login.SESSION_TTL,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.headers["cache-control"] = "no-store"
    return response


def _login_page(request: Request, message: str, status: int, target: str | None) -> Response:
    from gastown.web.render import render

    town = request.app.state.town
    html = render("login.html", {"town": town.name, "message": message, "next": safe_next(target)})
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


@router.get("/login")
def login_with_key(request: Request, key: str = "", next: str = "/") -> Response:
    """Spend a one-time login key and start a session; without a good key, say how to get one."""
    if key:
        if login.spend_key(request.app.state.town.path, key, time.time()):
            return _session_response(request, next)
        return _login_page(request, "That login link has expired or was already used.", 401, next)
    return _login_page(request, "", 200, next)


@router.post("/login")
async def login_with_token(request: Request) -> Response:
    """Start a session with the town token, typed into the login page's form."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    target = form.get("next")
    if _same(form.get("token", "").strip(), request.app.state.token):
        return _session_response(request, target)
    return _login_page(request, "That is not the town's token.", 401, target)


@router.post("/logout")
def logout(request: Request) -> Response:
    """End this browser's session (the gate has checked its CSRF token): here, so the cookie
    lets nobody in again though a copy of it is kept, and in the browser."""
    caller = identity(request.state)
    if caller is None:
        return JSONResponse({"detail": "Not logged in."}, status_code=401)
    if caller.session:
        request.app.state.ended_sessions.end(caller.session, time.time())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
