"""The HTTP API: the same services the CLI calls, as JSON, behind the town's token.

Two kinds of caller, two kinds of token. The town routes (`/api/...`) need the town token
(`Authorization: Bearer <token>`, from `<town>/run/token`); the agent routes (`/api/agent/...`,
in `agent_api`) need a run token and refuse the town token, as the town routes refuse a run
token. Each request opens its own store handle, so requests never share a database connection.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from gastown import __version__
from gastown.errors import GastownError, InvalidValue, NotFound, Refused, UsageError
from gastown.model import ACTIVE_RUN_STATUSES
from gastown.process import run_tokens
from gastown.services import beads as bead_service
from gastown.services import deps as dep_service
from gastown.services.ledger import Ledger
from gastown.store import BeadFilter
from gastown.town import Town
from gastown.web import agent_api


def _authorized(request: Request) -> None:
    token: str = request.app.state.token
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        run_token = given.startswith(f"{run_tokens.PREFIX}.")
        why = "a run token is not accepted here; " if run_token else ""
        raise HTTPException(401, f"A valid town token is required ({why}see <town>/run/token).")


def _ledger(request: Request) -> Iterator[Ledger]:
    town: Town = request.app.state.town
    store = town.open_store()
    try:
        yield Ledger(store, prefix=town.prefix, actor="api")
    finally:
        store.close()


Led = Annotated[Ledger, Depends(_ledger)]


class AskBody(BaseModel):
    text: str
    """What to tell or ask the mayor."""


def create_app(town: Town, token: str, started_at: str) -> FastAPI:
    """The API of one town: town routes behind its token, agent routes behind run tokens."""
    app = FastAPI(title="Gas Town", version=__version__, docs_url=None, redoc_url=None)
    app.state.town = town
    app.state.token = token
    routes = APIRouter(dependencies=[Depends(_authorized)])
    mayor_turn = threading.Lock()  # one conversation: its turns must not interleave

    @app.exception_handler(GastownError)
    def user_error(_: Request, exc: GastownError) -> JSONResponse:
        return JSONResponse({"error": exc.to_json()}, status_code=_status_of(exc))

    @routes.get("/api/health")
    def health() -> dict[str, Any]:
        """The process is up and answering."""
        return {"ok": True, "town": town.name, "pid": os.getpid(), "version": __version__}

    @routes.get("/api/status")
    def status(led: Led) -> dict[str, Any]:
        """The town at a glance: the process, its rigs and its beads by status."""
        with led.store.reader() as tx:
            counts = tx.count_by_status()
            rigs = [r.name for r in tx.list_rigs()]
            working = len(tx.list_runs(statuses=ACTIVE_RUN_STATUSES))
            escalations = len(tx.list_escalations(open_only=True))
            paused = tx.get_pause()
        return {
            "town": town.name,
            "prefix": town.prefix,
            "pid": os.getpid(),
            "started_at": started_at,
            "rigs": rigs,
            "beads": counts,
            "active_runs": working,
            "open_escalations": escalations,
            "dispatch_paused": paused,
        }

    @routes.get("/api/beads")
    def list_beads(
        led: Led,
        status: Annotated[list[str] | None, Query()] = None,
        rig: str | None = None,
        label: Annotated[list[str] | None, Query()] = None,
        limit: int | None = None,
    ) -> Response:
        """Beads by priority then age, filtered like `gt bead list`."""
        flt = BeadFilter(statuses=status, rig=rig, labels=label, limit=limit)
        return Response(bead_service.list_json(led, flt), media_type="application/json")

    @routes.get("/api/ready")
    def ready(led: Led, rig: str | None = None, limit: int = 100) -> Response:
        """Beads ready for work, like `gt ready`."""
        return Response(
            dep_service.ready_json(led, rig, limit or None), media_type="application/json"
        )

    @routes.get("/api/beads/{bead_id}")
    def show_bead(led: Led, bead_id: str) -> dict[str, Any]:
        """One bead with its dependents."""
        bead, dependents = bead_service.show(led, bead_id)
        return {**bead.to_json(), "dependents": [d.to_json() for d in dependents]}

    @routes.get("/api/events")
    def events(led: Led, after_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Events in order, after an id (for following them)."""
        with led.store.reader() as tx:
            return [e.to_json() for e in tx.list_events(after_id=after_id, limit=limit)]

    @routes.post("/api/mayor/ask")
    def mayor_ask(led: Led, body: AskBody) -> dict[str, Any]:
        """One turn with the mayor, answered as `gt mayor ask --json` answers: the reply, the
        tool calls, the usage and the notes. Turns are taken one at a time."""
        from gastown.mayor import open_mayor
        from gastown.record import replace

        text = body.text.strip()
        if not text:
            raise InvalidValue("Tell the mayor something: the text is empty.")
        with mayor_turn:
            mayor = open_mayor(replace(led, actor="mayor"), town, os.environ)
            try:
                return mayor.ask(text).to_json()
            finally:
                mayor.close()

    @routes.post("/api/agents/{name}/{action}")
    async def control_agent(request: Request, name: str, action: str) -> dict[str, Any]:
        """Stop a polecat's run (its bead is held), reset it (its bead is retried afresh), or
        nudge it (a message it reads with `gt mail check`). Needs the town process's loop; an
        async route, so it runs on the loop's own thread."""
        loop = getattr(request.app.state, "loop", None)
        if loop is None:
            raise HTTPException(503, "This town process does not supervise agents.")
        body = await request.json() if await request.body() else {}
        actor = str(body.get("actor") or "user")
        result: dict[str, Any] = loop.control(name, action, actor, str(body.get("text", "")))
        return result

    app.include_router(routes)
    app.include_router(agent_api.router)
    return app


def _status_of(exc: GastownError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, UsageError):
        return 400
    return 403 if isinstance(exc, Refused) else 409
