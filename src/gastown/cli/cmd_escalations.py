"""`gt escalations` and `gt escalation ack ID`: what people must look at, and saying they did."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli import args
from gastown.cli.app import App
from gastown.cli.render import plural, table


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    listing = sub.add_parser(
        "escalations",
        parents=[shared],
        help="what needs a person: open escalations",
        description="Escalations raised by agents and the town, oldest first.",
    )
    listing.add_argument("--all", action="store_true", help="include acknowledged ones")
    listing.set_defaults(handler=list_escalations)

    one = sub.add_parser("escalation", parents=[shared], help="acknowledge an escalation")
    verbs = one.add_subparsers(dest="verb", metavar="VERB", required=True)
    ack = verbs.add_parser("ack", parents=[shared], help="say you have seen to it")
    ack.add_argument("id", type=args.record_id, metavar="ID", help="the escalation's number")
    ack.set_defaults(handler=ack_escalation)


def list_escalations(app: App) -> int:
    from gastown.services import escalations

    found = escalations.list_(app.ledger, include_acknowledged=app.args.all)

    def human() -> None:
        if not found:
            app.print("No escalations." if app.args.all else "No open escalations.")
            return
        rows = [
            (
                e.id,
                e.severity,
                e.bead_id or "-",
                e.created_at[:19].replace("T", " "),
                f"acked by {e.acknowledged_by}" if e.acknowledged_at else "open",
                e.message,
            )
            for e in found
        ]
        app.print(table(["ID", "SEVERITY", "BEAD", "RAISED (UTC)", "STATE", "MESSAGE"], rows))
        app.print(f"\n{plural(len(found), 'escalation')}; `gt escalation ack ID` clears one.")

    app.emit([e.to_json() for e in found], human)
    return 0


def ack_escalation(app: App) -> int:
    from gastown.services import escalations

    done = escalations.acknowledge(app.ledger, app.args.id)
    app.emit(done.to_json(), f"Acknowledged escalation {done.id} ({done.severity}).")
    return 0
