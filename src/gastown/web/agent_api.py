"""The agent routes (`/api/agent/...`): what an agent's `gt done`, `gt status`, `gt escalate`,
`gt checkpoint`, `gt mail` and `gt prime` call.

They take a **run token** (`Authorization: Bearer gtr.<run>.<mac>`, from `GT_RUN_TOKEN`) and
never the town token: a run token names its run, so an agent can only speak for its own run and
bead. When the caller also says which run and bead it believes it is (`X-Gt-Run-Id`,
`X-Gt-Bead-Id`, from `GT_RUN_ID` and `GT_BEAD_ID`), a mismatch is refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from gastown.errors import Refused
from gastown.model import Run
from gastown.record import Record
from gastown.services import talkback
from gastown.services.ledger import Ledger
from gastown.town import Town
from gastown.townrun import run_tokens


class Caller(Record):
    """An agent, as its run token proves: its run (as read when the request came in) and a
    ledger acting as its polecat."""

    run: Run
    ledger: Ledger


def bearer(request: Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def _caller(request: Request) -> Iterator[Caller]:
    town_token: str = request.app.state.token
    given = bearer(request)
    run_id = run_tokens.verify(town_token, given) if given else None
    if run_id is None:
        already = "the town token is not accepted here; " if _is(given, town_token) else ""
        raise HTTPException(401, f"A valid run token is required ({already}see GT_RUN_TOKEN).")
    town: Town = request.app.state.town
    store = town.open_store()
    try:
        with store.reader() as tx:
            run = talkback.find_run(tx, run_id)
        for header, value in (("x-gt-run-id", run.id), ("x-gt-bead-id", run.bead_id)):
            claimed = request.headers.get(header)
            if claimed and claimed != value:
                raise Refused(
                    f"This run token is for run {run.id} on bead {run.bead_id}, "
                    f"not {header.removeprefix('x-gt-').removesuffix('-id')} {claimed}."
                )
        yield Caller(run, Ledger(store, prefix=town.prefix, actor=talkback.actor(run)))
    finally:
        store.close()


def _is(given: str, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


Agent = Annotated[Caller, Depends(_caller)]


class DoneBody(BaseModel):
    summary: str | None = Field(default=None, max_length=20_000)


class StatusBody(BaseModel):
    text: str


class EscalateBody(BaseModel):
    severity: str
    text: str


class CheckpointBody(BaseModel):
    data: Any
    """The JSON object to keep (validated by the service: an object, not too big)."""


class MailBody(BaseModel):
    to: str
    text: str


router = APIRouter(prefix="/api/agent", tags=["agent"])


@router.post("/done")
def done(agent: Agent, body: DoneBody) -> dict[str, Any]:
    """The agent says it has finished; said twice, the answer says it was already recorded."""
    return talkback.done(agent.ledger, agent.run.id, body.summary)


@router.post("/status")
def status(agent: Agent, body: StatusBody) -> dict[str, Any]:
    """The agent's latest word on its progress (shown by `gt agents`)."""
    return talkback.status(agent.ledger, agent.run.id, body.text)


@router.post("/escalate")
def escalate(agent: Agent, body: EscalateBody) -> dict[str, Any]:
    """Raise an escalation about the run's bead, for a person to look at."""
    return talkback.escalate(agent.ledger, agent.run.id, body.severity, body.text).to_json()


@router.post("/checkpoint")
def checkpoint(agent: Agent, body: CheckpointBody) -> dict[str, Any]:
    """Keep a JSON object on the run (the latest replaces the one before)."""
    return talkback.checkpoint(agent.ledger, agent.run.id, body.data)


@router.post("/mail")
def send_mail(agent: Agent, body: MailBody) -> dict[str, Any]:
    """Mail another polecat (by name), the `mayor` or the `town`."""
    return talkback.send_mail(agent.ledger, agent.run.id, body.to, body.text).to_json()


@router.get("/mail")
def check_mail(agent: Agent, quiet: bool = False) -> dict[str, Any]:
    """The polecat's unread mail, now marked read; `quiet` records no check that found none
    (the built-in agent asks after every tool call)."""
    taken = talkback.check_mail(agent.ledger, agent.run.id, quiet=quiet)
    return {"polecat": agent.run.polecat, "mail": [m.to_json() for m in taken]}


@router.get("/prime")
def prime(agent: Agent, request: Request) -> dict[str, Any]:
    """The run's instructions again, as they were given when it started."""
    town: Town = request.app.state.town
    return talkback.prime(agent.ledger, agent.run.id, town.path)
