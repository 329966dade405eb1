"""The mayor curates the town's knowledge: list the notes, add one, accept or reject what
polecats and the refinery proposed, merge notes that say the same. Like `tools.py`, thin
adapters to the service; and `brief`, the notes the mayor sees in its system prompt."""

from __future__ import annotations

from typing import Any

from gastown.errors import InvalidValue
from gastown.knowledge import ACCEPTED, PROPOSED, STATUSES, fit
from gastown.mayor.toolkit import Arg, Context, Tool
from gastown.services import knowledge
from gastown.services.ledger import Ledger
from gastown.store import knowledge as q

BRIEF_TOKENS = 2000
"""Most tokens of accepted notes the mayor's system prompt carries."""


def _json(n: Any) -> dict[str, Any]:
    keep = ("id", "text", "rig", "source", "author", "status", "bead_id", "merged_into")
    return {k: v for k, v in n.to_json().items() if k in keep}


def _list(ctx: Context, a: dict[str, Any]) -> Any:
    status = a.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidValue(f"A note's status is one of {', '.join(STATUSES)}, not '{status}'.")
    statuses = (status,) if status else (PROPOSED, ACCEPTED)
    return [_json(n) for n in knowledge.listing(ctx.ledger, rig=a.get("rig"), statuses=statuses)]


def _add(ctx: Context, a: dict[str, Any]) -> Any:
    return _json(knowledge.add(ctx.ledger, a["text"], rig=a.get("rig"), source="mayor"))


def _accept(ctx: Context, a: dict[str, Any]) -> Any:
    return _json(knowledge.accept(ctx.ledger, a["id"]))


def _reject(ctx: Context, a: dict[str, Any]) -> Any:
    return _json(knowledge.reject(ctx.ledger, a["id"]))


def _merge(ctx: Context, a: dict[str, Any]) -> Any:
    ids = a["ids"]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise InvalidValue("`ids` must be note numbers, like [3, 7].")
    return _json(knowledge.merge(ctx.ledger, ids, a["text"]))


_ID = Arg("id", "integer", "the note's number", required=True)

TOOLS = (
    Tool(
        "list_knowledge",
        "The town's notes (institutional knowledge) agents get: accepted and proposed ones, "
        "or those of one status.",
        [
            Arg("rig", "string", "this rig's notes and the town's"),
            Arg("status", "string", "proposed, accepted or rejected"),
        ],
        _list,
    ),
    Tool(
        "add_knowledge",
        "Write a note every agent of the rig (or the town) gets, accepted at once: a rule or "
        "fact about the code or how to work on it.",
        [
            Arg("text", "string", "the note, in a sentence or two", required=True),
            Arg("rig", "string", "about this rig only (default: the whole town)"),
        ],
        _add,
    ),
    Tool("accept_knowledge", "Accept a proposed note: agents get it.", [_ID], _accept),
    Tool("reject_knowledge", "Reject a note: agents no longer get it.", [_ID], _reject),
    Tool(
        "merge_knowledge",
        "Replace several notes of one rig that say the same with one accepted note.",
        [
            Arg("ids", "array", "the notes' numbers", required=True, items={"type": "integer"}),
            Arg("text", "string", "the merged note", required=True),
        ],
        _merge,
    ),
)


def brief(ledger: Ledger) -> str:
    """What the mayor knows of the town's notes: the newest accepted ones that fit
    `BRIEF_TOKENS`, and how many are proposed (empty when there are none)."""
    with ledger.store.reader() as tx:
        accepted = q.listing(tx, statuses=(ACCEPTED,))
        proposed = q.count(tx, PROPOSED)
    shown = fit(list(reversed(accepted)), BRIEF_TOKENS)
    if not shown and not proposed:
        return ""
    lines = [f"- [{n.id}] ({n.rig or 'town'}) {n.text}" for n in sorted(shown, key=lambda n: n.id)]
    text = "\nWhat the town knows (accepted notes; agents get them too):\n" + "\n".join(lines)
    if len(shown) < len(accepted):
        text += f"\n- … and {len(accepted) - len(shown)} more (list_knowledge)."
    if proposed:
        text += (
            f"\n{proposed} proposed note(s) wait to be accepted or rejected "
            "(list_knowledge status=proposed)."
        )
    return text + "\n"
