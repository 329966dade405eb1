"""The mayor's tools: thin adapters from a model's tool call to the town's services.

Each tool declares its arguments (name, JSON type, required or not, what it means); `perform`
checks a call against that declaration, then calls the service. Nothing here decides anything
about beads, convoys or settings: the services do, exactly as they do for the CLI. A call that
fails (bad arguments, an unknown bead, a refused transition) becomes an error result that goes
back to the model.
"""

from __future__ import annotations

import json
from typing import Any

from gastown.errors import GastownError
from gastown.mayor import (
    code_tools,
    forge_tools,
    formula_tools,
    knowledge_tools,
    mail_tools,
    toolkit,
    town_tools,
)
from gastown.mayor.toolkit import Arg, Context, Outcome, Tool, ToolArgsError, check_args
from gastown.sections import sections
from gastown.services import beads, convoys, deps, plan, settings, sling, status
from gastown.store import BeadFilter

__all__ = ["TOOLS", "Arg", "Context", "Outcome", "Tool", "ToolArgsError", "perform", "specs"]

_specs: list[dict[str, Any]] = []


def specs() -> list[dict[str, Any]]:
    """The tools as the model API declares them (`name`, `description`, `input_schema`); made
    once per process, since every request carries them."""
    if not _specs:
        _specs.extend(
            {"name": t.name, "description": t.description, "input_schema": t.schema()}
            for t in TOOLS.values()
        )
    return _specs


def perform(ctx: Context, name: str, args: Any) -> Outcome:
    """Run one tool call; every failure the caller could fix becomes an error outcome."""
    tool = TOOLS.get(name)
    if tool is None:
        return Outcome(False, f"There is no tool `{name}`; the tools are {', '.join(TOOLS)}.")
    if not isinstance(args, dict):
        return Outcome(False, f"The input of `{name}` must be a JSON object.")
    try:
        return Outcome(True, tool.run(ctx, check_args(tool, args)))
    except ToolArgsError as exc:
        return Outcome(False, str(exc))
    except GastownError as exc:
        text = exc.message + (f" {exc.hint}" if exc.hint else "")
        return Outcome(False, text)


def result_text(outcome: Outcome) -> str:
    """The outcome as the text a tool result carries."""
    if isinstance(outcome.result, str):
        return outcome.result
    return json.dumps(outcome.result, ensure_ascii=False)


# --- the tools ------------------------------------------------------------------------------


def _sling(ctx: Context, a: dict[str, Any]) -> Any:
    spec = beads.NewBead(
        title=a["title"],
        body=a.get("body", ""),
        priority=a.get("priority", 2),
        rig=a["rig"],
    )
    return sling.sling_new(ctx.ledger, spec).to_json()


def _sling_batch(ctx: Context, a: dict[str, Any]) -> Any:
    tasks = a["tasks"]
    if not all(isinstance(t, dict) for t in tasks):
        raise ToolArgsError("`sling_batch`: every task must be an object with `key` and `title`.")
    has_deps = any(t.get("depends_on") for t in tasks)
    if len(tasks) > 1 and not has_deps and not a.get("parallel", False):
        raise ToolArgsError(
            "None of these tasks depends on another. If they really can all be worked at "
            "once, call again with `parallel: true`; otherwise give the later tasks "
            "`depends_on`."
        )
    doc = {
        "tasks": [
            {
                "key": t.get("key"),
                "title": t.get("title"),
                "body": t.get("body", ""),
                "needs": t.get("depends_on", []),
            }
            for t in tasks
        ]
    }
    the_plan = plan.parse(doc, "the batch")
    told = sections(settings.effective(ctx.ledger, ctx.town, a["rig"], ctx.environ)).convoys
    view = convoys.create(
        ctx.ledger,
        a["title"],
        a["rig"],
        the_plan,
        bool(a.get("staged", False)),
        told.merge_mode,
    )
    made = zip(the_plan.tasks, view.beads, strict=True)  # beads come back in task order
    return {
        "convoy": view.convoy.id,
        "staged": view.convoy.staged,
        "beads": [{"key": t.key, "id": b.id, "title": b.title} for t, b in made],
        "waves": view.waves,
    }


def _list_beads(ctx: Context, a: dict[str, Any]) -> Any:
    flt = BeadFilter(
        statuses=[a["status"]] if "status" in a else None,
        rig=a.get("rig"),
        limit=a.get("limit", 50),
    )
    return [
        {"id": b.id, "title": b.title, "status": b.status, "rig": b.rig, "priority": b.priority}
        for b in beads.list_beads(ctx.ledger, flt)
    ]


def _list_blocked(ctx: Context, a: dict[str, Any]) -> Any:
    return [
        {
            "id": b.bead.id,
            "title": b.bead.title,
            "status": b.bead.status,
            "rig": b.bead.rig,
            "waiting_on": [{"id": w.id, "status": w.status} for w in b.waiting_on],
            "open_children": [{"id": c.id, "status": c.status} for c in b.open_children],
            "under": b.under,
        }
        for b in deps.blocked(ctx.ledger, a.get("rig"), a.get("limit", 50))
    ]


def _show_bead(ctx: Context, a: dict[str, Any]) -> Any:
    bead, dependents = beads.show(ctx.ledger, a["id"])
    return {**bead.to_json(), "dependents": [d.bead_id for d in dependents]}


def _update_bead(ctx: Context, a: dict[str, Any]) -> Any:
    fields: dict[str, Any] = {
        k: a[k] for k in ("title", "body", "priority", "status", "held") if k in a
    }
    if not fields:
        raise ToolArgsError("`update_bead` needs at least one field to change.")
    return beads.update(ctx.ledger, a["id"], fields, reason=a.get("reason")).to_json()


def _close_bead(ctx: Context, a: dict[str, Any]) -> Any:
    return beads.close(ctx.ledger, a["id"], reason=a.get("reason")).to_json()


def _reopen_bead(ctx: Context, a: dict[str, Any]) -> Any:
    return beads.reopen(ctx.ledger, a["id"], reason=a.get("reason")).to_json()


def _town_status(ctx: Context, a: dict[str, Any]) -> Any:
    found = status.summary(ctx.ledger)
    return {
        "beads": found.beads,
        "ready": found.ready,
        "blocked": found.blocked,
        "active_runs": [
            {"id": r.id, "bead": r.bead_id, "polecat": r.polecat, "status": r.status}
            for r in found.active_runs
        ],
        "failed_beads": [{"id": b.id, "title": b.title} for b in found.failed],
        "open_escalations": [e.to_json() for e in found.escalations],
        "dispatch_paused": found.paused,
        "merge_queue": found.merge_queue,
        "stuck_merge_requests": [
            {"id": m.id, "bead": m.bead_id, "status": m.status, "why": m.note} for m in found.stuck
        ],
    }


def _list_agents(ctx: Context, a: dict[str, Any]) -> Any:
    with ctx.ledger.store.reader() as tx:
        return [p.to_json() for p in tx.list_polecats(a.get("rig"))]


def _get_setting(ctx: Context, a: dict[str, Any]) -> Any:
    resolved = settings.effective(ctx.ledger, ctx.town, a.get("rig"), ctx.environ)
    key = a["key"]
    return {"key": key, "value": resolved.display(key), "from": resolved.origins[key]}


def _set_setting(ctx: Context, a: dict[str, Any]) -> Any:
    from gastown import config

    key = a["key"]
    value = settings.set_value(ctx.ledger, ctx.town, key, a["value"], a.get("rig"))
    return {"key": key, "value": config.masked(key, value), "rig": a.get("rig")}


_TASK = {
    "type": "object",
    "properties": {
        "key": {"type": "string", "description": "a short name other tasks use in depends_on"},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "depends_on": {
            "type": "array",
            "items": {"type": "string"},
            "description": "keys of tasks that must be done first",
        },
    },
    "required": ["key", "title"],
}

TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool(
            "sling",
            "Create one bead (a unit of work) on a rig and send it to a polecat at once.",
            [
                Arg("title", "string", "what to do, as an imperative", required=True),
                Arg("rig", "string", "the rig (repository) to work on", required=True),
                Arg("body", "string", "details, acceptance criteria"),
                Arg("priority", "integer", "0 (urgent) to 4 (later); default 2"),
            ],
            _sling,
        ),
        Tool(
            "sling_batch",
            "Create a convoy: several beads on one rig with dependencies between them. Tasks "
            "with no dependency at all are refused unless `parallel` is true.",
            [
                Arg("title", "string", "the convoy's title", required=True),
                Arg("rig", "string", "the rig to work on", required=True),
                Arg("tasks", "array", "the tasks, in order", required=True, items=_TASK),
                Arg("staged", "boolean", "create but do not dispatch until started"),
                Arg("parallel", "boolean", "the tasks are independent on purpose"),
            ],
            _sling_batch,
        ),
        Tool(
            "list_beads",
            "List beads, highest priority first.",
            [
                Arg("status", "string", "open, in_progress, in_review, closed or failed"),
                toolkit.RIG_FILTER,
                toolkit.LIMIT,
            ],
            _list_beads,
        ),
        Tool(
            "list_blocked",
            "Unfinished beads that cannot be worked yet, each with the unclosed beads it "
            "waits on, its unclosed children (a parent waits for them), or the blocked parent "
            "it is under: why work is not moving.",
            [toolkit.RIG_FILTER, toolkit.LIMIT],
            _list_blocked,
        ),
        Tool(
            "show_bead",
            "Everything about one bead, with its dependencies and dependents.",
            [toolkit.BEAD_ID],
            _show_bead,
        ),
        Tool(
            "update_bead",
            "Change a bead's title, body, priority, status or hold.",
            [
                toolkit.BEAD_ID,
                Arg("title", "string", "new title"),
                Arg("body", "string", "new body"),
                Arg("priority", "integer", "0 to 4"),
                Arg("status", "string", "a status the lifecycle allows next"),
                Arg("held", "boolean", "hold (true) or release (false) the bead"),
                Arg("reason", "string", "why, for the record"),
            ],
            _update_bead,
        ),
        Tool(
            "close_bead",
            "Close a bead (refused while its blockers are open).",
            [toolkit.BEAD_ID, toolkit.REASON],
            _close_bead,
        ),
        Tool(
            "reopen_bead",
            "Reopen a closed or failed bead, so it is dispatched again.",
            [toolkit.BEAD_ID, toolkit.REASON],
            _reopen_bead,
        ),
        Tool(
            "town_status",
            "A summary of the town: bead counts by status, active runs, failed beads and "
            "open escalations.",
            [],
            _town_status,
        ),
        Tool(
            "list_agents",
            "The polecats and what each works on.",
            [toolkit.RIG_FILTER],
            _list_agents,
        ),
        Tool(
            "get_setting",
            "Read one setting's effective value (secrets masked) and where it came from.",
            [
                Arg("key", "string", "the setting, e.g. max_polecats_per_rig", required=True),
                Arg("rig", "string", "as seen by this rig"),
            ],
            _get_setting,
        ),
        Tool(
            "set_setting",
            "Change a setting, validated, in the town or as a rig override.",
            [
                Arg("key", "string", "the setting", required=True),
                Arg("value", "string", "the value as typed on the command line", required=True),
                Arg("rig", "string", "override for this rig only"),
            ],
            _set_setting,
        ),
        *town_tools.TOOLS,
        *formula_tools.TOOLS,
        *code_tools.TOOLS,
        *forge_tools.TOOLS,
        *knowledge_tools.TOOLS,
        *mail_tools.TOOLS,
    )
}
