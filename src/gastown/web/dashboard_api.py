"""The dashboard's JSON API: every page's data and every action a page offers, in the OpenAPI
schema, each calling the same services as the CLI (or the same read model as the page)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from gastown.clock import SystemClock
from gastown.errors import InvalidValue, NotFound
from gastown.limits import MAX_INT
from gastown.services import beads as bead_service
from gastown.services import convoys as convoy_service
from gastown.services import escalations as escalation_service
from gastown.services import moves
from gastown.services import settings as settings_service
from gastown.services import sling as sling_service
from gastown.services.plan import parse as parse_plan
from gastown.web import board as board_view
from gastown.web import views
from gastown.web.common import Led, changed, fresh_town

router = APIRouter(prefix="/api", tags=["dashboard"])


class SlingBody(BaseModel):
    title: str
    rig: str
    body: str = ""
    priority: int = Field(default=2, ge=0, le=4)
    type: str = "task"
    labels: list[str] = Field(default_factory=list)
    runtime: str | None = None
    model: str | None = None
    """The model its runs use (None: the settings' `role_models.polecat`, else `default_model`)."""
    hold: bool = False
    """Create it held: marked for dispatch, but not dispatched until unheld."""


class SlingAgain(BaseModel):
    """What slinging an existing bead may ask for (None keeps what it had)."""

    runtime: str | None = None
    model: str | None = None


class BeadChange(BaseModel):
    """Fields to change (only those given)."""

    title: str | None = None
    body: str | None = None
    priority: int | None = Field(default=None, ge=0, le=4)
    held: bool | None = None
    status: str | None = None
    reason: str | None = None


class CloseBody(BaseModel):
    reason: str | None = None
    force: bool = False


class PlanTaskBody(BaseModel):
    key: str
    title: str
    body: str = ""
    priority: int = 2
    needs: list[str] = Field(default_factory=list)
    """Keys of tasks in this convoy that must close first."""


class ConvoyBody(BaseModel):
    title: str
    rig: str
    tasks: list[PlanTaskBody]
    staged: bool | None = None
    """Hold its beads until started; the `staged_convoys_default` setting when absent."""
    merge_mode: str | None = None
    """`review-then-land` or `review-and-merge`; the `convoy_merge_mode` setting when absent."""


class SettingBody(BaseModel):
    key: str
    value: str
    """As typed for `gt config set` (lists and maps as JSON)."""
    rig: str | None = None


@router.get("/overview")
def overview(led: Led) -> dict[str, Any]:
    """Counts by status, open convoys, agents at work, open escalations, recent events and the
    last 24 hours of activity."""
    with led.store.reader() as tx:
        return views.overview(tx, SystemClock().now())


@router.get("/rigs")
def rigs(led: Led) -> list[dict[str, Any]]:
    """The town's rigs (setting overrides masked) with their bead counts."""
    with led.store.reader() as tx:
        return [{**views.rig_json(r), "beads": tx.count_by_status(r.name)} for r in tx.list_rigs()]


@router.get("/rigs/{rig}/board")
def board(led: Led, request: Request, rig: str, limit: int = board_view.LIMIT) -> dict[str, Any]:
    """A rig's beads in a column per status: each column's first `limit` and its full count,
    filtered like `/api/board` (its `rig` is this one)."""
    return _board(led, request, rig, limit)


@router.get("/board")
def town_board(led: Led, request: Request, limit: int = board_view.LIMIT) -> dict[str, Any]:
    """The town's beads in a column per status, filtered by `rig`, `label` (repeatable),
    `type`, `priority`, `assignee`, `status` (repeatable) and searched by `q`; each card with
    its polecat, runtime, time, attempts, cost and merge state. Values that cannot match are
    dropped and said in `notices`."""
    return _board(led, request, None, limit)


def _board(led: Led, request: Request, rig: str | None, limit: int) -> dict[str, Any]:
    if not 1 <= limit <= 1000:
        raise InvalidValue("limit must be 1 to 1000.")
    with led.store.reader() as tx:
        if rig is not None and tx.get_rig(rig) is None:
            raise NotFound(f"There is no rig '{rig}'.", hint="`gt rig list` shows the town's rigs.")
        wanted = board_view.parse(tx, request.query_params.multi_items(), rig)
        return board_view.read(
            tx,
            wanted,
            SystemClock().now(),
            limit,
            settings=fresh_town(request).settings,
            environ=request.app.state.environ,
        )


class MoveBody(BaseModel):
    status: str
    """The column it goes to: open, in_progress, in_review, closed or failed."""
    reason: str | None = None


@router.post("/beads/{bead_id}/move")
def move_bead(led: Led, request: Request, bead_id: str, body: MoveBody) -> dict[str, Any]:
    """Move a bead to another status as the CLI would (`gt bead close`, `gt bead reopen`,
    `gt bead update --status`): refused with the reason when the lifecycle forbids it."""
    bead = moves.move(led, bead_id, body.status, body.reason)
    changed(request)
    return bead.to_json()


@router.get("/beads/{bead_id}/detail")
def bead_detail(led: Led, bead_id: str) -> dict[str, Any]:
    """A bead with its dependencies, dependents, runs, merge requests, escalations and events."""
    return views.bead(led, bead_id)


@router.post("/sling", status_code=201)
def sling_new(led: Led, request: Request, body: SlingBody) -> dict[str, Any]:
    """Create a bead marked for dispatch, like `gt sling TITLE --rig R`."""
    spec = bead_service.NewBead(
        title=body.title,
        body=body.body,
        type=body.type,
        priority=body.priority,
        labels=body.labels,
        rig=body.rig,
        held=body.hold,
        runtime=body.runtime,
        model=body.model,
    )
    bead = sling_service.sling_new(led, spec)
    changed(request)
    return bead.to_json()


@router.post("/beads/{bead_id}/sling")
def sling_existing(
    led: Led, request: Request, bead_id: str, body: SlingAgain | None = None
) -> dict[str, Any]:
    """Mark an existing open (or failed) bead for dispatch, like `gt sling ID [--runtime R]
    [--model M]`."""
    asked = body or SlingAgain()
    bead = sling_service.sling_existing(led, bead_id, asked.runtime, None, asked.model)
    changed(request)
    return bead.to_json()


@router.patch("/beads/{bead_id}")
def update_bead(led: Led, request: Request, bead_id: str, body: BeadChange) -> dict[str, Any]:
    """Change a bead's fields, like `gt bead update` (hold or unhold, priority, status, ...)."""
    fields = body.model_dump(exclude_none=True, exclude={"reason"})
    if not fields:
        raise InvalidValue("Nothing to change: give at least one field.")
    bead = bead_service.update(led, bead_id, fields, reason=body.reason)
    changed(request)
    return bead.to_json()


@router.post("/beads/{bead_id}/close")
def close_bead(led: Led, request: Request, bead_id: str, body: CloseBody) -> dict[str, Any]:
    """Close a bead, like `gt bead close` (refused while blockers or children are open)."""
    bead = bead_service.close(led, bead_id, body.reason, body.force)
    changed(request)
    return bead.to_json()


@router.post("/beads/{bead_id}/reopen")
def reopen_bead(led: Led, request: Request, bead_id: str) -> dict[str, Any]:
    """Reopen a closed or failed bead, like `gt bead reopen`."""
    bead = bead_service.reopen(led, bead_id)
    changed(request)
    return bead.to_json()


@router.get("/convoys")
def list_convoys(led: Led, rig: str | None = None, status: str | None = None) -> list[Any]:
    """Convoys with their progress, like `gt convoy list`."""
    return [c.to_json() for c in convoy_service.list_convoys(led, rig, status)]


@router.get("/convoys/{convoy_id}")
def show_convoy(led: Led, convoy_id: str) -> dict[str, Any]:
    """A convoy, its beads, its waves and its dependency graph's layout."""
    return views.convoy(led, convoy_id)


@router.post("/convoys", status_code=201)
def create_convoy(led: Led, request: Request, body: ConvoyBody) -> dict[str, Any]:
    """A convoy from tasks with dependencies, validated whole like a plan file."""
    plan = parse_plan(
        {"tasks": [t.model_dump() for t in body.tasks]}, origin=f"convoy '{body.title}'"
    )
    staged, mode = convoy_service.choose_defaults(
        led, fresh_town(request), body.rig, request.app.state.environ, body.staged, body.merge_mode
    )
    made = convoy_service.create(led, body.title, body.rig, plan, staged, mode)
    changed(request)
    return made.to_json()


@router.post("/convoys/{convoy_id}/start")
def start_convoy(led: Led, request: Request, convoy_id: str) -> dict[str, Any]:
    """Release a staged convoy's beads for dispatch, like `gt convoy start`."""
    convoy = convoy_service.start(led, convoy_id)
    changed(request)
    return convoy.to_json()


@router.post("/convoys/{convoy_id}/close")
def close_convoy(led: Led, request: Request, convoy_id: str, body: CloseBody) -> dict[str, Any]:
    """Close a convoy, like `gt convoy close`: it lands when its work is all in; `force`
    closes its unfinished beads and cancels it."""
    convoy = convoy_service.close(led, convoy_id, body.reason, body.force)
    changed(request)
    return convoy.to_json()


@router.get("/agents")
def list_agents(led: Led) -> dict[str, Any]:
    """Every polecat with its current (or last) run, like `gt agents`."""
    with led.store.reader() as tx:
        return views.agents(tx)


@router.get("/agents/{name}")
def show_agent(led: Led, request: Request, name: str, lines: int = 200) -> dict[str, Any]:
    """A polecat, its run (tokens, cost), recent runs and the tail of its transcript."""
    with led.store.reader() as tx:
        return views.agent(tx, request.app.state.town, name, max(1, min(lines, 2000)))


@router.get("/merge-requests")
def merge_requests(led: Led) -> dict[str, Any]:
    """The merge queue: requests in the refinery's hands, then the latest finished ones."""
    with led.store.reader() as tx:
        return views.merge_queue(tx)


@router.get("/escalations")
def list_escalations(led: Led, all: bool = False) -> dict[str, Any]:
    """Open escalations (or every one, newest first), like `gt escalations`."""
    with led.store.reader() as tx:
        return views.escalations(tx, all)


@router.post("/escalations/{escalation_id}/ack")
def ack_escalation(
    led: Led, escalation_id: Annotated[int, Path(ge=1, le=MAX_INT)]
) -> dict[str, Any]:
    """Acknowledge an open escalation, like `gt escalation ack`."""
    return escalation_service.acknowledge(led, escalation_id).to_json()


@router.get("/settings")
def show_settings(led: Led, request: Request, rig: str | None = None) -> dict[str, Any]:
    """Every setting's effective value (secrets masked), its origin and what it accepts."""
    return views.settings(led, fresh_town(request), rig, request.app.state.environ)


@router.put("/settings")
def set_setting(led: Led, request: Request, body: SettingBody) -> dict[str, Any]:
    """Set one setting in town.toml or as a rig override, validated like `gt config set`."""
    from gastown import config

    value = settings_service.set_value(led, fresh_town(request), body.key, body.value, body.rig)
    changed(request)
    return {"key": body.key, "value": config.masked(body.key, value), "rig": body.rig}


@router.delete("/settings/{key}")
def unset_setting(led: Led, request: Request, key: str, rig: str | None = None) -> dict[str, Any]:
    """Remove a setting from town.toml or a rig's overrides, like `gt config unset`."""
    settings_service.unset(led, fresh_town(request), key, rig)
    changed(request)
    return {"key": key, "unset": True, "rig": rig}


class DispatchBody(BaseModel):
    rig: str | None = None
    """One rig; None: the town."""
    reason: str = ""


@router.post("/dispatch/pause")
def pause_dispatch(led: Led, request: Request, body: DispatchBody) -> dict[str, Any]:
    """Stop new dispatch (running work goes on), like `gt pause`."""
    from gastown.services import controls

    return controls.pause(led, body.rig, body.reason, request.app.state.town.path)


@router.post("/dispatch/resume")
def resume_dispatch(led: Led, request: Request, body: DispatchBody) -> dict[str, Any]:
    """Lift pauses, close the circuit breaker and grant used-up budgets, like `gt resume`."""
    from gastown.services import controls

    town = fresh_town(request)
    done = controls.resume(led, town.settings, request.app.state.environ, body.rig, town.path)
    return done.to_json()
