"""`gt inbox`: the mail people get (to `town`, everyone's, and to you), read, sent and answered.

Polecats write to the people with `gt mail send town …` (or to the person who wrote to them);
the mayor answers with its mail tools. From here a person writes to a polecat (it reads the
message at its next `gt mail check`) or to the mayor (told in its notes at its next turn).
"""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App
from gastown.cli.render import table

LISTED = 200
"""Messages `gt inbox --all` lists at most, the newest first."""


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    inbox = sub.add_parser(
        "inbox",
        parents=[shared],
        help="mail for the people: read it, answer it, write to a polecat or the mayor",
        description="Without a verb, the unread mail to `town` and to you (GT_ACTOR or your "
        "user name), newest first; --all lists what was read too.",
    )
    inbox.add_argument("--all", action="store_true", help="include mail already read")
    inbox.set_defaults(handler=list_inbox)
    verbs = inbox.add_subparsers(dest="verb", metavar="VERB")
    read = verbs.add_parser("read", parents=[shared], help="show one message and mark it read")
    read.add_argument("id", type=int, metavar="ID", help="the message id")
    read.set_defaults(handler=read_mail)
    send = verbs.add_parser(
        "send", parents=[shared], help="write to a polecat (by name), the mayor or the town"
    )
    send.add_argument("to", metavar="TO", help="a polecat's name, `mayor` or `town`")
    send.add_argument("text", metavar="TEXT", help="the message")
    send.set_defaults(handler=send_mail)
    reply = verbs.add_parser("reply", parents=[shared], help="answer a message to its sender")
    reply.add_argument("id", type=int, metavar="ID", help="the message id")
    reply.add_argument("text", metavar="TEXT", help="the answer")
    reply.set_defaults(handler=reply_mail)


def _when(stamp: str | None) -> str:
    return stamp[:19].replace("T", " ") if stamp else "-"


def list_inbox(app: App) -> int:
    from gastown.services.mail import inbox_of

    readers = inbox_of(app.actor)
    with app.store.reader() as tx:
        found = tx.inbox(readers, unread_only=not app.args.all, limit=LISTED)
        unread = tx.count_unread_mail(readers)
    data = {"unread": unread, "mail": [m.to_json() for m in found]}

    def human() -> None:
        if not found:
            app.print("No mail." if app.args.all else "No unread mail (`--all` shows the rest).")
            return
        rows = [
            (
                m.id,
                _when(m.created_at),
                m.sender,
                m.recipient,
                m.bead_id or "-",
                "" if m.read_at else "new",
                m.text.splitlines()[0],
            )
            for m in found
        ]
        app.print(table(["ID", "SENT", "FROM", "TO", "BEAD", "", "TEXT"], rows, {6: 60}))

    app.emit(data, human)
    return 0


def read_mail(app: App) -> int:
    from gastown.services.mail import inbox_of, open_mail

    m = open_mail(app.ledger, app.args.id, inbox_of(app.actor))
    about = f" about bead {m.bead_id}" if m.bead_id else ""
    app.emit(
        m.to_json(),
        f"Mail {m.id} from {m.sender} to {m.recipient}{about}, {_when(m.created_at)} UTC:\n\n"
        f"{m.text}\n\nAnswer it with `gt inbox reply {m.id} TEXT`.",
    )
    return 0


def send_mail(app: App) -> int:
    from gastown.services.mail import send

    m = send(app.ledger, app.actor, app.args.to, app.args.text)
    app.emit(m.to_json(), f"Sent mail {m.id} to {m.recipient}.")
    return 0


def reply_mail(app: App) -> int:
    from gastown.services.mail import inbox_of, reply

    m = reply(app.ledger, app.actor, app.args.id, app.args.text, inbox_of(app.actor))
    app.emit(m.to_json(), f"Sent mail {m.id} to {m.recipient} in reply to {app.args.id}.")
    return 0
