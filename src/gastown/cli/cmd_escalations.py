"""`gt escalations` and `gt escalation ack ID`: what people must look at, and saying they did."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli import args
from gastown.cli.app import App
from gastown.cli.render import plural, table
from gastown.errors import UsageError


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    listing = sub.add_parser(
        "escalations",
        parents=[shared],
        help="what needs a person: open escalations",
        description="Escalations raised by agents and the town, oldest first.",
    )
    listing.add_argument("--all", action="store_true", help="include acknowledged ones")
    listing.add_argument(
        "show", nargs="?", choices=["show"], help="`show ID`: one escalation and its routes"
    )
    listing.add_argument("id", nargs="?", type=args.record_id, metavar="ID", help=argparse.SUPPRESS)
    listing.set_defaults(handler=list_escalations)

    one = sub.add_parser("escalation", parents=[shared], help="show or acknowledge an escalation")
    verbs = one.add_subparsers(dest="verb", metavar="VERB", required=True)
    show = verbs.add_parser("show", parents=[shared], help="one escalation and where it was sent")
    show.add_argument("id", type=args.record_id, metavar="ID", help="the escalation's number")
    show.set_defaults(handler=show_escalation)
    ack = verbs.add_parser("ack", parents=[shared], help="say you have seen to it")
    ack.add_argument("id", type=args.record_id, metavar="ID", help="the escalation's number")
    ack.set_defaults(handler=ack_escalation)


def list_escalations(app: App) -> int:
    from gastown.services import escalations

    if app.args.show:
        if app.args.id is None:
            raise UsageError("Say which escalation to show: `gt escalations show ID`.")
        return show_escalation(app)
    if app.args.id is not None:
        raise UsageError("An escalation's number goes after show: `gt escalations show ID`.")
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


def show_escalation(app: App) -> int:
    from gastown.services import escalations

    found = escalations.show(app.ledger, app.args.id)

    def human() -> None:
        state = f"acked by {found['acknowledged_by']}" if found["acknowledged_at"] else "open"
        app.print(f"Escalation {found['id']} ({found['severity']}, {state})")
        app.print(f"  raised {found['created_at'][:19].replace('T', ' ')} UTC")
        if found["bead_id"]:
            app.print(f"  bead   {found['bead_id']}")
        app.print(f"  {found['message']}")
        routing = found["routing"]
        if routing is None:
            app.print("\nNot routed yet: the town sends it along escalation.routes when it is up.")
            return
        if not routing["sent"]:
            app.print(f"\nRouted at {routing['severity']}: no route takes it (escalation.routes).")
            return
        rows = [
            (
                s["at"][:19].replace("T", " "),
                s["severity"],
                "sent" if s["ok"] else "FAILED",
                s["attempts"],
                s["route"],
                s["error"] or "",
            )
            for s in routing["sent"]
        ]
        app.print("")
        app.print(table(["AT (UTC)", "SEVERITY", "OUTCOME", "TRIES", "ROUTE", "ERROR"], rows))

    app.emit(found, human)
    return 0


def escalate_outside_run(app: App) -> int:
    """`gt escalate` by a person or the mayor: raised here; routed by the town if it is up,
    else by this command, which then says how each route went."""
    import asyncio

    from gastown import config
    from gastown.services import escalations
    from gastown.services.routing import Router
    from gastown.townrun import state

    raised = escalations.raise_about(app.ledger, app.args.severity, app.args.text, app.args.bead)
    about = f" on {raised.bead_id}" if raised.bead_id else ""
    said = f"Raised escalation {raised.id} ({raised.severity}){about}"
    if state.read_address(app.town.path) is not None:
        app.emit({**raised.to_json(), "sent": None}, f"{said}; the town sends it on.")
        return 0
    settings = config.resolve(app.town.settings, None, app.environ).values
    done = asyncio.run(Router(app.ledger, lambda: settings, app.ledger.clock).pass_())
    sent = [s for e, mine in done if e.id == raised.id for s in mine]
    failed = [s for s in sent if not s.ok]
    app.emit(
        {**raised.to_json(), "sent": [s.to_json() for s in sent]},
        lambda: _say_sent(app, said, sent, failed),
    )
    return 0


def _say_sent(app: App, said: str, sent: list[Any], failed: list[Any]) -> None:
    if not sent:
        app.print(f"{said}; no route takes it (escalation.routes).")
        return
    app.print(f"{said}; sent along {plural(len(sent) - len(failed), 'route')}.")
    for s in failed:
        app.print(f"  {s.route}: failed after {s.attempts} tries: {s.error}")
