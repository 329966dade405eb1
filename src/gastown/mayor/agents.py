"""How the mayor stops, resets and nudges polecats: through the town process's own
`TownLoop.control`, the one place agents are supervised, never a second way.

Inside the town process (its HTTP API asked the mayor) the call is handed to the event loop
that runs the town (`on_loop`); anywhere else (`gt mayor`, `gt mayor ask`) it goes to the
running town's API as `gt agent stop` does (`over_http`). A town that is not running is a
plain error, which the model gets as a tool result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from gastown.errors import UserError
from gastown.mayor.toolkit import Control

NOT_RUNNING = "The town is not running; start it with `gt up`."


def over_http(town_path: Path) -> Control:
    """A control that calls `POST /api/agents/{name}/{action}` of the town running from
    `town_path`, with the town token."""

    def control(name: str, action: str, actor: str, text: str) -> dict[str, Any]:
        from gastown.townrun import state
        from gastown.townrun.client import request

        address = state.read_address(town_path)
        if address is None:
            raise UserError(NOT_RUNNING)
        headers = {
            "Authorization": f"Bearer {state.token(town_path)}",
            "Content-Type": "application/json",
        }
        path = f"/api/agents/{quote(name, safe='')}/{quote(action, safe='')}"
        answer: dict[str, Any] = request(
            address.url, "POST", path, headers, {"actor": actor, "text": text}
        )
        return answer

    return control


def on_loop(control: Control) -> Control:
    """`control` (the town loop's own) called on the event loop's thread, from a worker thread
    of the town's API where a synchronous route runs."""

    def call(name: str, action: str, actor: str, text: str) -> dict[str, Any]:
        import anyio.from_thread

        return anyio.from_thread.run_sync(control, name, action, actor, text)

    return call
