"""`gt formula list|show NAME|run NAME --var key=value ...`: reusable plans that become convoys
(`services.formulas`)."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App
from gastown.cli.render import plural, table
from gastown.errors import UsageError


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    formula = sub.add_parser(
        "formula",
        parents=[shared],
        help="reusable plans (TOML templates with variables) that become convoys",
        description="Formulas shipped with gt, in the town's formulas/ folder and in a rig's "
        ".gastown/formulas/ (later ones override earlier ones by name).",
    )
    verbs = formula.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", parents=[shared], help="the formulas and their variables")
    listing.add_argument("--rig", help="include this rig's own formulas")
    listing.set_defaults(handler=formula_list)
    show = verbs.add_parser("show", parents=[shared], help="one formula: variables and tasks")
    show.add_argument("name", help="the formula's name")
    show.add_argument("--rig", help="look in this rig's formulas too")
    show.set_defaults(handler=formula_show)
    run = verbs.add_parser(
        "run",
        parents=[shared],
        help="make the convoy a formula describes",
        description="Fill the formula's variables and create its convoy on the rig: checked "
        "whole first, then written in one transaction.",
    )
    run.add_argument("name", help="the formula's name")
    run.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a variable's value (repeat for each)",
    )
    run.add_argument("--rig", help="the rig (default: the only rig)")
    run.add_argument(
        "--staged", action="store_true", default=None, help="create it staged (gt convoy start)"
    )
    run.set_defaults(handler=formula_run)


def _clone(app: App) -> Any:
    return app.town.rig_path(app.args.rig) if app.args.rig else None


def formula_list(app: App) -> int:
    from gastown.services import formulas

    found = formulas.all_(app.town.path, _clone(app))

    def human() -> None:
        rows = [
            (f.name, f.source, ", ".join(v.name for v in f.vars), f.description)
            for f in found.values()
        ]
        app.print(table(["NAME", "FROM", "VARIABLES", "DESCRIPTION"], rows))
        app.print(f"\n{plural(len(found), 'formula')}; `gt formula show NAME` for one.")

    app.emit([f.to_json() for f in found.values()], human)
    return 0


def formula_show(app: App) -> int:
    from gastown.services import formulas

    found = formulas.get(app.town.path, app.args.name, _clone(app))

    def human() -> None:
        app.print(f"{found.name} ({found.source}, {found.path}): {found.description}")
        app.print(f"  convoy: {found.title}")
        for v in found.vars:
            default = " (required)" if v.default is None else f" (default: {v.default!r})"
            app.print(f"  --var {v.name}=…  {v.description}{default}")
        for n, t in enumerate(found.tasks, 1):
            each = f" [one per {t.get('per', 'file')} of {t['each']}]" if "each" in t else ""
            needs = f"  (after {', '.join(map(str, t['needs']))})" if t.get("needs") else ""
            app.print(f"  {t.get('key', n)}: {t.get('title', '')}{each}{needs}")

    app.emit(found.to_json(), human)
    return 0


def formula_run(app: App) -> int:
    from gastown.cli.cmd_beads import _default_rig
    from gastown.services import formulas

    given: dict[str, str] = {}
    for pair in app.args.var:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--var takes KEY=VALUE, not '{pair}'.")
        given[key.strip()] = value
    rig = _default_rig(app, app.args.rig)
    if rig is None:
        raise UsageError("Which rig is the formula for?", hint="Pass --rig NAME.")
    formula, view = formulas.run(
        app.ledger, app.town, app.args.name, given, rig, app.args.staged, app.environ
    )

    def human() -> None:
        from gastown.cli.cmd_convoys import _print_waves

        c = view.convoy
        app.print(
            f"Created convoy {c.id} from formula {formula.name}: {c.title} "
            f"({plural(len(view.beads), 'bead')}{', staged' if c.staged else ''})"
        )
        _print_waves(app, view)
        if c.staged:
            app.print(f"Staged: start it with `gt convoy start {c.id}`.")

    app.emit({**view.to_json(), "formula": formula.name}, human)
    return 0
