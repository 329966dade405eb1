"""`gt rig`: the repositories a town works on."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App
from gastown.cli.render import table


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    rig = sub.add_parser(
        "rig",
        parents=[shared],
        help="add, list, show and remove rigs",
        description="A rig is a git repository connected to the town, cloned "
        "into it, with a target branch work lands on.",
    )
    rsub = rig.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(rig)
    )
    add = rsub.add_parser(
        "add",
        parents=[shared],
        help="clone a repository into the town",
        description="GIT_URL may be a local path, a file:// URL or a remote "
        "URL. The target branch is the remote's default unless --branch.",
    )
    add.add_argument("name", help="the rig's name in this town")
    add.add_argument("url", metavar="GIT_URL", help="a local path, a file:// URL or a remote URL")
    add.add_argument("--branch", help="target branch (default: the remote's default branch)")
    add.set_defaults(handler=rig_add)
    ls = rsub.add_parser("list", parents=[shared], help="the town's rigs")
    ls.set_defaults(handler=rig_list)
    show = rsub.add_parser("show", parents=[shared], help="one rig, its overrides and beads")
    show.add_argument("name", help="the rig")
    show.set_defaults(handler=rig_show)
    rm = rsub.add_parser(
        "remove",
        parents=[shared],
        help="forget a rig, delete its clone",
        description="The rig's beads and events stay in the ledger.",
    )
    rm.add_argument("name", help="the rig")
    rm.add_argument("--force", action="store_true", help="even with unfinished beads")
    rm.set_defaults(handler=rig_remove)


def rig_add(app: App) -> int:
    from gastown.services import rigs

    if not app.json:
        app.err.write(f"Cloning {app.args.url} …\n")
    from gastown import config

    settings = config.resolve(app.town.settings, None, app.environ)
    rig = rigs.add(
        app.ledger,
        app.town.path,
        app.args.name,
        app.args.url,
        app.args.branch,
        settings=settings,
        environ=app.environ,
    )
    from gastown.services import traps

    app.emit(rig.to_json(), f"Added rig '{rig.name}' ({rig.url}), target branch {rig.branch}")
    from gastown.sections import sections

    runtime = sections(settings).agents.runtime
    traps.warn(app.err, traps.runtime_warnings(app.town.path, app.environ, [runtime]))
    traps.warn(app.err, traps.push_warnings(rig.url, rig.branch))
    return 0


def rig_list(app: App) -> int:
    with app.store.reader() as tx:
        found = tx.list_rigs()
        counts = {r.name: tx.count_by_status(r.name) for r in found}
    data = [{**r.to_json(), "beads": counts[r.name]} for r in found]
    app.emit(
        data,
        lambda: app.print(
            table(
                ["NAME", "BRANCH", "OPEN", "ACTIVE", "CLOSED", "URL"],
                [
                    (
                        r.name,
                        r.branch,
                        counts[r.name].get("open", 0),
                        counts[r.name].get("in_progress", 0) + counts[r.name].get("in_review", 0),
                        counts[r.name].get("closed", 0),
                        r.url,
                    )
                    for r in found
                ],
            )
            if found
            else "No rigs yet. Add one with `gt rig add NAME GIT_URL`."
        ),
    )
    return 0


def rig_show(app: App) -> int:
    from gastown.services import rigs

    rig = rigs.get(app.ledger, app.args.name)
    with app.store.reader() as tx:
        counts = tx.count_by_status(rig.name)
    from gastown.config import masked

    overrides = {k: masked(k, v) for k, v in rig.settings.items()}
    data = {**rig.to_json(), "settings": overrides, "beads": counts}

    def human() -> None:
        app.print(f"Rig {rig.name}")
        app.print(f"  url:     {rig.url}")
        app.print(f"  branch:  {rig.branch}")
        app.print(f"  clone:   {app.town.path / rig.path}")
        app.print(
            "  beads:   " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none")
        )
        for key, value in overrides.items():
            app.print(f"  setting: {key} = {value}")

    app.emit(data, human)
    return 0


def rig_remove(app: App) -> int:
    from gastown.services import rigs

    rig = rigs.remove(app.ledger, app.town.path, app.args.name, app.args.force)
    app.emit({"removed": rig.name}, f"Removed rig '{rig.name}' (its beads stay in the ledger)")
    return 0
