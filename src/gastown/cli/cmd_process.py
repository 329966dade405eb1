"""`gt up`, `gt down`, `gt status`: the town process.

`gt status TEXT` is the other side of the same word: an agent inside a run reporting its own
status to the town (see `cmd_agent`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from gastown.cli import args
from gastown.cli.app import App
from gastown.errors import RuntimeFailure

START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    up = sub.add_parser(
        "up",
        parents=[shared],
        help="run the town process",
        description="Run the town: the reconciler, the polecats, the HTTP API and the "
        "dashboard, on this machine. Only one process runs per town. It prints a one-time "
        "login link for the dashboard (`gt dashboard` prints another). Every page and API "
        "route needs the town token (run/token) or a dashboard login, always: there is no way "
        "to turn authentication off, so --host may bind another address than localhost. "
        "Traffic is plain HTTP: beyond this machine, put it behind TLS.",
    )
    up.add_argument("-d", "--detach", action="store_true", help="run in the background")
    up.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface, still "
        "behind the token)",
    )
    up.add_argument("--port", type=args.port, default=0, help="port (default: any free port)")
    up.set_defaults(handler=town_up)
    down = sub.add_parser("down", parents=[shared], help="stop the town process")
    down.set_defaults(handler=town_down)
    status = sub.add_parser(
        "status",
        parents=[shared],
        help="is the town up, and how is it (agents: report your status)",
        description="Without TEXT: is the town up, and how is it. With TEXT (agents inside a "
        "run): tell the town how the work is going.",
    )
    status.add_argument("text", nargs="?", metavar="TEXT", help="(agents) your status, in words")
    status.set_defaults(handler=town_status)


def town_up(app: App) -> int:
    import asyncio

    from gastown.process.serve import serve
    from gastown.townrun import login, state

    town = app.town
    running = state.read_address(town.path)
    if running is not None:
        from gastown.errors import Conflict

        raise Conflict(
            f"The town is already up: process {running.pid} ({running.url}).",
            hint="`gt down` stops it.",
        )
    _warn_runtimes(app)
    if app.args.detach:
        return _detach(app)

    def ready(address: state.Address) -> None:
        link = dashboard_link(town.path, address)
        app.emit(
            {**address.to_json(), "login_url": link},
            f"Town '{town.name}' is up at {address.url} (pid {address.pid}); Ctrl-C stops it.\n"
            f"Dashboard (one-time login link, good for {login.KEY_TTL // 60} minutes): {link}",
        )
        app.out.flush()

    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(town, app.args.host, app.args.port, app.environ, ready))
    return 0


def _warn_runtimes(app: App) -> None:
    """Name each runtime the town's rigs use whose program is not on the PATH the town process
    is about to inherit (every bead slung to it would be held)."""
    from gastown.sections import sections
    from gastown.services import settings, traps

    with app.store.reader() as tx:
        rigs = [r.name for r in tx.list_rigs()]
    names = [
        sections(settings.effective(app.ledger, app.town, rig, app.environ)).agents.runtime
        for rig in rigs
    ]
    traps.warn(app.err, traps.runtime_warnings(app.town.path, app.environ, names))


def _detach(app: App) -> int:
    from gastown.townrun import state

    town = app.town
    log = town.path / "logs" / "town.log"
    argv = [
        sys.executable,
        "-m",
        "gastown",
        "up",
        "--town",
        str(town.path),
        "--host",
        app.args.host,
        "--port",
        str(app.args.port),
    ]
    # posix_spawn, not Popen: the child outlives this command, in its own session.
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        pid = os.posix_spawn(
            sys.executable,
            argv,
            dict(app.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, fd, 1),
                (os.POSIX_SPAWN_DUP2, fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(fd)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        address = state.read_address(town.path)
        if address is not None and address.pid == pid:
            link = dashboard_link(town.path, address)
            app.emit(
                {**address.to_json(), "login_url": link},
                f"Town '{town.name}' is up at {address.url} (pid {address.pid}); logs in {log}\n"
                f"Dashboard (one-time login link): {link}",
            )
            return 0
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeFailure(
                "The town process stopped while starting: "
                + (" / ".join(tail) or f"exit status {status}")
            )
        time.sleep(0.05)
    os.kill(pid, signal.SIGTERM)
    raise RuntimeFailure(f"The town process did not start within {START_TIMEOUT:.0f} s; see {log}.")


def dashboard_link(town: Path, address: Any) -> str:
    """A fresh one-time login link for the dashboard of the town process at `address`."""
    from gastown.townrun import login

    key = login.mint_key(town, time.time())
    return login.login_url(browsable(address.host, address.port), key)


def browsable(host: str, port: int) -> str:
    """The base URL a browser on this machine can open (a wildcard address is not one)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def town_down(app: App) -> int:
    from gastown.townrun import state

    address = state.read_address(app.town.path)
    if address is None:
        app.emit({"stopped": False, "up": False}, "The town is not up.")
        return 0
    os.kill(address.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while state.alive(address.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if state.alive(address.pid):
        os.kill(address.pid, signal.SIGKILL)
    app.emit(
        {"stopped": True, "pid": address.pid}, f"Stopped the town process (pid {address.pid})."
    )
    return 0


def town_status(app: App) -> int:
    if app.args.text is not None:
        from gastown.cli.cmd_agent import agent_status

        return agent_status(app, app.args.text)
    from gastown.townrun import state

    address = state.read_address(app.town.path)
    if address is None:
        from gastown.services import controls

        found = controls.pauses(app.ledger)
        town_pause, rigs = found.pop("", None), found

        def down() -> None:
            app.print(f"Town '{app.town.name}' is down. `gt up -d` starts it.")
            _print_pauses(app, town_pause, rigs)

        processes = _hosts(app)
        elsewhere = any(h["role"] == "leader" and h["alive"] for h in processes)
        data: dict[str, Any] = {"up": False, "town": app.town.name, "hosts": processes}
        if processes:  # a town over several hosts: it may be up elsewhere
            data["up_elsewhere"] = elsewhere

        def down_here() -> None:
            if elsewhere:
                app.print(f"Town '{app.town.name}' has no town process on this host; it runs on:")
                _print_hosts(app, processes)
                _print_pauses(app, town_pause, rigs)
            else:
                down()
                _print_hosts(app, processes)

        app.emit({**data, "dispatch_paused": town_pause, "rigs_paused": rigs}, down_here)
        return 0
    from gastown.cli.agent_client import call_town

    report = call_town(app, "GET", "/api/status")
    data = {"up": True, **address.to_json(), **report}

    def human() -> None:
        app.print(
            f"Town '{app.town.name}' is up at {address.url} (pid {address.pid}, since "
            f"{address.started_at[:19].replace('T', ' ')} UTC)"
        )
        counts = ", ".join(f"{n} {s}" for s, n in sorted(report.get("beads", {}).items()))
        app.print(f"  rigs: {', '.join(report.get('rigs', [])) or 'none'}")
        app.print(f"  polecats at work: {report.get('active_runs', 0)}")
        if report.get("waiting_for_workers"):
            app.print(
                f"  runs waiting for a worker: {report['waiting_for_workers']} "
                "(`gt bead show` says why)"
            )
        _print_hosts(app, report.get("hosts") or [])
        if report.get("open_escalations"):
            app.print(f"  open escalations: {report['open_escalations']} (`gt escalations`)")
        queue = report.get("merge_queue") or {}
        if queue:
            waiting = ", ".join(f"{n} {s}" for s, n in sorted(queue.items()))
            app.print(f"  merge queue: {waiting} (`gt mq`)")
        _print_pauses(app, report.get("dispatch_paused"), report.get("rigs_paused") or {})
        app.print(f"  beads: {counts or 'none'}")
        if counts:
            app.print(
                f"  {report.get('ready', 0)} ready (`gt ready`), "
                f"{report.get('blocked', 0)} blocked (`gt blocked`)"
            )

    app.emit(data, human)
    return 0


def _hosts(app: App) -> list[dict[str, Any]]:
    """The town's processes, for a town whose ledger other hosts share (else none)."""
    if not app.town.db_url.startswith(("postgresql://", "postgres://")):
        return []
    from gastown.services import hosts

    return hosts.town_hosts(app.ledger, app.town.settings, app.environ)


def _print_hosts(app: App, found: list[dict[str, Any]]) -> None:
    from gastown.services.hosts import describe

    for host in found:
        app.print(f"  {describe(host)}")


def _print_pauses(app: App, town: dict[str, Any] | None, rigs: dict[str, dict[str, Any]]) -> None:
    from gastown.services.controls import describe_pause

    if town:
        app.print(f"  PAUSED: {describe_pause(town)} (`gt resume`)")
    for rig, pause in sorted(rigs.items()):
        app.print(f"  PAUSED: {describe_pause(pause, rig)} (`gt resume --rig {rig}`)")
