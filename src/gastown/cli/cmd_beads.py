"""`gt bead`, `gt ready`, `gt blocked`: units of work and what they wait on. `gt dep`
(`cli.cmd_deps`) and `gt sling` (`cli.cmd_sling`) are registered here too, each parser
imported only when its command is asked for."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gastown.cli import args
from gastown.cli.app import App
from gastown.cli.render import STATUS_MARK, beads_table, plural, table
from gastown.model import BEAD_STATUSES, BEAD_TYPES

if TYPE_CHECKING:
    from gastown.model import Bead
    from gastown.store import BeadFilter


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    for add in PARSERS.values():
        add(sub, shared)


def register_command(
    sub: Any, shared: argparse.ArgumentParser, command: str, action: str | None = None
) -> None:
    """Only the parser of `command`, one of `PARSERS`: all that `gt COMMAND ...` needs; of
    `gt bead ACTION ...`, only that action's."""
    if command == "bead":
        _bead_parser(sub, shared, action)
    else:
        PARSERS[command](sub, shared)


def _bead_parser(sub: Any, shared: argparse.ArgumentParser, action: str | None = None) -> None:
    """`gt bead` with each of its actions, or with `action` alone when it is one of them."""
    bead = sub.add_parser(
        "bead",
        parents=[shared],
        help="create, list, show and change beads",
        description="A bead is a unit of work: open → in_progress → in_review → closed, or failed.",
    )
    bsub = bead.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(bead)
    )
    for name, add in BEAD_ACTIONS.items():
        if action not in BEAD_ACTIONS or name == action:
            add(bsub, shared)


def _bead_create_parser(bsub: Any, shared: argparse.ArgumentParser) -> None:
    create = bsub.add_parser("create", parents=[shared], help="create a bead")
    create.add_argument("title", help="what the work is, in one line")
    _content_options(create)
    create.add_argument("--parent", help="create as a child of this bead (id PARENT.N)")
    create.add_argument("--hold", action="store_true", help="create it held (never dispatched)")
    create.set_defaults(handler=bead_create)


def _bead_list_parser(bsub: Any, shared: argparse.ArgumentParser) -> None:
    ls = bsub.add_parser("list", parents=[shared], help="list beads, filtered")
    ls.add_argument(
        "--status", action="append", choices=BEAD_STATUSES, help="only this status (repeatable)"
    )
    ls.add_argument("--rig", help="only this rig")
    ls.add_argument("--label", action="append", help="only beads with this label (repeatable)")
    ls.add_argument("--type", choices=BEAD_TYPES, help="only this type")
    ls.add_argument("-p", "--priority", help="only this priority, 0 (highest) to 4")
    ls.add_argument("--assignee", help="only beads held by this assignee")
    ls.add_argument(
        "--limit", type=args.limit, help="at most N beads, highest priority first (0: all)"
    )
    ls.set_defaults(handler=bead_list)


def _bead_show_parser(bsub: Any, shared: argparse.ArgumentParser) -> None:
    show = bsub.add_parser("show", parents=[shared], help="one bead in full")
    show.add_argument("id", help="the bead id (a unique prefix will do)")
    show.set_defaults(handler=bead_show)


def _bead_update_parser(bsub: Any, shared: argparse.ArgumentParser) -> None:
    upd = bsub.add_parser("update", parents=[shared], help="change a bead's fields")
    upd.add_argument("id", help="the bead id")
    upd.add_argument("--title", help="new title")
    upd.add_argument("--body", help="new description")
    upd.add_argument("--type", choices=BEAD_TYPES, help="new type")
    upd.add_argument("-p", "--priority", help="new priority, 0 (highest) to 4")
    upd.add_argument("--rig", help="move it to this rig")
    upd.add_argument("--assignee", help="who holds it ('' to clear)")
    upd.add_argument("--status", choices=BEAD_STATUSES, help="move along the lifecycle")
    upd.add_argument(
        "--add-label", action="append", default=[], metavar="LABEL", help="add a label (repeatable)"
    )
    upd.add_argument(
        "--remove-label",
        action="append",
        default=[],
        metavar="LABEL",
        help="remove a label (repeatable)",
    )
    held = upd.add_mutually_exclusive_group()
    held.add_argument(
        "--hold", dest="held", action="store_const", const=True, help="keep it from dispatch"
    )
    held.add_argument(
        "--unhold", dest="held", action="store_const", const=False, help="let it be dispatched"
    )
    upd.add_argument("--reason", help="why, for the event log")
    upd.set_defaults(handler=bead_update)


def _bead_close_parser(bsub: Any, shared: argparse.ArgumentParser) -> None:
    close = bsub.add_parser("close", parents=[shared], help="close a bead")
    close.add_argument("id", help="the bead id")
    close.add_argument("--reason", help="why it is done")
    close.add_argument("--force", action="store_true", help="even with open blockers or children")
    close.set_defaults(handler=bead_close)


def _bead_reopen_parser(bsub: Any, shared: argparse.ArgumentParser) -> None:
    reopen = bsub.add_parser("reopen", parents=[shared], help="reopen a closed or failed bead")
    reopen.add_argument("id", help="the bead id")
    reopen.add_argument("--reason", help="why, for the event log")
    reopen.set_defaults(handler=bead_reopen)


def _bead_claim_parser(bsub: Any, shared: argparse.ArgumentParser) -> None:
    claim = bsub.add_parser("claim", parents=[shared], help="take an open bead (atomic)")
    claim.add_argument("id", help="the bead id")
    claim.add_argument("--as", dest="assignee", help="assignee (default: you)")
    claim.set_defaults(handler=bead_claim)


BEAD_ACTIONS: dict[str, Callable[[Any, argparse.ArgumentParser], None]] = {
    "create": _bead_create_parser,
    "list": _bead_list_parser,
    "show": _bead_show_parser,
    "update": _bead_update_parser,
    "close": _bead_close_parser,
    "reopen": _bead_reopen_parser,
    "claim": _bead_claim_parser,
}
"""Each action of `gt bead` and what adds its parser, in `gt bead --help` order."""


def _ready_parser(sub: Any, shared: argparse.ArgumentParser) -> None:
    ready = sub.add_parser(
        "ready",
        parents=[shared],
        help="beads ready to work",
        description="Open, unheld, unblocked beads not in a staged convoy, by priority then age.",
    )
    _rig_and_limit(ready)
    ready.set_defaults(handler=ready_list)


def _blocked_parser(sub: Any, shared: argparse.ArgumentParser) -> None:
    blocked = sub.add_parser(
        "blocked",
        parents=[shared],
        help="beads waiting on other beads, and on which",
        description="Unfinished beads (open, in progress or in review) that are blocked, by "
        "priority then age, each with the unclosed beads it waits for, or the blocked "
        "parent that holds it back.",
    )
    _rig_and_limit(blocked)
    blocked.set_defaults(handler=blocked_list)


def _rig_and_limit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rig", help="only this rig")
    p.add_argument(
        "--limit",
        type=args.limit,
        default=100,
        help="at most N beads, highest priority first (default 100; 0: all)",
    )


def _dep_parser(sub: Any, shared: argparse.ArgumentParser) -> None:
    from gastown.cli import cmd_deps

    cmd_deps.add_parser(sub, shared)


def _sling_parser(sub: Any, shared: argparse.ArgumentParser) -> None:
    from gastown.cli import cmd_sling

    cmd_sling.add_parser(sub, shared)


PARSERS: dict[str, Callable[[Any, argparse.ArgumentParser], None]] = {
    "bead": _bead_parser,
    "ready": _ready_parser,
    "blocked": _blocked_parser,
    "dep": _dep_parser,
    "sling": _sling_parser,
}
"""Each command of this module and what adds its parser, in `gt --help` order."""


def _content_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-b", "--body", default="", help="the full description")
    p.add_argument("-t", "--type", default="task", choices=BEAD_TYPES, help="default: task")
    p.add_argument("-p", "--priority", default="2", help="0 (highest) to 4; default 2")
    p.add_argument("-l", "--label", action="append", default=[], help="label (repeatable)")
    p.add_argument("--rig", help="the rig it is for (default: the only rig, if one)")
    p.add_argument("--assignee", help="who holds it")


def _default_rig(app: App, given: str | None) -> str | None:
    if given is not None:
        return str(given)
    with app.store.reader() as tx:
        found = tx.list_rigs()
    return found[0].name if len(found) == 1 else None


def _spec(app: App, title: str) -> Any:
    from gastown.services.beads import NewBead, priority

    return NewBead(
        title=title,
        body=app.args.body,
        type=app.args.type,
        priority=priority(app.args.priority),
        labels=app.args.label,
        rig=_default_rig(app, app.args.rig),
        assignee=app.args.assignee,
        held=app.args.hold,
    )


def bead_create(app: App) -> int:
    from gastown.services import beads

    spec = _spec(app, app.args.title)
    spec.parent = app.args.parent
    bead = beads.create(app.ledger, spec)
    app.emit(bead.to_json(), f"Created {bead.id}: {bead.title}")
    return 0


def bead_list(app: App) -> int:
    from gastown.store import BeadFilter

    wanted = None
    if app.args.priority is not None:
        from gastown.services.beads import priority

        wanted = priority(app.args.priority)
    flt = BeadFilter(
        statuses=app.args.status,
        rig=app.args.rig,
        labels=app.args.label,
        type=app.args.type,
        priority=wanted,
        assignee=app.args.assignee,
        limit=app.args.limit or None,
    )
    _show_beads(app, flt, "No beads match.")
    return 0


def _show_beads(app: App, flt: BeadFilter, empty: str) -> None:
    """The beads `flt` picks, by priority then age: under --json an array of `Bead.to_json()`,
    written in batches as the database builds it (a whole town is megabytes), else a table
    of the few columns it shows (`gt bead list` and `gt ready` on a large town)."""
    from gastown.services import listing

    if app.json:
        write = app.utf8_writer()
        listing.write_json(app.store, flt, write)
        write(b"\n")
        return
    lines = listing.lines(app.store, flt)
    app.print(beads_table(lines) + f"\n{plural(len(lines), 'bead')}" if lines else empty)


def bead_show(app: App) -> int:
    from gastown.services import beads, costs, deps, holdups, issues

    bead, dependents = beads.show(app.ledger, app.args.id)
    why = deps.readiness(app.ledger, bead)
    data = {**bead.to_json(), "dependents": [d.to_json() for d in dependents], **why.to_json()}
    links = issues.links_of(app.ledger, bead.id)
    data["issue"] = links[0].to_json() if links else None
    waits = holdups.holdups(app.ledger, bead, app.town.settings, app.environ)
    data["not_dispatched"] = waits
    worker_wait = None
    if bead.status == "in_progress":
        from gastown.services.hosts import bead_waiting

        worker_wait = bead_waiting(app.ledger, bead.id, app.town.settings, app.environ)
    data["waiting_for_worker"] = worker_wait
    with app.store.reader() as tx:
        spent = costs.spent(tx, bead_id=bead.id)  # its runs and its reviews
    data["spend"] = spent.to_json()

    def human() -> None:
        mark = STATUS_MARK.get(bead.status, "")
        app.print(f"{bead.id}  {bead.title}")
        app.print(
            f"  {mark} {bead.status}{' (held)' if bead.held else ''}   P{bead.priority}   "
            f"{bead.type}   rig: {bead.rig or '-'}   assignee: {bead.assignee or '-'}"
        )
        if bead.labels:
            app.print(f"  labels: {', '.join(bead.labels)}")
        if bead.convoy_id:
            app.print(f"  convoy: {bead.convoy_id}")
        for link in links:
            app.print(f"  issue: {link.url or f'#{link.number} of {link.repo}'}")
        asked = ", ".join(
            [f"runtime {bead.runtime}"] * bool(bead.runtime)
            + [f"model {bead.model}"] * bool(bead.model)
        )
        if bead.slung:
            app.print(f"  slung for dispatch{f' ({asked})' if asked else ''}")
        elif asked:  # slung once, then taken off the queue: what it asked for still holds
            app.print(f"  runs with {asked}")
        app.print(f"  created {bead.created_at} by {bead.created_by}; updated {bead.updated_at}")
        app.print(f"  spent: {costs.describe(spent)}")
        if bead.closed_at:
            reason = f": {bead.close_reason}" if bead.close_reason else ""
            app.print(f"  closed {bead.closed_at}{reason}")
        elif bead.close_reason:  # its work landed while a child was open
            app.print(f"  closes when its children have: {bead.close_reason}")
        for d in bead.dependencies:
            app.print(f"  depends on {d.depends_on_id} ({d.type})")
        for d in dependents:
            app.print(f"  needed by {d.bead_id} ({d.type})")
        if why.ready:
            if not bead.slung:
                app.print(f"  ready; `gt sling {bead.id}` hands it to a polecat")
            elif bead.rig is None:
                app.print(f"  ready, but it has no rig: `gt bead update {bead.id} --rig R`")
            elif waits:
                app.print(f"  not dispatched: {'; '.join(waits)}")
            else:
                app.print(f"  ready: the next free polecat of rig {bead.rig} takes it")
        elif bead.status in deps.UNFINISHED and (holds := why.reasons()):
            app.print(f"  {'not ready' if bead.status == 'open' else 'blocked'}: {holds}")
            if waits:
                app.print(f"  and not dispatched: {'; '.join(waits)}")
        if worker_wait:
            app.print(f"  {worker_wait}")
        if bead.body:
            app.print("")
            app.print("  " + bead.body.replace("\n", "\n  "))

    app.emit(data, human)
    return 0


def bead_update(app: App) -> int:
    from gastown.errors import UsageError
    from gastown.services import beads

    a = app.args
    fields: dict[str, Any] = {}
    for name in ("title", "body", "type", "priority", "rig", "status"):
        if getattr(a, name) is not None:
            fields[name] = getattr(a, name)
    if a.assignee is not None:
        fields["assignee"] = a.assignee or None
    if a.held is not None:
        fields["held"] = a.held
    if a.add_label:
        fields["add_labels"] = a.add_label
    if a.remove_label:
        fields["remove_labels"] = a.remove_label
    if not fields:
        raise UsageError("Nothing to update.", hint="Pass at least one field, e.g. --priority 1.")
    bead = beads.update(app.ledger, a.id, fields, reason=a.reason)
    app.emit(bead.to_json(), f"Updated {bead.id}")
    if a.held is False and bead.rig:  # held for a missing program? it is looked for again
        _warn_runtime(app, bead, " The bead will be held again when it is dispatched.")
    return 0


def bead_close(app: App) -> int:
    from gastown.services import beads

    bead = beads.close(app.ledger, app.args.id, app.args.reason, app.args.force)
    app.emit(bead.to_json(), f"Closed {bead.id}: {bead.title}")
    return 0


def bead_reopen(app: App) -> int:
    from gastown.services import beads

    bead = beads.reopen(app.ledger, app.args.id, app.args.reason)
    app.emit(bead.to_json(), f"Reopened {bead.id}: {bead.title}")
    return 0


def bead_claim(app: App) -> int:
    from gastown.services import beads

    bead = beads.claim(app.ledger, app.args.id, app.args.assignee or app.actor)
    app.emit(bead.to_json(), f"Claimed {bead.id} for {bead.assignee}")
    return 0


def ready_list(app: App) -> int:
    """Ready beads; one waiting for its next attempt after a failed one is marked with when
    (`retry_at` in JSON, null for the others)."""
    import json

    from gastown.clock import stamp
    from gastown.services import listing, retries
    from gastown.store import BeadFilter

    flt = BeadFilter(ready=True, rig=app.args.rig, limit=app.args.limit or None)
    now = app.ledger.clock.now()
    with app.store.reader() as tx:
        listing.require_rig(tx, flt.rig)
        waits = retries.waiting(tx, app.town.settings, app.environ, now, flt.rig)
    if app.json:
        at = {k: b'"retry_at":' + json.dumps(stamp(v)).encode() for k, v in waits.items()}
        write = app.utf8_writer()
        listing.write_json(app.store, flt, write, extra=(at, b'"retry_at":null'))
        write(b"\n")
        return 0
    lines = listing.lines(app.store, flt)
    notes = {k: retries.words(v, now) for k, v in waits.items()}
    shown = beads_table(lines, notes) + f"\n{plural(len(lines), 'bead')}" if lines else ""
    app.print(shown or "Nothing is ready.")
    return 0


def blocked_list(app: App) -> int:
    from gastown.services import deps

    found = deps.blocked(app.ledger, app.args.rig, app.args.limit or None)

    def human() -> None:
        if not found:
            app.print("Nothing is blocked.")
            return
        rows = [
            (
                b.bead.id,
                f"P{b.bead.priority}",
                f"{STATUS_MARK.get(b.bead.status, ' ')} {b.bead.status}",
                b.bead.rig or "-",
                b.bead.title,
                b.waits() or "-",
            )
            for b in found
        ]
        headers = ["ID", "P", "STATUS", "RIG", "TITLE", "WAITING ON"]
        app.print(table(headers, rows, {4: 50, 5: 60}) + f"\n{plural(len(found), 'bead')}")

    app.emit([b.to_json() for b in found], human)
    return 0


def _warn_runtime(app: App, bead: Bead, when: str = "") -> None:
    """Say so when the runtime `bead` will run on is missing where the town process looks."""
    from gastown.sections import sections
    from gastown.services import settings, traps

    read = sections(settings.effective(app.ledger, app.town, bead.rig, app.environ))
    name = bead.runtime or read.agents.runtime
    traps.warn(app.err, traps.runtime_warnings(app.town.path, app.environ, [name], when))
