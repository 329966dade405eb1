"""`gt convoy`: groups of beads that depend on each other and land together."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App
from gastown.cli.render import STATUS_MARK, plural, table
from gastown.model import CONVOY_LANDED, CONVOY_STATUSES, MERGE_MODES, Convoy


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    convoy = sub.add_parser(
        "convoy",
        parents=[shared],
        help="create and steer convoys",
        description="A convoy is a set of beads with dependencies that lands together.",
    )
    csub = convoy.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(convoy)
    )
    create = csub.add_parser(
        "create",
        parents=[shared],
        help="a convoy from a plan file or --task titles",
        description="From a plan (TOML, or JSON by extension) listing [[tasks]] with key, "
        "title, body, priority and needs = [keys]; or from repeated --task TITLE for "
        "independent tasks. The whole plan is checked before anything is written.",
    )
    create.add_argument("title", nargs="?", help="convoy title (default: the plan's title)")
    create.add_argument("--rig", help="the rig (default: the plan's, or the only rig)")
    src = create.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", metavar="PLAN", help="plan file")
    src.add_argument("--task", action="append", metavar="TITLE", help="an independent task")
    staged = create.add_mutually_exclusive_group()
    staged.add_argument(
        "--staged",
        dest="staged",
        action="store_const",
        const=True,
        help="create without releasing its beads (gt convoy start releases)",
    )
    staged.add_argument(
        "--no-staged",
        dest="staged",
        action="store_const",
        const=False,
        help="release its beads at once (overrides staged_convoys_default)",
    )
    create.add_argument(
        "--merge-mode", choices=MERGE_MODES, help="default: the convoy_merge_mode setting"
    )
    create.set_defaults(handler=convoy_create)

    ls = csub.add_parser("list", parents=[shared], help="convoys with progress")
    ls.add_argument("--rig", help="only this rig")
    ls.add_argument("--status", choices=CONVOY_STATUSES, help="only this status")
    ls.set_defaults(handler=convoy_list)
    show = csub.add_parser("show", parents=[shared], help="one convoy, its beads in order")
    show.add_argument("id", help="the convoy id")
    show.set_defaults(handler=convoy_show)
    start = csub.add_parser("start", parents=[shared], help="release a staged convoy")
    start.add_argument("id", help="the convoy id")
    start.set_defaults(handler=convoy_start)
    close = csub.add_parser(
        "close", parents=[shared], help="land a finished convoy, or cancel one (--force)"
    )
    close.add_argument("id", help="the convoy id")
    close.add_argument("--reason", help="why, for the event log")
    close.add_argument(
        "--force",
        action="store_true",
        help="close its unfinished beads too; the convoy is cancelled, not landed",
    )
    close.set_defaults(handler=convoy_close)
    add = csub.add_parser("add", parents=[shared], help="add beads to a convoy")
    add.add_argument("id", help="the convoy id")
    add.add_argument("beads", nargs="+", metavar="BEAD", help="bead ids to add")
    add.set_defaults(handler=convoy_add)
    rm = csub.add_parser("remove", parents=[shared], help="take beads out of a convoy")
    rm.add_argument("id", help="the convoy id")
    rm.add_argument("beads", nargs="+", metavar="BEAD", help="bead ids to take out")
    rm.set_defaults(handler=convoy_remove)


def convoy_create(app: App) -> int:
    from gastown.cli.cmd_beads import _default_rig
    from gastown.errors import UsageError
    from gastown.services import convoys, plan

    a = app.args
    if a.file:
        the_plan = plan.read(app.path(a.file))
    else:
        the_plan = plan.parse(
            {"tasks": [{"key": str(i + 1), "title": t} for i, t in enumerate(a.task)]}, "--task"
        )
    title = a.title or the_plan.title
    if not title:
        raise UsageError("The convoy needs a title.", hint="Give it as the first argument.")
    rig = _default_rig(app, a.rig or the_plan.rig)
    if rig is None:
        raise UsageError("Which rig is the convoy for?", hint="Pass --rig NAME.")
    staged, mode = convoys.choose_defaults(
        app.ledger,
        app.town,
        rig,
        app.environ,
        a.staged if a.staged is not None else the_plan.staged,
        a.merge_mode or the_plan.merge_mode,
    )
    if not app.json and len(the_plan.tasks) > 200:
        app.err.write(f"Creating {len(the_plan.tasks)} beads …\n")
    view = convoys.create(app.ledger, title, rig, the_plan, staged, mode)

    def human() -> None:
        c = view.convoy
        app.print(
            f"Created convoy {c.id}: {c.title} ({plural(len(view.beads), 'bead')}, "
            f"{c.merge_mode}{', staged' if c.staged else ''})"
        )
        _print_waves(app, view)
        if c.staged:
            app.print(f"Staged: start it with `gt convoy start {c.id}`.")

    app.emit(view.to_json(), human)
    return 0


def _print_waves(app: App, view: Any) -> None:
    by_id = {b.id: b for b in view.beads}
    for n, wave in enumerate(view.waves):
        app.print(f"  wave {n}:")
        for bead_id in wave:
            b = by_id[bead_id]
            needs = [d.depends_on_id for d in b.dependencies if d.type == "blocks"]
            after = f"  (after {', '.join(needs)})" if needs else ""
            app.print(f"    {STATUS_MARK.get(b.status, ' ')} {b.id}  {b.title}{after}")


def _convoy_line(c: Convoy) -> tuple[object, ...]:
    return (
        c.id,
        c.status + (" (staged)" if c.staged else ""),
        f"{c.closed}/{c.total}",
        c.rig,
        c.merge_mode,
        c.title,
    )


def convoy_list(app: App) -> int:
    from gastown.services import convoys

    found = convoys.list_convoys(app.ledger, app.args.rig, app.args.status)
    app.emit(
        [c.to_json() for c in found],
        lambda: app.print(
            table(
                ["ID", "STATUS", "DONE", "RIG", "MODE", "TITLE"],
                [_convoy_line(c) for c in found],
                {5: 60},
            )
            if found
            else "No convoys."
        ),
    )
    return 0


def convoy_show(app: App) -> int:
    from gastown.services import convoys, costs

    view = convoys.show(app.ledger, app.args.id)
    with app.store.reader() as tx:
        spent = costs.spent(tx, convoy_id=view.convoy.id)

    def human() -> None:
        c = view.convoy
        app.print(f"{c.id}  {c.title}")
        app.print(
            f"  {c.status}{' (staged)' if c.staged else ''}   {c.closed}/{c.total} closed"
            f"   rig: {c.rig}   {c.merge_mode}"
        )
        why = f": {c.close_reason}" if c.close_reason else ""
        if c.landed_at:
            app.print(f"  landed {c.landed_at}{why}")
        if c.cancelled_at:
            app.print(f"  cancelled {c.cancelled_at}, before its work landed{why}")
        app.print(f"  spent: {costs.describe(spent)}")
        _print_waves(app, view)

    app.emit({**view.to_json(), "spend": spent.to_json()}, human)
    return 0


def convoy_start(app: App) -> int:
    from gastown.services import convoys

    c = convoys.start(app.ledger, app.args.id)
    app.emit(c.to_json(), f"Started convoy {c.id}: its {plural(c.total, 'bead')} are released")
    return 0


def convoy_close(app: App) -> int:
    from gastown.services import convoys

    c = convoys.close(app.ledger, app.args.id, app.args.reason, app.args.force)
    done = "landed" if c.status == CONVOY_LANDED else "cancelled before its work landed"
    app.emit(c.to_json(), f"Convoy {c.id} {done} ({c.closed}/{c.total} closed)")
    return 0


def convoy_add(app: App) -> int:
    from gastown.services import convoys

    c = convoys.add(app.ledger, app.args.id, app.args.beads)
    app.emit(c.to_json(), f"Convoy {c.id} now has {plural(c.total, 'bead')}")
    return 0


def convoy_remove(app: App) -> int:
    from gastown.services import convoys

    c = convoys.remove(app.ledger, app.args.id, app.args.beads)
    app.emit(c.to_json(), f"Convoy {c.id} now has {plural(c.total, 'bead')}")
    return 0
