"""The mayor's mail: what polecats and people wrote to `mayor` (told first in its town notes),
read in full, answered, or marked read, through the same mail service as `gt inbox`."""

from __future__ import annotations

from typing import Any

from gastown.mayor.toolkit import Arg, Context, Tool
from gastown.model import MAYOR
from gastown.services import mail

READERS = (MAYOR,)
LISTED = 50
"""Messages `list_mail` gives back at most, the newest first."""


def _list_mail(ctx: Context, a: dict[str, Any]) -> Any:
    with ctx.ledger.store.reader() as tx:
        found = tx.inbox(READERS, unread_only=not a.get("all", False), limit=LISTED)
    return [m.to_json() for m in found]


def _read_mail(ctx: Context, a: dict[str, Any]) -> Any:
    return mail.open_mail(ctx.ledger, a["id"], READERS).to_json()


def _reply_mail(ctx: Context, a: dict[str, Any]) -> Any:
    sent = mail.reply(ctx.ledger, MAYOR, a["id"], a["text"], READERS)
    return {"sent": sent.id, "to": sent.recipient, "in_reply_to": a["id"]}


def _mark_mail_read(ctx: Context, a: dict[str, Any]) -> Any:
    ids = [int(i) for i in a["ids"]]
    with ctx.ledger.store.transaction() as tx:
        mine = [i for i in ids if (m := tx.get_mail(i)) is not None and m.recipient == MAYOR]
        marked = mail.mark_in(ctx.ledger, tx, MAYOR, mine)
    return {"marked": marked, "not_yours_or_unknown": sorted(set(ids) - set(mine))}


TOOLS: tuple[Tool, ...] = (
    Tool(
        "list_mail",
        "Mail to the mayor from polecats and people: the unread, or all (newest first).",
        [Arg("all", "boolean", "include mail already read")],
        _list_mail,
    ),
    Tool(
        "read_mail",
        "One message to the mayor in full; it is marked read.",
        [Arg("id", "integer", "the message id", required=True)],
        _read_mail,
    ),
    Tool(
        "reply_mail",
        "Answer a message to the mayor: mail back to its sender (a polecat reads it with "
        "`gt mail check`, a person in their inbox); the message is marked read.",
        [
            Arg("id", "integer", "the message id", required=True),
            Arg("text", "string", "the answer", required=True),
        ],
        _reply_mail,
    ),
    Tool(
        "mark_mail_read",
        "Mark messages to the mayor read without answering them.",
        [Arg("ids", "array", "message ids", required=True, items={"type": "integer"})],
        _mark_mail_read,
    ),
)
