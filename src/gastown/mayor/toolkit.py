"""The declaration of the mayor's tools: what a tool is, what its arguments are, and the check
of a call's arguments against them. The tools themselves are in `tools.py` and
`town_tools.py`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gastown.record import Record, field
from gastown.services.ledger import Ledger
from gastown.town import Town


class Arg(Record):
    """One argument of a tool."""

    name: str
    """The argument's name."""
    type: str
    """A JSON Schema type: `string`, `integer`, `boolean`, `array`."""
    doc: str
    """What to give, for the model."""
    required: bool = False
    """Whether the tool needs it."""
    items: dict[str, Any] | None = None
    """The schema of an array's items."""


# Arguments many tools take, worded once so the model reads them alike in every tool.
BEAD_ID = Arg("id", "string", "the bead id", required=True)
"""The bead a tool acts on."""
RIG_FILTER = Arg("rig", "string", "only this rig")
"""Narrows a listing to one rig."""
LIMIT = Arg("limit", "integer", "at most this many (default 50)")
"""Caps a listing's length."""
REASON = Arg("reason", "string", "why")
"""Why, for the record."""


Control = Callable[[str, str, str, str], dict[str, Any]]
"""`TownLoop.control` as the mayor reaches it: `(polecat, action, actor, text)`, where the action
is `stop`, `reset` or `nudge`, gives the town process's answer (see `agents.py`)."""

FETCH_EVERY = 60.0
"""Seconds between fetches of a rig's target branch for the code tools."""


class Context(Record):
    """What a tool may use: the ledger, the town, and the environment settings come from."""

    ledger: Ledger
    town: Town
    environ: Mapping[str, str] = field(default_factory=dict)
    control: Control | None = None
    """How agents are stopped and reset; None reaches the running town through its API."""
    fetch_every: float = FETCH_EVERY
    """The code tools fetch a rig's target branch at most once in this many seconds."""


class Tool(Record):
    """One tool the model may call."""

    name: str
    description: str
    args: list[Arg]
    run: Callable[[Context, dict[str, Any]], Any]

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the tool's input."""
        props: dict[str, Any] = {}
        for a in self.args:
            props[a.name] = {"type": a.type, "description": a.doc}
            if a.items is not None:
                props[a.name]["items"] = a.items
        required = [a.name for a in self.args if a.required]
        return {"type": "object", "properties": props, "required": required}


class ToolArgsError(Exception):
    """A tool call whose arguments do not fit the tool's declaration."""


class Outcome(Record):
    """What a tool call gave back: JSON-able data, or an error message."""

    ok: bool
    result: Any


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
}


def check_args(tool: Tool, args: Mapping[str, Any]) -> dict[str, Any]:
    """`args` if they fit `tool`, else ToolArgsError saying what is wrong."""
    known = {a.name: a for a in tool.args}
    unknown = sorted(set(args) - set(known))
    if unknown:
        raise ToolArgsError(
            f"`{tool.name}` has no argument(s) {', '.join(unknown)}; "
            f"it takes {', '.join(known) or 'none'}."
        )
    for a in tool.args:
        if a.name not in args:
            if a.required:
                raise ToolArgsError(f"`{tool.name}` needs the argument `{a.name}` ({a.doc}).")
            continue
        value = args[a.name]
        bad_bool = a.type == "integer" and isinstance(value, bool)
        if not isinstance(value, _TYPES[a.type]) or bad_bool:
            raise ToolArgsError(f"`{tool.name}`: `{a.name}` must be a {a.type}, not {value!r}.")
    return dict(args)
