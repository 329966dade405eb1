"""The town's knowledge on the web: the dashboard's page of notes (accept, reject, add), its
JSON twins, and the agent route behind a polecat's `gt remember`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from gastown.errors import InvalidValue
from gastown.knowledge import ACCEPTED, PROPOSED, STATUSES, Note
from gastown.sections import sections
from gastown.services import knowledge as service
from gastown.services import settings
from gastown.services.ledger import Ledger
from gastown.town import Town
from gastown.web.agent_api import Agent
from gastown.web.common import Led
from gastown.web.pages import _act, _form, _one, page

router = APIRouter(include_in_schema=False)
api = APIRouter()
agent = APIRouter(prefix="/api/agent", tags=["agent"])

ACTIONS = ("accept", "reject")


class RememberBody(BaseModel):
    text: str


class NoteBody(BaseModel):
    text: str
    rig: str | None = None


@agent.post("/remember")
def remember(caller: Agent, body: RememberBody, request: Request) -> dict[str, Any]:
    """A note from the polecat about its rig: proposed, or accepted under
    `knowledge.auto_accept`."""
    town: Town = request.app.state.town
    environ = getattr(request.app.state, "environ", {}) or {}
    knowledge = sections(settings.effective(caller.ledger, town, caller.run.rig, environ)).knowledge
    auto = knowledge.auto_accept
    return service.remember(caller.ledger, caller.run.id, body.text, auto_accept=auto).to_json()


def _notes(led: Ledger, rig: str | None, everything: bool) -> list[Note]:
    statuses = STATUSES if everything else (PROPOSED, ACCEPTED)
    return service.listing(led, rig=rig or None, statuses=statuses)


@api.get("/api/knowledge")
def list_notes(led: Led, rig: str | None = None, all: bool = False) -> list[dict[str, Any]]:
    """The notes (of a rig and the town), oldest first; rejected ones only with `all`."""
    return [n.to_json() for n in _notes(led, rig, all)]


@api.post("/api/knowledge")
def add_note(led: Led, body: NoteBody) -> dict[str, Any]:
    """Write a note, accepted at once."""
    return service.add(led, body.text, rig=body.rig or None).to_json()


@api.post("/api/knowledge/{note_id}/{action}")
def judge_note(led: Led, note_id: int, action: str) -> dict[str, Any]:
    """Accept or reject a note."""
    return _judge(led, note_id, action).to_json()


def _judge(led: Ledger, note_id: int, action: str) -> Note:
    if action not in ACTIONS:
        raise InvalidValue(f"A note can be accepted or rejected, not '{action}'.")
    return service.accept(led, note_id) if action == "accept" else service.reject(led, note_id)


@router.get("/knowledge")
def knowledge_page(request: Request, led: Led, rig: str = "", all: bool = False) -> Response:
    notes = _notes(led, rig, all)
    with led.store.reader() as tx:
        rigs = [r.name for r in tx.list_rigs()]
    data = {
        "notes": [n.to_json() for n in notes],
        "proposed": sum(n.status == PROPOSED for n in notes),
        "rig": rig,
        "rigs": rigs,
        "all": all,
    }
    return page(request, led, "knowledge.html", data, title="Knowledge")


@router.post("/knowledge")
async def add_from_form(request: Request) -> Response:
    form = await _form(request)
    text, rig = _one(form, "text"), _one(form, "rig") or None
    return await _act(request, form, lambda led: service.add(led, text, rig=rig))


@router.post("/knowledge/{note_id}/{action}")
async def judge_from_form(request: Request, note_id: int, action: str) -> Response:
    form = await _form(request)
    return await _act(request, form, lambda led: _judge(led, note_id, action))
