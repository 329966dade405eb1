"""Town-wide commands: init, config, events, feed."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from gastown import config
from gastown.cli import args
from gastown.cli.app import App
from gastown.cli.render import table
from gastown.model import Event
from gastown.services import event_names
from gastown.services.sentences import Names, say


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "init",
        parents=[shared],
        help="create a town",
        description="Create a town folder: town.toml, the state database, and "
        "room for rig clones, worktrees and logs.",
    )
    p.add_argument("path", metavar="PATH", help="folder to create the town in")
    p.add_argument(
        "--prefix",
        default=None,
        help="bead id prefix (default: gt; joining a town that --db already holds, its own)",
    )
    p.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: sqlite:///state.db "
        "inside the town; or postgresql://user@host/db)",
    )
    p.add_argument("--name", help="town name (default: the folder name)")
    p.set_defaults(handler=init)

    cfg = sub.add_parser(
        "config",
        parents=[shared],
        help="show and change settings",
        description="Settings stack: built-in defaults < town.toml < rig "
        "overrides < GT_* environment < flags. Secrets (API keys, tokens, env_vars) are "
        "kept in secrets.toml, readable by you only, never in town.toml.",
    )
    csub = cfg.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(cfg)
    )
    show = csub.add_parser("show", parents=[shared], help="every setting with its origin")
    show.add_argument("--rig", help="as seen by this rig")
    show.set_defaults(handler=config_show)
    get = csub.add_parser("get", parents=[shared], help="one setting's effective value")
    get.add_argument("key", help="a setting, e.g. max_polecats_per_rig")
    get.add_argument("--rig", help="as seen by this rig")
    get.set_defaults(handler=config_get)
    put = csub.add_parser(
        "set",
        parents=[shared],
        help="set a setting (town.toml, or a rig)",
        description="Lists and maps take JSON: gt config set refinery.gates '[\"make test\"]'",
    )
    put.add_argument("key", help="a setting, e.g. refinery.gates")
    put.add_argument("value", help="its value (lists and maps as JSON)")
    put.add_argument("--rig", help="override for this rig only")
    put.set_defaults(handler=config_set)
    unset = csub.add_parser("unset", parents=[shared], help="remove a setting")
    unset.add_argument("key", help="the setting to return to its default")
    unset.add_argument("--rig", help="remove this rig's override")
    unset.set_defaults(handler=config_unset)

    ev = sub.add_parser(
        "events",
        parents=[shared],
        help="list what happened",
        description="The append-only record of every change, oldest first.",
    )
    _event_filters(ev)
    ev.add_argument(
        "--limit", type=args.limit, default=50, help="newest N events (default 50; 0: all)"
    )
    ev.set_defaults(handler=events)

    feed = sub.add_parser(
        "feed",
        parents=[shared],
        help="follow events live",
        description="On a terminal, a full-screen view: agents, the live feed, problems and "
        "the merge queue, with keys to peek (p), nudge (n), stop (s), hold (h) and acknowledge "
        "(a); q quits. Piped, under --json or with --plain: new events printed as they "
        "happen, until interrupted.",
    )
    _event_filters(feed)
    feed.add_argument("--plain", action="store_true", help="print lines, even on a terminal")
    feed.add_argument(
        "--since",
        type=args.event_id,
        default=None,
        metavar="EVENT_ID",
        help="start after this event id (default: now)",
    )
    feed.add_argument("--interval", type=float, default=0.25, help=argparse.SUPPRESS)
    feed.add_argument("--max-events", type=args.count, default=None, help=argparse.SUPPRESS)
    feed.set_defaults(handler=feed_events)


def _event_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bead", help="only events about this bead")
    p.add_argument("--convoy", help="only events about this convoy")
    p.add_argument("--rig", help="only events about this rig")
    p.add_argument("--kind", help="only this kind; a trailing * matches a prefix (bead.*)")


def init(app: App) -> int:
    from gastown.services.ledger import Ledger
    from gastown.town import init as make_town

    town = make_town(app.path(app.args.path), app.args.prefix, app.args.db, app.args.name)
    from gastown.store import redact

    data = {
        "path": str(town.path),
        "name": town.name,
        "prefix": town.prefix,
        "db": redact(town.db_url),
        "joined": town.joined,
    }
    if town.joined:  # another host's town: this folder is this host's way into it
        app.emit(
            data,
            f"Joined town '{town.name}' (ids {town.prefix}-…), which {redact(town.db_url)} "
            f"already holds: this host's folder for it is {town.path}.",
        )
        return 0
    store = town.open_store()
    try:
        ledger = Ledger(store, prefix=town.prefix, actor=app.actor)
        with store.transaction() as tx:
            ledger.record_event(
                tx, "town.created", after={"name": town.name, "prefix": town.prefix}
            )
    finally:
        store.close()
    app.emit(
        data,
        f"Created town '{town.name}' at {town.path}\n"
        f"  ids look like {town.prefix}-4k2x9; state in {redact(town.db_url)}\n"
        f"Next: cd {town.path} && gt rig add NAME GIT_URL",
    )
    return 0


def _resolved(app: App) -> config.Resolved:
    from gastown.services import settings

    return settings.effective(app.ledger, app.town, app.args.rig, app.environ)


def _warn_exposed(app: App) -> None:
    """Say so when town.toml, a file people share, still holds secrets (an older gt put them
    there): any `gt config set` of the town moves them to secrets.toml."""
    if app.town.exposed:
        app.err.write(
            "gt: town.toml, a file meant to be safe to share, still holds "
            f"{', '.join(app.town.exposed)}; the next `gt config set` moves them to "
            "secrets.toml, readable by you only.\n"
        )


def config_show(app: App) -> int:
    _warn_exposed(app)
    resolved = _resolved(app)
    data = {
        k: {"value": resolved.display(k), "origin": resolved.origins[k]} for k in config.SETTINGS
    }
    app.emit(
        data,
        lambda: app.print(
            table(
                ["KEY", "VALUE", "FROM"],
                [
                    (k, json.dumps(v["value"], ensure_ascii=False), v["origin"])
                    for k, v in data.items()
                ],
                {1: 60},
            )
        ),
    )
    return 0


def config_get(app: App) -> int:
    key = app.args.key
    s = config.setting(key)
    _warn_exposed(app)
    resolved = _resolved(app)
    value = resolved.display(s.key)
    origin = resolved.origins[s.key]
    if key != s.key:  # one entry of a map
        entries = resolved.values[s.key]
        if key.split(".", 1)[1] not in entries:
            from gastown.errors import NotFound

            raise NotFound(f"'{key}' is not set.")
        value = config.MASK if s.secret else entries[key.split(".", 1)[1]]
    app.emit(
        {"key": key, "value": value, "origin": origin},
        lambda: app.print(value if isinstance(value, str) else json.dumps(value)),
    )
    return 0


def config_set(app: App) -> int:
    from gastown.services import settings

    exposed = app.town.exposed
    value = settings.set_value(app.ledger, app.town, app.args.key, app.args.value, app.args.rig)
    shown = config.masked(app.args.key, value)
    where = "secrets.toml" if config.setting(app.args.key).secret else "town.toml"
    where = f"rig '{app.args.rig}'" if app.args.rig else where
    moved = exposed if not app.town.exposed else ()
    if app.args.key == "runtime":
        from gastown.services import traps

        traps.warn(app.err, traps.runtime_warnings(app.town.path, app.environ, [value]))
    app.emit(
        {"key": app.args.key, "value": shown, "scope": app.args.rig or "town", "moved": moved},
        f"Set {app.args.key} = {json.dumps(shown, ensure_ascii=False)} in {where}"
        + (f"\nMoved {', '.join(moved)} from town.toml to secrets.toml" if moved else ""),
    )
    return 0


def config_unset(app: App) -> int:
    from gastown.services import settings

    settings.unset(app.ledger, app.town, app.args.key, app.args.rig)
    app.emit({"key": app.args.key, "unset": True}, f"Unset {app.args.key}")
    return 0


def _event_query(app: App) -> dict[str, Any]:
    from gastown.services.convoys import resolve_convoy
    from gastown.services.ledger import resolve_bead_id

    query: dict[str, Any] = {"rig": app.args.rig, "kind": app.args.kind}
    with app.store.reader() as tx:
        if app.args.bead:
            query["bead_id"] = resolve_bead_id(tx, app.town.prefix, app.args.bead)
        if app.args.convoy:
            query["convoy_id"] = resolve_convoy(tx, app.town.prefix, app.args.convoy).id
    return query


def event_line(e: Event, names: Names | None = None) -> str:
    """One event as a line a person reads: when, then what happened in a sentence."""
    return f"{e.at[:19].replace('T', ' ')}  {say(e.to_json(), names).text()}"


def events(app: App) -> int:
    query = _event_query(app)
    limit = app.args.limit or None
    with app.store.reader() as tx:
        found = tx.list_events(**query, limit=limit, newest_first=True)
        names = event_names.load(tx, [e.to_json() for e in found])
    found.reverse()
    app.emit(
        [e.to_json() for e in found],
        lambda: app.print("\n".join(event_line(e, names) for e in found) or "No events."),
    )
    return 0


LOOKBACK = 200
"""Ids a feed re-reads: PostgreSQL may commit event n+1 before event n becomes visible."""


def feed_events(app: App) -> int:
    query = _event_query(app)
    if not (app.json or app.args.plain or app.args.max_events) and app.out.isatty():
        from gastown.tui.feed import run

        return run(app, query, app.args.since, max(app.args.interval, 0.5))
    with app.store.reader() as tx:
        latest = tx.list_events(limit=1, newest_first=True)
    cursor = app.args.since if app.args.since is not None else (latest[0].id if latest else 0)
    with app.store.reader() as tx:  # what already happened counts as seen
        seen = {e.id for e in tx.list_events(after_id=max(0, cursor - LOOKBACK)) if e.id <= cursor}
    shown = 0
    if not app.json:
        app.err.write("Following events; Ctrl-C to stop.\n")
    while app.args.max_events is None or shown < app.args.max_events:
        with app.store.reader() as tx:
            fresh = [
                e
                for e in tx.list_events(**query, after_id=max(0, cursor - LOOKBACK))
                if e.id not in seen
            ]
            names = event_names.load(tx, [] if app.json else [e.to_json() for e in fresh])
        for e in fresh[: None if app.args.max_events is None else app.args.max_events - shown]:
            app.out.write((json.dumps(e.to_json()) if app.json else event_line(e, names)) + "\n")
            shown += 1
        app.out.flush()
        if fresh:
            seen.update(e.id for e in fresh)
            cursor = max(cursor, *(e.id for e in fresh))
            seen = {i for i in seen if i > cursor - LOOKBACK}
        if app.args.max_events is None or shown < app.args.max_events:
            time.sleep(app.args.interval)
    return 0
