"""`gt pause`, `gt resume` and `gt drain`: the operator's levers on dispatch."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli import args
from gastown.cli.app import App

POLL = 0.25
"""Seconds between looks while draining."""


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    pause = sub.add_parser(
        "pause",
        parents=[shared],
        help="stop dispatching new work (running work goes on)",
        description="Stop dispatching new work to the town, or to one rig. Runs already going "
        "carry on to their end; `gt resume` dispatches again.",
    )
    pause.add_argument("--rig", help="pause this rig only")
    pause.add_argument("--reason", default="", help="why, shown wherever the pause is")
    pause.set_defaults(handler=pause_dispatch)

    resume = sub.add_parser(
        "resume",
        parents=[shared],
        help="dispatch again: lift pauses, close the breaker, grant used-up budgets",
        description="Lift the pause of the town (and of every rig), or of one rig; close the "
        "circuit breaker at once (town-wide); and let work stopped by a used-up budget go on "
        "for another budget's worth. Says what it did; with nothing to do it fails.",
    )
    resume.add_argument("--rig", help="resume this rig only")
    resume.set_defaults(handler=resume_dispatch)

    drain = sub.add_parser(
        "drain",
        parents=[shared],
        help="pause, then wait until running work has ended",
        description="Pause dispatch (the town, or one rig) and wait until every run there has "
        "ended, printing each change; dispatch stays paused (`gt resume`).",
    )
    drain.add_argument("--rig", help="drain this rig only")
    drain.add_argument("--reason", default="draining", help="why (default: draining)")
    drain.add_argument(
        "--timeout",
        type=args.whole(1, 7 * 24 * 3600),
        default=None,
        metavar="SECONDS",
        help="give up (exit 1) if runs are still going after this long",
    )
    drain.set_defaults(handler=drain_dispatch)


def pause_dispatch(app: App) -> int:
    from gastown.services import controls

    done = controls.pause(app.ledger, app.args.rig, app.args.reason, app.town.path)
    where = f"on rig {done['rig']}" if done["rig"] else "town-wide"
    if done["already"]:
        text = f"Dispatch was already paused {where}: " + controls.describe_pause(done, None)
    else:
        text = f"Paused dispatch {where}; running work goes on. `gt resume` dispatches again."
    app.emit(done, text)
    return 0


def resume_dispatch(app: App) -> int:
    from gastown.services import controls

    done = controls.resume(app.ledger, app.town.settings, app.environ, app.args.rig, app.town.path)
    app.emit(done.to_json(), done.describe())
    return 0


def drain_dispatch(app: App) -> int:
    import time

    from gastown.errors import Conflict
    from gastown.services import controls
    from gastown.townrun import state

    rig = app.args.rig
    paused = controls.pause(app.ledger, rig, app.args.reason, app.town.path)
    stream = app.err if app.json else app.out  # --json keeps stdout for the final state

    def say(text: str) -> None:
        stream.write(text)
        stream.flush()

    where = f"rig {rig}" if rig else "the town"
    say(f"Dispatch paused on {where}; waiting for running work to end.\n")
    start = time.monotonic()
    last: tuple[str, ...] | None = None
    while True:
        runs = controls.active_runs(app.ledger, rig)
        names = tuple(sorted(f"{r.id} ({r.bead_id}, {r.polecat})" for r in runs))
        if not runs:
            break
        if names != last:
            say(f"  {len(runs)} running: {', '.join(names)}\n")
            last = names
        if state.read_address(app.town.path) is None:
            raise Conflict(
                f"The town is down, so its {len(runs)} running run(s) cannot end.",
                hint="`gt up -d` starts it; it follows or requeues them, and a drain can finish.",
            )
        if app.args.timeout is not None and time.monotonic() - start > app.args.timeout:
            raise Conflict(
                f"{len(runs)} run(s) still going on {where} after {app.args.timeout} s; "
                "dispatch stays paused.",
                hint="Run `gt drain` again to keep waiting, or `gt agent stop NAME` to stop one.",
            )
        time.sleep(POLL)
    data = {
        "rig": rig,
        "paused": {k: paused[k] for k in ("since", "reason", "by")},
        "active_runs": 0,
        "drained": True,
    }
    app.emit(
        data, f"Drained {where}: no run is going. Dispatch stays paused; `gt resume` resumes it."
    )
    return 0
