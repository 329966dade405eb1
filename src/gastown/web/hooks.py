"""The forges' webhook routes: `POST /hooks/github` and `POST /hooks/gitlab`.

A forge cannot carry the town token, so these sit outside the town-token gate (`auth.public`)
and prove themselves by the forge's signature instead (`services.webhooks`). The body is read
up to 1 MB and no further; the work (the ledger, perhaps a call to the forge) runs in a
thread, and the town loop is woken on its own thread afterwards.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gastown.forge.base import ForgeKind
from gastown.refinery import pr
from gastown.services import webhooks
from gastown.services.ledger import Ledger
from gastown.town import Town, load

router = APIRouter(include_in_schema=False)


async def _limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is found to be longer than `limit`."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, message: str, bead_id: str | None = None) -> Response:
    body: dict[str, object] = {"detail": message}
    if bead_id is not None:
        body["bead_id"] = bead_id
    return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})


def _receive(
    request: Request, kind: ForgeKind, headers: dict[str, str], body: bytes
) -> webhooks.Answer:
    town: Town = load(request.app.state.town.path)  # settings changed since start count
    store = town.open_store()
    try:
        ledger = Ledger(store, prefix=town.prefix, actor=kind)
        environ = request.app.state.environ
        clients = getattr(request.app.state, "forge_clients", None)
        if clients is None:  # made on first use: most towns take no webhooks
            clients = request.app.state.forge_clients = webhooks.ForgeClients(environ)
        return webhooks.receive(ledger, town, kind, headers, body, environ, forges=clients)
    finally:
        store.close()


async def _hook(request: Request, kind: ForgeKind) -> Response:
    body = await _limited(request, webhooks.MAX_BODY)
    if body is None:
        return _answer(413, "The delivery is larger than 1 MB; it was not read.")
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        answer = await asyncio.to_thread(_receive, request, kind, headers, body)
    except webhooks.Refused as refused:
        return _answer(refused.status, refused.message)
    loop = getattr(request.app.state, "loop", None)
    if answer.pulls:
        pr.look_again(answer.pulls)  # the refinery follows them on its next step
    if answer.wake and loop is not None:
        if answer.pull_event:
            loop.human_reviews.look_now()
        loop.wake()  # on the event loop's own thread: this route is async
    return _answer(answer.status, answer.message, answer.bead_id)


@router.post("/hooks/github")
async def github_hook(request: Request) -> Response:
    """A GitHub webhook delivery, signed with `github.webhook_secret`."""
    return await _hook(request, "github")


@router.post("/hooks/gitlab")
async def gitlab_hook(request: Request) -> Response:
    """A GitLab webhook delivery, carrying `gitlab.webhook_secret` as its token."""
    return await _hook(request, "gitlab")
