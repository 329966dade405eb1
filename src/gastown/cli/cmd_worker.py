"""`gt worker`: run polecats of a PostgreSQL town on this host, and `gt worker --drain NAME`."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import Any

from gastown.cli.app import App
from gastown.errors import UserError


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    worker = sub.add_parser(
        "worker",
        parents=[shared],
        help="run polecats of a PostgreSQL town on this host",
        description="Join a PostgreSQL town as a worker: take polecat runs from its job queue "
        "(at most --slots at once), run them with the same runtimes as the town process, in "
        "a home folder of this worker's own, and push their branches to each rig's remote. "
        "SIGTERM or SIGINT drains it: it takes no more runs, finishes the ones it has, and "
        "leaves. `gt worker --drain NAME` asks a worker on any host to do the same.",
    )
    worker.add_argument(
        "--db",
        metavar="URL",
        help="the town's PostgreSQL URL (default: the ledger of the town found as for every "
        "command)",
    )
    worker.add_argument(
        "--name", help="unique among the town's workers (default: this host's name)"
    )
    worker.add_argument(
        "--slots", type=_slots, default=2, help="runs at once (default 2, at most 256)"
    )
    worker.add_argument(
        "--label",
        dest="labels",
        action="append",
        default=[],
        metavar="LABEL",
        help="offer LABEL to rigs whose worker_labels ask for it (repeatable)",
    )
    worker.add_argument(
        "--home",
        metavar="PATH",
        help="this worker's folder for rig clones, worktrees and run files "
        "(default: ~/.gastown/workers/NAME)",
    )
    worker.add_argument(
        "--drain",
        metavar="NAME",
        help="ask the worker NAME to finish its runs, take no more and stop",
    )
    worker.set_defaults(handler=run_worker)


def _slots(text: str) -> int:
    try:
        slots = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 1 <= slots <= 256:
        raise argparse.ArgumentTypeError(f"{slots} slots: give from 1 to 256")
    return slots


def _db_url(app: App) -> str:
    if app.args.db:
        return str(app.args.db)
    try:
        return app.town.db_url
    except UserError:
        raise UserError(
            "gt worker needs the town's database: no --db was given and no town folder was "
            "found here.",
            hint="Pass --db postgresql://HOST/DB (the town's ledger).",
        ) from None


def run_worker(app: App) -> int:
    import asyncio
    import logging

    from gastown.workers.worker import WorkerSpec, drain, work

    db_url = _db_url(app)
    if app.args.drain:
        if not drain(db_url, app.args.drain):
            raise UserError(
                f"The town has no worker named {app.args.drain}.",
                hint="`gt status` lists the town's workers.",
            )
        app.emit(
            {"draining": app.args.drain},
            f"Worker {app.args.drain} will finish its runs, take no more, and stop.",
        )
        return 0
    name = app.args.name or socket.gethostname()
    home = app.path(app.args.home) if app.args.home else Path.home() / ".gastown/workers" / name
    spec = WorkerSpec(db_url, name, app.args.slots, home, labels=list(app.args.labels))

    def ready(api_url: str) -> None:
        labels = f", labels {', '.join(spec.labels)}" if spec.labels else ""
        app.emit(
            {"name": name, "slots": spec.slots, "labels": spec.labels, "home": str(home)},
            f"Worker {name} joined the town: {spec.slots} slots{labels}, home {home}. "
            "Ctrl-C drains it.",
        )
        app.out.flush()

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(work(spec, app.environ, ready))
    return 0
