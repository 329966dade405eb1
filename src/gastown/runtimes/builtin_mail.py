"""What the built-in agent hears while it works: its polecat's unread mail, a nudge included.

The agent has no session a person can type into, but it comes back to us after every tool
call. So after each one it asks the town for unread mail (`GET /api/agent/mail?quiet=true`
with the run token, as `gt mail check` does) and adds what came to that call's result: the
model reads it at its next step. `quiet` makes an empty check a read, not a write, because it
happens at every tool call. Outside a run (no `GT_API_URL`) there is nobody to ask.

urllib, not httpx: the agent's own imports stay small.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

TIMEOUT = 5.0
"""Seconds to wait for the town; past them the mail waits for the next tool call."""


def mailbox(environ: Mapping[str, str]) -> Callable[[], str] | None:
    """A check for unread mail that returns it as text for the model ("" when none), or None
    outside a run."""
    base, token = environ.get("GT_API_URL", ""), environ.get("GT_RUN_TOKEN", "")
    if not base or not token:
        return None
    headers = {"Authorization": f"Bearer {token}"}
    for name, header in (("GT_RUN_ID", "X-Gt-Run-Id"), ("GT_BEAD_ID", "X-Gt-Bead-Id")):
        if environ.get(name):
            headers[header] = environ[name]
    url = base.rstrip("/") + "/api/agent/mail?quiet=true"

    def check() -> str:
        asked = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(asked, timeout=TIMEOUT) as answer:
                data = json.load(answer)
        except (OSError, ValueError):
            return ""  # the town may be restarting: the mail stays unread for the next call
        return told(data.get("mail") or [])

    return check


def told(mail: list[dict[str, Any]]) -> str:
    """Messages as the model reads them, after a tool's output."""
    return "\n".join(f"Message from {m.get('from')}: {m.get('text')}" for m in mail)
