"""The mayor's tools for convoys, runs, escalations and agents: like `tools.py`, thin adapters
to the town's services (a run's transcript is read as `gt peek` reads it; agents are stopped
and reset by the town process itself, see `agents.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gastown.errors import NotFound
from gastown.mayor.toolkit import REASON, RIG_FILTER, Arg, Context, Tool
from gastown.model import MAYOR
from gastown.services import convoys, escalations

TRANSCRIPT_LINES = 40
"""Transcript lines `run_transcript` gives back unless asked for another number."""

MAX_TRANSCRIPT_LINES = 200


def _convoy_json(c: Any) -> dict[str, Any]:
    return {k: v for k, v in c.to_json().items() if k in ("id", "title", "rig", "status", "staged")}


def _list_convoys(ctx: Context, a: dict[str, Any]) -> Any:
    found = convoys.list_convoys(ctx.ledger, a.get("rig"), a.get("status"))
    return [_convoy_json(c) for c in found]


def _convoy_start(ctx: Context, a: dict[str, Any]) -> Any:
    return _convoy_json(convoys.start(ctx.ledger, a["id"]))


def _convoy_close(ctx: Context, a: dict[str, Any]) -> Any:
    closed = convoys.close(ctx.ledger, a["id"], a.get("reason"), bool(a.get("force", False)))
    return _convoy_json(closed)


def _convoy_add(ctx: Context, a: dict[str, Any]) -> Any:
    return _convoy_json(convoys.add(ctx.ledger, a["id"], [str(b) for b in a["beads"]]))


def _convoy_remove(ctx: Context, a: dict[str, Any]) -> Any:
    return _convoy_json(convoys.remove(ctx.ledger, a["id"], [str(b) for b in a["beads"]]))


def _list_runs(ctx: Context, a: dict[str, Any]) -> Any:
    statuses = [a["status"]] if "status" in a else None
    with ctx.ledger.store.reader() as tx:
        found = tx.list_runs(
            bead_id=a.get("bead"), rig=a.get("rig"), polecat=a.get("polecat"), statuses=statuses
        )
    return [
        {
            "id": r.id,
            "bead": r.bead_id,
            "polecat": r.polecat,
            "status": r.status,
            "attempt": r.attempt,
            "outcome": r.outcome,
            "started_at": r.started_at,
            "ended_at": r.ended_at,
        }
        for r in found[-a.get("limit", 20) :]
    ]


def _run_transcript(ctx: Context, a: dict[str, Any]) -> Any:
    from gastown.polecat import conversation  # the same reading as `gt peek`
    from gastown.polecat.transcript import Source

    target = a["run"]
    with ctx.ledger.store.reader() as tx:
        run = tx.get_run(target)
        polecat = None if run is not None else tx.get_polecat(target)
        if run is None and polecat is not None and polecat.run_id:
            run = tx.get_run(polecat.run_id)
    if run is None:
        raise NotFound(f"There is no polecat or run '{target}'.", hint="`list_runs` lists runs.")
    source = Source(ctx.town.path, run.id, run.transcript, ctx.ledger.store)
    if not source.exists():
        return f"Run {run.id} ({run.status}) has no transcript: its agent never started."
    count = max(1, min(int(a.get("lines", TRANSCRIPT_LINES)), MAX_TRANSCRIPT_LINES))
    events, _ = source.tail(count)
    head = f"# {run.id}: {run.polecat} on {run.bead_id} ({run.status})"
    return "\n".join([head, *conversation.read(events)])


def _list_escalations(ctx: Context, a: dict[str, Any]) -> Any:
    found = escalations.list_(ctx.ledger, include_acknowledged=bool(a.get("all", False)))
    return [e.to_json() for e in found]


def _ack_escalation(ctx: Context, a: dict[str, Any]) -> Any:
    return escalations.acknowledge(ctx.ledger, a["id"]).to_json()


def _nudge_agent(ctx: Context, a: dict[str, Any]) -> Any:
    from gastown.mayor import agents

    # Through the town process, as `gt nudge`: into the running session when it can.
    control = ctx.control or agents.over_http(ctx.town.path)
    return control(a["name"], "nudge", MAYOR, a["text"])


def _control(action: str, after: str) -> Callable[[Context, dict[str, Any]], Any]:
    """A tool that tells a polecat to `action` through the town process."""

    def run(ctx: Context, a: dict[str, Any]) -> Any:
        from gastown.mayor import agents

        control = ctx.control or agents.over_http(ctx.town.path)
        answer = control(a["name"], action, MAYOR, "")
        if answer.get("stopping"):
            return {**answer, "then": after}
        return {**answer, "then": "it had no run to stop"}

    return run


def _escalate(ctx: Context, a: dict[str, Any]) -> Any:
    raised = escalations.raise_about(ctx.ledger, a["severity"], a["text"], a.get("bead"))
    return {**raised.to_json(), **_send_on(ctx, raised.id)}


def _send_on(ctx: Context, escalation_id: int) -> dict[str, Any]:
    """As `gt escalate`: a running town is woken to send it now; with no town up, nobody
    else would until one starts, so this turn runs a routing pass itself."""
    import asyncio

    from gastown import config
    from gastown.services.routing import Router
    from gastown.townrun import state, wake

    if state.read_address(ctx.town.path) is not None:
        wake.notify(ctx.town.path)
        return {"then": "the town sends it along escalation.routes"}
    settings = config.resolve(ctx.town.settings, None, ctx.environ).values
    done = asyncio.run(Router(ctx.ledger, lambda: settings, ctx.ledger.clock).pass_())
    return {"sent": [s.to_json() for e, mine in done if e.id == escalation_id for s in mine]}


_ID = Arg("id", "string", "the convoy id", required=True)
_NAME = Arg("name", "string", "the polecat's name", required=True)
_BEADS = Arg("beads", "array", "bead ids", required=True, items={"type": "string"})

TOOLS: tuple[Tool, ...] = (
    Tool(
        "list_convoys",
        "List convoys with their status.",
        [
            RIG_FILTER,
            Arg("status", "string", "open, landed, cancelled or failed"),
        ],
        _list_convoys,
    ),
    Tool("convoy_start", "Release a staged convoy's beads for dispatch.", [_ID], _convoy_start),
    Tool(
        "convoy_close",
        "Close a convoy: it lands when its beads are all closed; `force` closes the "
        "unfinished ones and cancels it (its work did not land).",
        [
            _ID,
            REASON,
            Arg("force", "boolean", "close unfinished beads and cancel the convoy"),
        ],
        _convoy_close,
    ),
    Tool("convoy_add", "Add beads to an open convoy.", [_ID, _BEADS], _convoy_add),
    Tool("convoy_remove", "Take beads out of a convoy.", [_ID, _BEADS], _convoy_remove),
    Tool(
        "list_runs",
        "Runs (attempts of polecats on beads), the latest last.",
        [
            Arg("bead", "string", "only runs of this bead"),
            RIG_FILTER,
            Arg("polecat", "string", "only this polecat"),
            Arg("status", "string", "only runs with this status"),
            Arg("limit", "integer", "at most this many of the latest (default 20)"),
        ],
        _list_runs,
    ),
    Tool(
        "run_transcript",
        "The last lines of a run's transcript, readable (what the polecat said and did).",
        [
            Arg("run", "string", "a run id, or a polecat's name (its current run)", required=True),
            Arg("lines", "integer", f"how many lines (default {TRANSCRIPT_LINES})"),
        ],
        _run_transcript,
    ),
    Tool(
        "escalate",
        "Ask a person to look at something: raised as an escalation and sent along the "
        "town's escalation routes (webhook, command, email).",
        [
            Arg("severity", "string", "low, medium, high or critical", required=True),
            Arg("text", "string", "what is wrong and what is needed", required=True),
            Arg("bead", "string", "the bead it is about"),
        ],
        _escalate,
    ),
    Tool(
        "list_escalations",
        "Escalations raised by polecats or the town: the open ones, or all.",
        [Arg("all", "boolean", "include acknowledged ones")],
        _list_escalations,
    ),
    Tool(
        "ack_escalation",
        "Acknowledge an open escalation once it is dealt with.",
        [Arg("id", "integer", "the escalation id", required=True)],
        _ack_escalation,
    ),
    Tool(
        "nudge_agent",
        "Tell a working polecat something: into its running session when its runtime takes "
        "messages mid-run, else as mail it reads at its next tool call (the built-in agent) or "
        "`gt mail check`. Needs the town "
        "process running.",
        [_NAME, Arg("text", "string", "what to tell it", required=True)],
        _nudge_agent,
    ),
    Tool(
        "stop_agent",
        "Stop a polecat's run; its bead is held (release it with update_bead held=false) and "
        "the attempt is not counted. Needs the town process running.",
        [_NAME],
        _control("stop", "its bead is held until released"),
    ),
    Tool(
        "reset_agent",
        "Stop a polecat's run, if any, and retry its bead afresh with its attempts reset. "
        "Needs the town process running.",
        [_NAME],
        _control("reset", "its bead is retried afresh"),
    ),
)
