"""`gt dep`: which beads wait on which, added, removed and drawn as a tree."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App
from gastown.cli.render import STATUS_MARK
from gastown.model import DEP_TYPES


def add_parser(sub: Any, shared: argparse.ArgumentParser) -> None:
    """`gt dep` and its actions (registered through `cli.cmd_beads`)."""
    dep = sub.add_parser("dep", parents=[shared], help="dependencies between beads")
    dsub = dep.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(dep)
    )
    dadd = dsub.add_parser("add", parents=[shared], help="BEAD depends on BLOCKER")
    dadd.add_argument("bead", help="the bead that waits")
    dadd.add_argument("blocker", help="the bead it waits for")
    dadd.add_argument(
        "--type",
        default="blocks",
        choices=DEP_TYPES,
        help="only blocks (the default) affects readiness",
    )
    dadd.set_defaults(handler=dep_add)
    drm = dsub.add_parser("remove", parents=[shared], help="remove BEAD's dependency on BLOCKER")
    drm.add_argument("bead", help="the bead that waits")
    drm.add_argument("blocker", help="the bead it no longer waits for")
    drm.set_defaults(handler=dep_remove)
    dtree = dsub.add_parser("tree", parents=[shared], help="what a bead waits on, transitively")
    dtree.add_argument("bead", help="the bead at the root")
    dtree.add_argument("--reverse", action="store_true", help="what waits on the bead instead")
    dtree.set_defaults(handler=dep_tree)


def dep_add(app: App) -> int:
    from gastown.services import deps

    edge = deps.add(app.ledger, app.args.bead, app.args.blocker, app.args.type)
    app.emit(edge.to_json(), f"{edge.bead_id} now depends on {edge.depends_on_id} ({edge.type})")
    return 0


def dep_remove(app: App) -> int:
    from gastown.services import deps

    edge = deps.remove(app.ledger, app.args.bead, app.args.blocker)
    app.emit(edge.to_json(), f"{edge.bead_id} no longer depends on {edge.depends_on_id}")
    return 0


def dep_tree(app: App) -> int:
    from gastown.services import deps

    root = deps.tree(app.ledger, app.args.bead, reverse=app.args.reverse)
    lines: list[str] = []

    def walk(node: deps.TreeNode, lead: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└── " if last else "├── ")
        via = f" [{node.type}]" if node.type and node.type != "blocks" else ""
        more = " (see above)" if node.repeat else ""
        mark = STATUS_MARK.get(node.status, "?")
        lines.append(f"{lead}{branch}{mark} {node.id} {node.title} ({node.status}){via}{more}")
        child_lead = lead + ("" if top else ("    " if last else "│   "))
        for i, child in enumerate(node.children):
            walk(child, child_lead, i == len(node.children) - 1, False)

    walk(root, "", True, True)
    app.emit(root.to_json(), "\n".join(lines))
    return 0
