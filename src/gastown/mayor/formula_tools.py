"""The mayor's formula tools: list the reusable plans and run one into a convoy, as
`gt formula list|run` do (`services.formulas`)."""

from __future__ import annotations

from typing import Any

from gastown.mayor.toolkit import Arg, Context, Tool, ToolArgsError
from gastown.services import formulas


def _list_formulas(ctx: Context, a: dict[str, Any]) -> Any:
    clone = ctx.town.rig_path(a["rig"]) if a.get("rig") else None
    return [
        {k: v for k, v in f.to_json().items() if k in ("name", "source", "description", "vars")}
        for f in formulas.all_(ctx.town.path, clone).values()
    ]


def _run_formula(ctx: Context, a: dict[str, Any]) -> Any:
    given: dict[str, str] = {}
    for pair in a.get("vars", []):
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip():
            raise ToolArgsError(f"`run_formula`: each of vars is KEY=VALUE, not '{pair}'.")
        given[key.strip()] = value
    formula, view = formulas.run(
        ctx.ledger, ctx.town, a["name"], given, a["rig"], a.get("staged"), ctx.environ
    )
    return {
        "formula": formula.name,
        "convoy": view.convoy.id,
        "title": view.convoy.title,
        "staged": view.convoy.staged,
        "beads": [{"id": b.id, "title": b.title} for b in view.beads],
        "waves": view.waves,
    }


TOOLS: tuple[Tool, ...] = (
    Tool(
        "list_formulas",
        "Reusable plans (feature, bugfix, dependency-update, docs, sweep, and the town's and "
        "rig's own) with their variables.",
        [Arg("rig", "string", "include this rig's own formulas")],
        _list_formulas,
    ),
    Tool(
        "run_formula",
        "Make the convoy a formula describes on a rig, its variables filled in. `sweep` makes "
        "one bead per file matching a pattern, then one tying them together.",
        [
            Arg("name", "string", "the formula", required=True),
            Arg("rig", "string", "the rig", required=True),
            Arg(
                "vars",
                "array",
                "variables as KEY=VALUE strings",
                items={"type": "string"},
            ),
            Arg("staged", "boolean", "create the convoy staged"),
        ],
        _run_formula,
    ),
)
