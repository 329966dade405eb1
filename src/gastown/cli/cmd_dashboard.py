"""`gt dashboard`: a one-time login link for the running town's dashboard."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    dashboard = sub.add_parser(
        "dashboard",
        parents=[shared],
        help="a login link for the town's dashboard",
        description="Print a one-time link that logs a browser into the running town's "
        "dashboard: it works once, for ten minutes, and the browser stays logged in for a "
        "week (a session cookie). Anyone with the link can log in until it is used, so "
        "share it as you would the town token. Deleting run/session-key logs every browser "
        "out. The town must be up (`gt up -d`).",
    )
    dashboard.add_argument(
        "--open", action="store_true", help="open the link in this machine's web browser"
    )
    dashboard.set_defaults(handler=show_dashboard)


def show_dashboard(app: App) -> int:
    from gastown.cli.cmd_process import browsable, dashboard_link
    from gastown.errors import UserError
    from gastown.townrun import login, state

    address = state.read_address(app.town.path)
    if address is None:
        raise UserError(
            f"Town '{app.town.name}' is down, so there is no dashboard to open.",
            hint="Start it with `gt up -d`.",
        )
    link = dashboard_link(app.town.path, address)
    app.emit(
        {
            "url": browsable(address.host, address.port),
            "login_url": link,
            "expires_in": login.KEY_TTL,
        },
        f"Dashboard of town '{app.town.name}': {link}\n"
        f"(one use, good for {login.KEY_TTL // 60} minutes)",
    )
    if app.args.open:
        import webbrowser

        webbrowser.open(link)
    return 0
