"""Runs with spend on two fixed days, for the cost roll-ups and the board."""

from __future__ import annotations

from typing import Any

from gastown.model import SUCCEEDED, Run, run_branch

DAY1, DAY2 = "2026-03-01T10:00:00.000000Z", "2026-03-02T09:30:00.000000Z"


def run(run_id: str, bead_id: str, **fields: Any) -> Run:
    """A run of `alder` on app that ended on DAY1, with `fields` as given."""
    defaults: dict[str, Any] = {
        "polecat": "alder",
        "rig": "app",
        "runtime": "claude",
        "branch": run_branch("alder", bead_id),
        "worktree": "polecats/alder/app",
        "created_at": DAY1,
        "ended_at": DAY1,
        "status": SUCCEEDED,
    }
    return Run(id=run_id, bead_id=bead_id, **{**defaults, **fields})
