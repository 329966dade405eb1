"""One JSON call to the running town's HTTP API, its refusals turned into our errors.

urllib, not httpx: agents' `gt` commands make these calls all day and must start fast. The
CLI (`cli.agent_client`), the mayor and the TUI all reach the town through here.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from gastown.errors import (
    Conflict,
    GastownError,
    NotFound,
    Refused,
    RuntimeFailure,
    UsageError,
    UserError,
)
from gastown.townrun import state

TIMEOUT = 30.0
_BY_STATUS: dict[int, type[GastownError]] = {
    400: UsageError,
    401: Refused,
    403: Refused,
    404: NotFound,
    409: Conflict,
    422: UsageError,
}


def call_town(town_path: Path, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """`method` a town route (`/api/...`) of the town process running from `town_path`, with
    the town token."""
    address = state.read_address(town_path)
    if address is None:
        raise UserError("The town is not up.", hint="Start it with `gt up -d`.")
    headers = {
        "Authorization": f"Bearer {state.token(town_path)}",
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
