"""Snapshots for the reconciler's planner: ready beads, runs and a town at a fixed time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gastown.clock import stamp
from gastown.model import RUNNING, Run, run_branch
from gastown.reconciler import ReadyBead, RigView, Snapshot
from tests.builders.records import at

T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


def ago(now: datetime, seconds: float) -> str:
    """The time `seconds` before `now`, as the ledger writes times."""
    return stamp(now - timedelta(seconds=seconds))


def ready(*beads: ReadyBead) -> dict[str, tuple[ReadyBead, ...]]:
    """Ready beads grouped by rig, as a snapshot holds them."""
    out: dict[str, list[ReadyBead]] = {}
    for b in beads:
        out.setdefault(b.rig, []).append(b)
    return {rig: tuple(bs) for rig, bs in out.items()}


def numbered(count: int, rig: str = "app") -> list[ReadyBead]:
    """`count` ready beads of equal priority, gt-00 the oldest."""
    return [ReadyBead(f"gt-{n:02d}", rig, 2, at(n)) for n in range(count)]


def active_run(run_id: str, bead_id: str, polecat: str, now: datetime, **fields: Any) -> Run:
    """A run that started a minute ago and printed something just now."""
    defaults: dict[str, Any] = {
        "rig": "app",
        "status": RUNNING,
        "created_at": ago(now, 61),
        "started_at": ago(now, 60),
        "last_heartbeat": ago(now, 1),
    }
    return Run(
        run_id,
        bead_id,
        polecat,
        runtime="scripted",
        branch=run_branch(polecat, bead_id),
        worktree=f"polecats/{polecat}/app",
        **{**defaults, **fields},
    )


def failed_run(n: int, ended: str) -> Run:
    """A run of its own bead by its own polecat that failed at `ended`."""
    return Run(
        f"f{n}", f"gt-f{n}", f"p{n}", "app", "scripted", "b", "w", status="failed", ended_at=ended
    )


def snapshot(*beads: ReadyBead, **fields: Any) -> Snapshot:
    """A town with rigs `app` and `web`, these beads ready, and `fields` as given."""
    rigs = {"app": RigView("app", "trunk"), "web": RigView("web", "main")}
    return Snapshot(rigs=fields.pop("rigs", rigs), ready=ready(*beads), **fields)
