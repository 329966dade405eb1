"""`gt mayor` (a chat in the terminal), `gt mayor ask TEXT` (one turn) and `gt mayor usage`:
talk to the town's coordinator, and see what it cost."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    mayor = sub.add_parser(
        "mayor",
        parents=[shared],
        help="talk to the mayor, the town's coordinator",
        description="The mayor plans work into beads and convoys, reports and changes "
        "settings, through the town's own operations. One conversation per town; without a "
        "verb, a chat in the terminal (`/exit` or end of input ends it).",
    )
    mayor.set_defaults(handler=chat_mayor)
    verbs = mayor.add_subparsers(dest="verb", metavar="VERB")
    ask = verbs.add_parser("ask", parents=[shared], help="one turn: say something, get a reply")
    ask.add_argument("text", metavar="TEXT", help="what to tell or ask the mayor")
    ask.set_defaults(handler=ask_mayor)
    usage = verbs.add_parser("usage", parents=[shared], help="tokens and cost of the mayor")
    usage.set_defaults(handler=mayor_usage)
    triage = sub.add_parser(
        "triage",
        parents=[shared],
        help="ask the mayor to triage new issues, as one turn",
        description="Look at each forge rig's open issues for new ones not labelled for "
        "intake (each is told to the mayor once), then ask the mayor, in one turn, to "
        "triage them: label, comment, accept as beads, or close duplicates.",
    )
    triage.set_defaults(handler=triage_issues)


TRIAGE = (
    "Triage the new issues in your town notes: for each, read it, then label it, comment "
    "asking for what is missing, accept it as a bead (or plan it as a convoy), or close it as "
    "a duplicate naming the original. Say what you did, one line per issue."
)


def triage_issues(app: App) -> int:
    from gastown.mayor import open_mayor
    from gastown.record import replace
    from gastown.services import triage

    triage.look(app.ledger, app.town, app.environ)
    mayor = open_mayor(replace(app.ledger, actor="mayor"), app.town, app.environ)
    try:
        result = mayor.ask(TRIAGE)
    finally:
        mayor.close()
    app.emit(result.to_json(), result.reply or "(The mayor said nothing.)")
    return 0


def ask_mayor(app: App) -> int:
    from gastown.errors import InvalidValue
    from gastown.mayor import open_mayor
    from gastown.record import replace

    text = app.args.text.strip()
    if not text:
        raise InvalidValue("Tell the mayor something: the text is empty.")
    answer = _ask_town(app, text)
    if answer is not None:
        app.emit(answer, answer.get("reply") or "(The mayor said nothing.)")
        return 0
    mayor = open_mayor(replace(app.ledger, actor="mayor"), app.town, app.environ)
    try:
        result = mayor.ask(text)
    finally:
        mayor.close()
    app.emit(result.to_json(), result.reply or "(The mayor said nothing.)")
    return 0


ASK_TIMEOUT = 600.0
"""Seconds a turn through the town may take (a turn may call many tools)."""


def _ask_town(app: App, text: str) -> dict[str, Any] | None:
    """The turn taken by the running town process, which has the model's SDK loaded already
    (importing it costs this process seconds); None when no town is up."""
    from gastown.townrun import state
    from gastown.townrun.client import request

    address = state.read_address(app.town.path)
    if address is None:
        return None
    headers = {
        "Authorization": f"Bearer {state.token(app.town.path)}",
        "Content-Type": "application/json",
    }
    answer: dict[str, Any] = request(
        address.url, "POST", "/api/mayor/ask", headers, {"text": text}, timeout=ASK_TIMEOUT
    )
    return answer


PROMPT = "you> "
EXIT = "/exit"


def chat_mayor(app: App) -> int:
    """Read lines from stdin and answer each with one turn of the town's conversation, the
    reply streamed as it arrives; ends on end of input or `/exit`."""
    from gastown.llm import ModelFailure
    from gastown.mayor import open_mayor
    from gastown.record import replace

    mayor = open_mayor(replace(app.ledger, actor="mayor"), app.town, app.environ)

    def show(piece: str) -> None:
        app.out.write(piece)
        app.out.flush()

    try:
        while True:
            show(PROMPT)
            line = app.input.readline()
            if not line:
                show("\n")
                return 0
            text = line.strip()
            if text == EXIT:
                return 0
            if not text:
                continue
            show("mayor> ")
            try:
                result = mayor.ask(text, on_text=show)
            except ModelFailure as exc:  # the chat goes on: the next line may get through
                show("\n")
                app.err.write(f"gt: {exc.message}\n")
                app.err.flush()
                continue
            if result.stopped:
                show(f"\n(The mayor stopped after {mayor.max_steps} steps of tool calls.)")
            elif not result.reply:
                show("(The mayor said nothing.)")
            show("\n")
    finally:
        mayor.close()


def mayor_usage(app: App) -> int:
    with app.store.reader() as tx:
        used = tx.mayor_usage()
    data = {
        "messages": used.messages,
        "summaries": used.summaries,
        "input_tokens": used.input_tokens,
        "output_tokens": used.output_tokens,
        "cost_usd": round(used.cost_usd, 6),
    }
    summaries = f" ({used.summaries} summaries of older turns)" if used.summaries else ""
    app.emit(
        data,
        f"{used.messages} messages{summaries}, {used.input_tokens} input tokens, "
        f"{used.output_tokens} output tokens, ${used.cost_usd:.4f}.",
    )
    return 0
