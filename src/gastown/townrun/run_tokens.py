"""Run tokens: what an agent presents when it talks back to the town.

A run token names its run and carries an HMAC of the run id keyed by the town's own token, so
the town checks it without storing it, and it is good for that run (and so that bead) only.
The town token itself never reaches an agent.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "gtr"


def mint(town_token: str, run_id: str) -> str:
    """The token a run's agent calls the town with: it names the run and only it."""
    return f"{PREFIX}.{run_id}.{_mac(town_token, run_id)}"


def verify(town_token: str, presented: str) -> str | None:
    """The run id a token was minted for, or None if it was not minted by this town."""
    parts = presented.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    run_id, mac = parts[1], parts[2]
    return run_id if hmac.compare_digest(mac, _mac(town_token, run_id)) else None


def _mac(town_token: str, run_id: str) -> str:
    return hmac.new(town_token.encode(), run_id.encode(), hashlib.sha256).hexdigest()[:40]
