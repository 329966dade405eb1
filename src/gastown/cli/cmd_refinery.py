"""`gt mq`, `gt mr show|diff|log|retry` and `gt refinery run`: the merge queue and what the
refinery did with each merge request."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli import args, cmd_diff
from gastown.cli.app import App
from gastown.cli.render import plural, table


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    mq = sub.add_parser(
        "mq",
        parents=[shared],
        help="the merge queue: what waits for the refinery",
        description="Merge requests not yet merged or failed, in the order the refinery "
        "takes them (bead priority, then age), with gate results, the reviewer's verdict "
        "and pull request links.",
    )
    mq.add_argument("--rig", metavar="RIG", help="only this rig's queue")
    mq.add_argument("--all", action="store_true", help="include merged and failed ones")
    mq.set_defaults(handler=show_queue)

    mr = sub.add_parser("mr", parents=[shared], help="one merge request: show, diff, log, retry")
    verbs = mr.add_subparsers(dest="verb", metavar="VERB", required=True)
    show = verbs.add_parser(
        "show", parents=[shared], help="gate results, review comments, pull request, events"
    )
    show.add_argument("id", metavar="ID", help="a merge request id (or its start)")
    show.set_defaults(handler=show_mr)
    log = verbs.add_parser("log", parents=[shared], help="the full output of one gate")
    log.add_argument("id", metavar="ID", help="the merge request id")
    log.add_argument(
        "--gate",
        type=args.count,
        default=0,
        metavar="N",
        help="which gate (default: the failing one)",
    )
    log.set_defaults(handler=gate_log)
    retry = verbs.add_parser("retry", parents=[shared], help="queue a held merge request again")
    retry.add_argument("id", metavar="ID", help="the merge request id")
    retry.set_defaults(handler=retry_mr)
    cmd_diff.add_mr_diff(verbs, shared)

    refinery = sub.add_parser(
        "refinery", parents=[shared], help="run the refinery here, without the town process"
    )
    rverbs = refinery.add_subparsers(dest="verb", metavar="VERB", required=True)
    run = rverbs.add_parser(
        "run",
        parents=[shared],
        help="work the merge queue until it is idle",
        description="Run refinery steps on each rig (or one) until nothing more can be done "
        "now. Safe beside `gt up`: one step at a time holds a rig.",
    )
    run.add_argument("--rig", metavar="RIG", help="only this rig")
    run.add_argument("--once", action="store_true", help="one step per rig, then stop")
    run.set_defaults(handler=run_refinery)


def show_queue(app: App) -> int:
    from gastown.services import merge_requests

    rows = merge_requests.queue(app.ledger, app.args.rig, everything=app.args.all)

    def human() -> None:
        if not rows:
            app.print("The merge queue is empty.")
            return
        app.print(
            table(
                ["MR", "STATE", "BEAD", "TITLE", "TARGET", "P", "GATES", "VERDICT", "PR / NOTE"],
                [
                    (
                        r["id"],
                        r["status"],
                        r["bead_id"] or r["convoy_id"],
                        r["title"][:40],
                        r["target"],
                        r["priority"],
                        r["gates"],
                        r["verdict"] or "-",
                        r["pr_url"] or (r["note"] or "")[:60],
                    )
                    for r in rows
                ],
            )
        )
        app.print(f"\n{plural(len(rows), 'merge request')}; `gt mr show ID` for one in full.")

    app.emit(rows, human)
    return 0


def show_mr(app: App) -> int:
    from gastown.services import merge_requests

    mr, events = merge_requests.show(app.ledger, app.args.id)

    def human() -> None:
        who = mr.bead_id or f"convoy {mr.convoy_id}"
        app.print(f"{mr.id}  {mr.status}  {who}  {mr.branch} → {mr.target}")
        if mr.summary:
            app.print(f"  {mr.summary}")
        app.print(f"  head {mr.head_commit[:10]}  base {mr.base_commit[:10]}  P{mr.priority}")
        if mr.merged_commit:
            app.print(f"  merged as {mr.merged_commit[:10]} at {mr.landed_at}")
        if mr.pr_url:
            app.print(f"  pull request: {mr.pr_url}")
        if mr.note:
            app.print(f"  why: {mr.note}")
        if mr.gates:
            app.print("\nGates:")
            for n, g in enumerate(mr.gates, 1):
                state = "excused" if g.get("excused") else "passed" if g.get("ok") else "FAILED"
                app.print(f"  {n}. {g['command']}: {state} (exit {g['exit']}, {g['seconds']} s)")
                if not g.get("ok") and g.get("log_tail"):
                    for line in str(g["log_tail"]).splitlines()[-15:]:
                        app.print(f"       {line}")
        if mr.review:
            app.print(f"\nReview ({mr.verdict}, {mr.review_cycles} round(s) of changes):")
            app.print(f"  {mr.review.get('summary', '')}")
            for c in mr.review.get("comments") or []:
                where = (c.get("path") or "general") + (f":{c['line']}" if c.get("line") else "")
                app.print(f"  - {where}: {c['body']}")
        if mr.rework_bead_id:
            app.print(f"\nRework bead: {mr.rework_bead_id}")
        if events:
            app.print("\nEvents:")
            for e in events:
                app.print(f"  {e.at[:19].replace('T', ' ')}  {e.kind:<14} {e.reason or ''}")

    app.emit({**mr.to_json(), "events": [e.to_json() for e in events]}, human)
    return 0


def gate_log(app: App) -> int:
    from gastown.services import merge_requests

    mr, _ = merge_requests.show(app.ledger, app.args.id)
    index = app.args.gate or next(
        (n for n, g in enumerate(mr.gates, 1) if not g.get("ok")), len(mr.gates)
    )
    text = merge_requests.gate_log(app.town.path, mr, index)
    app.emit({"mr": mr.id, "gate": index, "log": text}, text.rstrip("\n"))
    return 0


def retry_mr(app: App) -> int:
    from gastown.services import merge_requests

    mr = merge_requests.retry(app.ledger, app.args.id)
    app.emit(mr.to_json(), f"Merge request {mr.id} is queued again.")
    return 0


def run_refinery(app: App) -> int:
    from gastown.errors import NotFound
    from gastown.refinery.step import Progress, run_step

    with app.store.reader() as tx:
        rigs = [r.name for r in tx.list_rigs()]
    if app.args.rig is not None:
        if app.args.rig not in rigs:
            raise NotFound(f"There is no rig '{app.args.rig}'.", hint="`gt rig list` shows them.")
        rigs = [app.args.rig]
    total = Progress()
    for rig in rigs:
        while True:
            got = run_step(app.town, rig, dict(app.environ), actor=app.actor)
            total.add(got)
            if not app.json:
                for mr in got.landed:
                    app.print(f"{rig}: landed {mr}")
                for mr in got.reworked:
                    app.print(f"{rig}: sent {mr} back for rework")
                for mr in got.held:
                    app.print(f"{rig}: held {mr} for a person (see `gt escalations`)")
            if app.args.once or got.busy or not got.changed:
                break
    human = (
        "Another refinery step holds a rig; try again shortly."
        if total.busy
        else f"Done: {plural(len(total.landed), 'merge request')} landed, "
        f"{len(total.reworked)} sent back, {len(total.held)} held."
    )
    app.emit(total.to_json(), human)
    return 0
