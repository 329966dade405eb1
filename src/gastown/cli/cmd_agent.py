"""What an agent runs inside its run to talk back to the town: `gt done`, `gt escalate`,
`gt checkpoint`, `gt mail send|check`, `gt prime` (and `gt status TEXT`, in `cmd_process`).

Each is one call to the town's agent routes with the run's token (see `agent_client`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from gastown.cli import agent_client
from gastown.cli.app import App
from gastown.errors import InvalidValue
from gastown.model import SEVERITIES


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    done = sub.add_parser(
        "done",
        parents=[shared],
        help="(agents) say the work is finished",
        description="Tell the town this run's work is finished. Saying it twice is harmless.",
    )
    done.add_argument("--summary", metavar="TEXT", help="what was done, in a sentence or two")
    done.set_defaults(handler=agent_done)

    escalate = sub.add_parser(
        "escalate",
        parents=[shared],
        help="ask a person to look at something (routed by escalation.routes)",
        description="Raise an escalation for a person to look at: inside a run, about its "
        "bead; outside one (a person, the mayor), about --bead or nothing in particular. The "
        "town sends it along escalation.routes; with no town up, this command does.",
    )
    escalate.add_argument("--severity", required=True, choices=SEVERITIES, help="how urgent it is")
    escalate.add_argument("--bead", metavar="ID", help="the bead it is about (outside a run)")
    escalate.add_argument("text", help="what is wrong and what is needed")
    escalate.set_defaults(handler=agent_escalate)

    checkpoint = sub.add_parser(
        "checkpoint",
        parents=[shared],
        help="(agents) keep a JSON object on the run",
        description="Keep a JSON object on this run (the latest replaces the one before).",
    )
    checkpoint.add_argument("data", metavar="JSON", help="a JSON object, like '{\"step\": 2}'")
    checkpoint.set_defaults(handler=agent_checkpoint)

    mail = sub.add_parser("mail", parents=[shared], help="(agents) send and check mail")
    verbs = mail.add_subparsers(dest="verb", metavar="VERB", required=True)
    send = verbs.add_parser(
        "send", parents=[shared], help="mail a polecat (by name), the mayor or the town"
    )
    send.add_argument("to", metavar="TO", help="a polecat's name, `mayor` or `town`")
    send.add_argument("text", help="the message")
    send.set_defaults(handler=mail_send)
    check = verbs.add_parser("check", parents=[shared], help="your unread mail (marks it read)")
    check.set_defaults(handler=mail_check)

    prime = sub.add_parser(
        "prime",
        parents=[shared],
        help="(agents) print this run's instructions again",
        description="Print the instructions this run was started with.",
    )
    prime.set_defaults(handler=agent_prime)


def agent_done(app: App) -> int:
    answer = agent_client.call(app, "POST", "done", {"summary": app.args.summary})
    said = "Already recorded" if answer["already"] else "Recorded"
    app.emit(answer, f"{said}: run {answer['run_id']} on {answer['bead_id']} is done.")
    return 0


def agent_status(app: App, text: str) -> int:
    """`gt status TEXT` (registered by `cmd_process`, which owns the `status` command)."""
    answer = agent_client.call(app, "POST", "status", {"text": text})
    app.emit(answer, f"Status of run {answer['run_id']}: {answer['status_text']}")
    return 0


def agent_escalate(app: App) -> int:
    if not agent_client.inside_run(app):
        from gastown.cli.cmd_escalations import escalate_outside_run

        return escalate_outside_run(app)
    answer = agent_client.call(
        app, "POST", "escalate", {"severity": app.args.severity, "text": app.args.text}
    )
    app.emit(
        answer,
        f"Raised escalation {answer['id']} ({answer['severity']}) on {answer['bead_id']}.",
    )
    return 0


def agent_checkpoint(app: App) -> int:
    try:
        data = json.loads(app.args.data)
    except ValueError as exc:
        raise InvalidValue(f"The checkpoint is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise InvalidValue('A checkpoint must be a JSON object, like {"step": 2}.')
    answer = agent_client.call(app, "POST", "checkpoint", {"data": data})
    app.emit(answer, f"Checkpoint kept on run {answer['run_id']} ({answer['bytes']} bytes).")
    return 0


def mail_send(app: App) -> int:
    answer = agent_client.call(app, "POST", "mail", {"to": app.args.to, "text": app.args.text})
    app.emit(answer, f"Sent mail {answer['id']} to {answer['to']}.")
    return 0


def mail_check(app: App) -> int:
    answer = agent_client.call(app, "GET", "mail")

    def human() -> None:
        if not answer["mail"]:
            app.print("No new mail.")
        for m in answer["mail"]:
            app.print(f"From {m['from']} ({m['created_at'][:19].replace('T', ' ')} UTC):")
            app.print(f"  {m['text']}")

    app.emit(answer, human)
    return 0


def agent_prime(app: App) -> int:
    answer = agent_client.call(app, "GET", "prime")
    app.emit(answer, lambda: app.print(answer["prompt"].rstrip("\n")))
    return 0
