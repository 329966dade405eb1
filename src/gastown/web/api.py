"""The HTTP API and the dashboard: the same services the CLI calls, as JSON and as pages, behind
the town's token.

Two kinds of caller, two kinds of token. The town routes (`/api/...` and every page) need the
town token (`Authorization: Bearer <token>`, from `<town>/run/token`) or a dashboard session
(see `auth`); the agent routes (`/api/agent/...`, in `agent_api`) need a run token and refuse
the town token, as the town routes refuse a run token. Each request opens its own store handle,
so requests never share a database connection.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from gastown import __version__
from gastown.errors import GastownError, InvalidValue
from gastown.limits import MAX_INT, MAX_LIMIT
from gastown.services import beads as bead_service
from gastown.services import deps as dep_service
from gastown.services import hosts as hosts_service
from gastown.services import status as status_service
from gastown.store import BeadFilter
from gastown.town import Town
from gastown.townrun import login
from gastown.web import (
    agent_api,
    auth,
    chat,
    dashboard_api,
    diff_pages,
    hooks,
    inbox_pages,
    knowledge_pages,
    live,
    pages,
)
from gastown.web.chat import AskBody
from gastown.web.common import Led, caller, status_of
from gastown.web.not_found import install as answer_not_found

STATIC = Path(__file__).parent / "static"
Limit = Annotated[int, Query(ge=0, le=MAX_LIMIT, description="At most this many; 0 for all.")]


class AgentAction(BaseModel):
    """What `POST /api/agents/{name}/{action}` may carry."""

    actor: str | None = None
    """Who asks, for the event log (default: user)."""
    text: str = ""
    """The message of a nudge."""


def create_app(
    town: Town,
    token: str,
    started_at: str,
    *,
    environ: Mapping[str, str] | None = None,
    secret: bytes | None = None,
) -> FastAPI:
    """The API and dashboard of one town: town routes and pages behind its token or a
    session, agent routes behind run tokens, static assets open."""
    app = FastAPI(
        title="Gas Town",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served as /api/openapi.json, behind the gate like everything else
    )
    app.state.town = town
    app.state.token = token
    app.state.environ = os.environ if environ is None else environ
    app.state.secret = login.secret(town.path) if secret is None else secret
    app.state.ended_sessions = login.EndedSessions(town.path, time.time())
    app.state.live = live.Hub(town.open_store)
    routes = APIRouter(dependencies=[Depends(caller)])
    mayor_turn = threading.Lock()  # one conversation: its turns must not interleave
    app.state.mayor_turn = mayor_turn

    @app.exception_handler(GastownError)
    def user_error(_: Request, exc: GastownError) -> JSONResponse:
        return JSONResponse({"error": exc.to_json()}, status_code=status_of(exc))

    answer_not_found(app)  # a missing record or address: a page in HTML, the API in JSON

    @app.exception_handler(RequestValidationError)
    def malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
        """A request that does not fit the schema: 422, with the first problem in a sentence
        (and every problem, without the input, under `detail`)."""
        return JSONResponse(invalid_request(exc), status_code=422)

    @routes.get("/api/health")
    def health() -> dict[str, Any]:
        """The process is up and answering."""
        return {"ok": True, "town": town.name, "pid": os.getpid(), "version": __version__}

    @routes.get("/api/status")
    def status(led: Led) -> dict[str, Any]:
        """The town at a glance: the process, its rigs, its beads by status and the merge queue
        by state."""
        found = status_service.summary(led, failed_limit=0)
        with led.store.reader() as tx:
            rigs = [r.name for r in tx.list_rigs()]
        return {
            "town": town.name,
            "prefix": town.prefix,
            "pid": os.getpid(),
            "started_at": started_at,
            "rigs": rigs,
            "beads": found.beads,
            "ready": found.ready,
            "blocked": found.blocked,
            "active_runs": len(found.active_runs),
            "waiting_for_workers": sum(
                1 for r in found.active_runs if r.queue is not None and r.host is None
            ),
            "open_escalations": len(found.escalations),
            "dispatch_paused": found.paused,
            "rigs_paused": found.rigs_paused,
            "merge_queue": found.merge_queue,
            "hosts": hosts_service.town_hosts(led, town.settings, app.state.environ)
            if town.db_url.startswith(("postgresql://", "postgres://"))
            else [],
        }

    @routes.get("/api/beads")
    def list_beads(
        led: Led,
        status: Annotated[list[str] | None, Query()] = None,
        rig: str | None = None,
        label: Annotated[list[str] | None, Query()] = None,
        limit: Limit = 0,
    ) -> Response:
        """Beads by priority then age, filtered like `gt bead list` (every one unless
        `limit`)."""
        flt = BeadFilter(statuses=status, rig=rig, labels=label, limit=limit or None)
        return Response(bead_service.list_json(led, flt), media_type="application/json")

    @routes.get("/api/ready")
    def ready(led: Led, rig: str | None = None, limit: Limit = 100) -> Response:
        """Beads ready for work, like `gt ready`."""
        return Response(
            dep_service.ready_json(led, rig, limit or None), media_type="application/json"
        )

    @routes.get("/api/beads/{bead_id}")
    def show_bead(led: Led, bead_id: str) -> dict[str, Any]:
        """One bead with its dependents, whether it is ready, and the forge issue it was made
        from (as `gt bead show --json`)."""
        bead, dependents = bead_service.show(led, bead_id)
        why = dep_service.readiness(led, bead)
        with led.store.reader() as tx:
            links = tx.issue_links_of([bead.id])
        return {
            **bead.to_json(),
            "dependents": [d.to_json() for d in dependents],
            **why.to_json(),
            "issue": links[0].to_json() if links else None,
        }

    @routes.get("/api/events")
    def events(
        led: Led,
        after_id: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
        limit: Limit = 100,
    ) -> list[dict[str, Any]]:
        """Events in order, after an id (for following them)."""
        with led.store.reader() as tx:
            found = tx.list_events(after_id=after_id, limit=limit or None)
        return [e.to_json() for e in found]

    @routes.post("/api/mayor/ask")
    def mayor_ask(request: Request, led: Led, body: AskBody) -> dict[str, Any]:
        """One turn with the mayor, answered as `gt mayor ask --json` answers: the reply, the
        tool calls, the usage and the notes. Turns are taken one at a time; the mayor stops
        and resets agents through this process's own loop."""
        from gastown.mayor import open_mayor
        from gastown.mayor.agents import on_loop
        from gastown.record import replace

        text = body.text.strip()
        if not text:
            raise InvalidValue("Tell the mayor something: the text is empty.")
        loop = getattr(request.app.state, "loop", None)
        control = on_loop(loop.control) if loop is not None else None
        with mayor_turn:
            mayor = open_mayor(replace(led, actor="mayor"), town, app.state.environ, control)
            try:
                return mayor.ask(text).to_json()
            finally:
                mayor.close()

    @routes.post("/api/agents/{name}/{action}")
    async def control_agent(
        request: Request,
        name: str,
        action: str,
        body: Annotated[AgentAction | None, Body()] = None,
    ) -> dict[str, Any]:
        """Stop a polecat's run (its bead is held), reset it (its bead is retried afresh), or
        nudge it (a message delivered into its running session, at its next tool call or
        at its next `gt mail check`, as its runtime allows). Needs the town process's loop; an
        async route, so it runs on the loop's own thread."""
        loop = getattr(request.app.state, "loop", None)
        if loop is None:
            raise HTTPException(503, "This town process does not supervise agents.")
        asked = body or AgentAction()
        result: dict[str, Any] = loop.control(name, action, asked.actor or "user", asked.text)
        return result

    @routes.get("/api/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        """The OpenAPI schema of every JSON route."""
        return app.openapi()

    app.include_router(routes)
    diffs = (diff_pages.api, diff_pages.router)  # before `pages`: /merges/{id} is theirs
    knowledge = (knowledge_pages.api, knowledge_pages.router)
    inbox = (inbox_pages.api, inbox_pages.router)
    for router in (
        dashboard_api.router,
        live.router,
        chat.router,
        *diffs,
        *knowledge,
        *inbox,
        pages.router,
    ):
        app.include_router(router, dependencies=[Depends(caller)])
    app.include_router(auth.router)
    app.include_router(agent_api.router)
    app.include_router(knowledge_pages.agent)
    app.include_router(hooks.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(
        auth.Gate, town_token=token, secret=app.state.secret, ended=app.state.ended_sessions
    )
    app.add_middleware(auth.SecureHeaders)
    return app


PLACES = {"query": "query parameter", "path": "path parameter", "body": "body field"}


def invalid_request(exc: RequestValidationError) -> dict[str, Any]:
    """A request that does not fit the schema, as our errors read: a sentence naming the
    first field at fault, and every problem (where and what, never the input) for programs."""
    problems: list[dict[str, Any]] = [
        {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"loc": [], "msg": ""}
    place, *field = first["loc"] or ["request"]
    named = f"{PLACES.get(place, place)} '{'.'.join(field)}'" if field else place
    said = str(first["msg"]).rstrip(".") or "it does not fit the API's schema"
    message = f"The {named} is not valid: {said}."
    return {"error": {"code": "invalid_value", "message": message}, "detail": problems}
