"""`gt agents`, `gt runs`, `gt peek`: who is working on what, and what they are saying."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli import args, cmd_diff
from gastown.cli.app import App
from gastown.cli.cmd_peek import peek_run
from gastown.cli.render import table


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    agents = sub.add_parser(
        "agents",
        parents=[shared],
        help="the polecats and what they do",
        description="Each polecat: state, bead, runtime, when its run "
        "started, its last activity, tokens and cost.",
    )
    agents.add_argument("--rig", help="only this rig")
    agents.set_defaults(handler=list_agents)
    runs = sub.add_parser(
        "runs",
        parents=[shared],
        help="runs, newest last",
        description="Every attempt of every polecat on every bead.",
    )
    runs.add_argument("--bead", help="only this bead's runs")
    runs.add_argument("--rig", help="only this rig")
    runs.add_argument("--active", action="store_true", help="only runs still going")
    runs.add_argument("--limit", type=args.limit, default=50, help="newest N (default 50; 0: all)")
    runs.set_defaults(handler=list_runs)
    verbs = runs.add_subparsers(dest="verb", metavar="VERB", parser_class=type(runs))
    cmd_diff.add_run_diff(verbs, shared)  # `gt runs diff RUN`; `gt runs` alone lists them
    peek = sub.add_parser(
        "peek",
        parents=[shared],
        help="a run's transcript, read as a conversation",
        description="POLECAT shows its current (or last) run; RUN a given one. What the "
        "agent said, each tool call on one line with its result's first line, errors marked "
        "and the tokens and cost spent so far. With -f it follows a running agent from its "
        "first line until the run ends.",
    )
    peek.add_argument("target", metavar="POLECAT|RUN", help="a polecat's name or a run id")
    peek.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    peek.add_argument("-n", "--lines", type=args.count, default=0, help="only the last N events")
    peek.add_argument("--raw", action="store_true", help="the transcript's JSON lines as stored")
    peek.add_argument("--interval", type=float, default=0.25, help=argparse.SUPPRESS)
    peek.set_defaults(handler=peek_run)

    agent = sub.add_parser(
        "agent",
        parents=[shared],
        help="stop or reset a polecat",
        description="Act on a polecat through the running town process.",
    )
    asub = agent.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(agent)
    )
    verbs = {
        "stop": (
            "stop its run; its bead is held",
            "Stop the polecat's run. The bead goes back to open and held (unhold it to let it "
            "be dispatched again); the attempt is not counted.",
        ),
        "reset": (
            "stop its run; retry the bead afresh",
            "Stop the polecat's run (if any); its bead is retried from scratch with its "
            "attempts reset.",
        ),
    }
    for verb, (said, description) in verbs.items():
        act = asub.add_parser(verb, parents=[shared], help=said, description=description)
        act.add_argument("name", metavar="POLECAT", help="the polecat")
        act.set_defaults(handler=control_agent)
    nudge = sub.add_parser(
        "nudge",
        parents=[shared],
        help="tell a working polecat something",
        description="The message goes into the agent's running session when its runtime "
        "takes messages mid-run (Claude Code), with the built-in agent's next tool result, else "
        "it waits in mail for the agent's next `gt mail check`; the answer says which. A "
        "polecat with no run cannot be nudged.",
    )
    nudge.add_argument("name", metavar="POLECAT", help="the polecat")
    nudge.add_argument("text", help="what to tell it")
    nudge.set_defaults(handler=control_agent, action="nudge")


def _money(value: float) -> str:
    return f"${value:.4f}" if value else "-"


def _when(stamp: str | None) -> str:
    return stamp[11:19] if stamp else "-"


def list_agents(app: App) -> int:
    with app.store.reader() as tx:
        polecats = tx.list_polecats(app.args.rig)
        runs = {p.name: tx.get_run(p.run_id) if p.run_id else None for p in polecats}
    data = []
    for p in polecats:
        run = runs[p.name]
        data.append(
            {
                **p.to_json(),
                "run": None if run is None else run.to_json(),
            }
        )

    def human() -> None:
        if not polecats:
            app.print("No polecats yet: they are named when work is dispatched.")
            return
        rows = []
        for p in polecats:
            r = runs[p.name]
            rows.append(
                (
                    p.name,
                    p.rig,
                    p.state,
                    p.bead_id or "-",
                    r.runtime if r else "-",
                    _when(r.started_at if r else None),
                    _when(r.last_heartbeat if r else None),
                    f"{r.tokens_in}/{r.tokens_out}" if r else "-",
                    _money(r.cost_usd if r else 0.0),
                    (r.status_text or "-") if r and r.active else "-",
                )
            )
        app.print(
            table(
                [
                    "POLECAT",
                    "RIG",
                    "STATE",
                    "BEAD",
                    "RUNTIME",
                    "STARTED",
                    "ACTIVE",
                    "TOKENS IN/OUT",
                    "COST",
                    "SAYS",
                ],
                rows,
                {9: 50},
            )
        )

    app.emit(data, human)
    return 0


def list_runs(app: App) -> int:
    from gastown.model import ACTIVE_RUN_STATUSES
    from gastown.services.ledger import resolve_bead_id

    with app.store.reader() as tx:
        bead = resolve_bead_id(tx, app.town.prefix, app.args.bead) if app.args.bead else None
        found = tx.list_runs(
            bead_id=bead,
            rig=app.args.rig,
            statuses=ACTIVE_RUN_STATUSES if app.args.active else None,
        )
    if app.args.limit:
        found = found[-app.args.limit :]
    app.emit(
        [r.to_json() for r in found],
        lambda: app.print(
            table(
                [
                    "RUN",
                    "BEAD",
                    "POLECAT",
                    "RUNTIME",
                    "TRY",
                    "STATUS",
                    "STARTED",
                    "ENDED",
                    "OUTCOME",
                    "COST",
                ],
                [
                    (
                        r.id,
                        r.bead_id,
                        r.polecat,
                        r.runtime,
                        r.attempt,
                        r.status,
                        _when(r.started_at),
                        _when(r.ended_at),
                        r.outcome or "-",
                        _money(r.cost_usd),
                    )
                    for r in found
                ],
                {8: 40},
            )
            if found
            else "No runs."
        ),
    )
    return 0


def control_agent(app: App) -> int:
    from gastown.cli.agent_client import call_town

    body = {"actor": app.actor, "text": getattr(app.args, "text", "")}
    result = call_town(app, "POST", f"/api/agents/{app.args.name}/{app.args.action}", body)
    if app.args.action == "nudge":
        human = f"Nudged {app.args.name}: {result['said']}."
    elif result.get("stopping"):
        after = "held" if app.args.action == "stop" else "retried afresh"
        human = f"Stopping {app.args.name}'s run {result['run']}; its bead will be {after}."
    else:
        human = f"{app.args.name} had no run to stop."
    app.emit(result, human)
    return 0
