"""How an agent's `gt` commands reach the town: one JSON call with the run token.

Inside a run the supervisor sets `GT_API_URL` and `GT_RUN_TOKEN` (and `GT_RUN_ID`,
`GT_BEAD_ID`, sent along so the town can refuse a token used for another run). The call itself
is `townrun.client`'s.
"""

from __future__ import annotations

from typing import Any

from gastown.cli.app import App
from gastown.errors import UserError
from gastown.townrun import client


def inside_run(app: App) -> bool:
    """True when the command runs inside an agent's run (it can talk back to the town)."""
    return bool(app.environ.get("GT_API_URL") and app.environ.get("GT_RUN_TOKEN"))


def call(app: App, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
    """`method` `/api/agent/<route>` with the run token; the answer's JSON, or a plain error."""
    if not inside_run(app):
        raise UserError(
            "This command is for agents inside a run: GT_API_URL and GT_RUN_TOKEN are not set.",
            hint="The town sets them for each agent it starts.",
        )
    base = app.environ["GT_API_URL"].rstrip("/")
    headers = {
        "Authorization": f"Bearer {app.environ['GT_RUN_TOKEN']}",
        "Content-Type": "application/json",
    }
    for name, header in (("GT_RUN_ID", "X-Gt-Run-Id"), ("GT_BEAD_ID", "X-Gt-Bead-Id")):
        if app.environ.get(name):
            headers[header] = app.environ[name]
    return client.request(base, method, f"/api/agent/{route}", headers, body)


def call_town(app: App, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """`method` a town route (`/api/...`) of the running town process, with the town token."""
    return client.call_town(app.town.path, method, path, body)
