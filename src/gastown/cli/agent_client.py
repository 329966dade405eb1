"""How an agent's `gt` commands reach the town: one JSON call over urllib with the run token.

Inside a run the supervisor sets `GT_API_URL` and `GT_RUN_TOKEN` (and `GT_RUN_ID`,
`GT_BEAD_ID`, sent along so the town can refuse a token used for another run). urllib, not
httpx: these commands are called all day by agents and must start fast.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from gastown.cli.app import App
from gastown.errors import (
    Conflict,
    GastownError,
    NotFound,
    Refused,
    RuntimeFailure,
    UsageError,
    UserError,
)

TIMEOUT = 30.0
_BY_STATUS: dict[int, type[GastownError]] = {
    400: UsageError,
    401: Refused,
    403: Refused,
    404: NotFound,
    409: Conflict,
    422: UsageError,
}


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
    return request(base, method, f"/api/agent/{route}", headers, body)


def call_town(app: App, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """`method` a town route (`/api/...`) of the running town process, with the town token."""
    from gastown.process import state

    address = state.read_address(app.town.path)
    if address is None:
        raise UserError("The town is not up.", hint="Start it with `gt up -d`.")
    headers = {
        "Authorization": f"Bearer {state.token(app.town.path)}",
        "Content-Type": "application/json",
    }
    return request(address.url, method, path, headers, body)


def request(
    base: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None,
    *,
    timeout: float = TIMEOUT,
) -> Any:
    """One JSON call; the town's refusals become our errors, silence a RuntimeFailure."""
    data = None if body is None else json.dumps(body).encode()
    prepared = urllib.request.Request(f"{base}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise _error(exc) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RuntimeFailure(f"The town process at {base} did not answer: {reason}.") from None


def _error(exc: urllib.error.HTTPError) -> GastownError:
    """The town's refusal as one of our errors, with its own sentence."""
    try:
        payload = json.loads(exc.read())
    except ValueError:
        payload = {}
    kind = _BY_STATUS.get(exc.code, RuntimeFailure)
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return kind(str(error.get("message")), hint=error.get("hint"))
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if isinstance(detail, str):
        return kind(detail)
    if isinstance(detail, list) and detail:  # a request body the API could not read
        return kind(f"The town could not read the request: {detail[0].get('msg', detail[0])}.")
    return kind(f"The town answered {exc.code} {exc.reason}.")
