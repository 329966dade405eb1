"""Section 4: dispatch latency, from `gt sling` returning to the agent process starting.

A town with one rig (a real git repository), runtime `scripted`, the town process up. Each
bead is slung alone: sling, then wait until its run has ended, so no dispatch overlaps
another. Its latency is the run's `started_at` (stamped just after the agent process is
spawned) minus the wall-clock time right after the `gt sling` process returned.

The floor, measured in the same rounds in a shuffled order: `git worktree add` of a new
branch from the rig's clone into a fresh path (the git work a dispatch does), plus spawning
the same scripted agent process directly (until the spawn returns). `git fetch` of the clone,
which a dispatch also does before cutting the branch, is timed beside it to explain the gap.

The events of each bead (`gt events --json --bead ID`) split the latency: the wake and the
reconciler pass (sling returned → `bead.dispatched`), then preparing and spawning the run
(`bead.dispatched` → `run.started`).

A third step, shuffled in with the two, dispatches with every budget set on the rig
(`budget.per_bead_usd`, `budget.per_convoy_usd`, `budget.daily_usd`; set just before the
sling and taken off after its run, outside the timing), so each pass also reads the spend
figures: its ratio to the floor should equal the plain one within noise.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import livetown
from livetown import LiveTown

GOAL = 2.0
"""Latency ≤ 2× the floor (issue 3, Performance)."""
SHORT_SCRIPT = [
    {"text": "Writing a note."},
    {"write": "NOTE.md", "content": "dispatched\n"},
    {"text": "Done."},
]
"""A short run that succeeds (a commit ahead of trunk), so the bead goes to review and is
not retried behind the next measurement's back."""


@dataclass
class Parts:
    """Seconds per measured round, by part."""

    times: dict[str, list[float]] = field(default_factory=dict)

    def add(self, part: str, seconds: float) -> None:
        self.times.setdefault(part, []).append(seconds)

    def ms(self, part: str) -> float:
        return statistics.median(self.times[part]) * 1000


BUDGETS = {
    "budget.per_bead_usd": "1000",
    "budget.per_convoy_usd": "1000",
    "budget.daily_usd": "1000",
}
"""Budgets far above what a scripted run reports: checked on every pass, never reached."""
SETTLE = 0.1
"""Seconds of quiet before each timed sling, so no step starts inside the last one's wake."""


def budgeted_once(town: LiveTown, number: int, parts: Parts | None) -> None:
    """`dispatch_once` with every budget set on the rig (a rig's settings apply at once)."""
    for key, value in BUDGETS.items():
        town.gt("config", "set", "--rig", "app", key, value)
    time.sleep(SETTLE)  # the passes those commands woke end before the sling is timed
    measured = Parts() if parts is not None else None
    dispatch_once(town, number, measured)
    for key in BUDGETS:
        town.gt("config", "unset", "--rig", "app", key)
    if parts is not None and measured is not None:
        parts.add("latency with budgets set", measured.times["latency"][0])


def dispatch_once(town: LiveTown, number: int, parts: Parts | None) -> None:
    """Sling one bead and wait for its run to end; record its latency and where it went."""
    time.sleep(SETTLE)
    began = time.time()
    bead = town.sling(f"Dispatch {number}", "app", livetown.script_body("Bench", SHORT_SCRIPT))
    returned = time.time()
    run = town.wait_until_ended(bead)
    if run.started_at is None:
        raise RuntimeError(f"run {run.id} of {bead} never started: {run.status} {run.outcome}")
    if parts is None:
        return
    started = livetown.unix(run.started_at)
    events = town.event_times(bead)
    # Under load the agent may start before `gt sling` has even exited: no wait at all.
    parts.add("latency", max(0.0, started - returned))
    parts.add("gt sling (whole process)", returned - began)
    parts.add("bead.created → bead.dispatched", events["bead.dispatched"] - events["bead.created"])
    parts.add("sling returned → bead.dispatched", events["bead.dispatched"] - returned)
    parts.add("bead.dispatched → run.started", started - events["bead.dispatched"])


def floor_once(clone: Path, base: str, scratch: Path, number: int, parts: Parts | None) -> None:
    """`git worktree add` of a new branch into a fresh path, then spawn the scripted agent
    in it; `git fetch` of the clone timed beside them. Cleans up after itself, untimed."""
    worktree, branch = scratch / f"wt-{number}", f"bench/floor-{number}"
    script = scratch / "script.json"
    t0 = time.perf_counter()
    livetown.git("worktree", "add", "--quiet", "-b", branch, str(worktree), base, cwd=clone)
    t1 = time.perf_counter()
    agent = subprocess.Popen(
        [sys.executable, "-m", "gastown.runtimes.scripted_agent", "--script", str(script)],
        cwd=worktree,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    t2 = time.perf_counter()
    agent.communicate()
    t3 = time.perf_counter()
    livetown.git("fetch", "--quiet", "--prune", "origin", cwd=clone)
    t4 = time.perf_counter()
    livetown.git("worktree", "remove", "--force", str(worktree), cwd=clone)
    livetown.git("branch", "-D", "--quiet", branch, cwd=clone)
    if parts is not None:
        parts.add("git worktree add", t1 - t0)
        parts.add("spawn the scripted agent", t2 - t1)
        parts.add("floor", t2 - t0)
        parts.add("(the agent's whole run)", t3 - t1)
        parts.add("(git fetch, which dispatch also does)", t4 - t3)


def bench(root: Path, runs: int, warmup: int, rng: random.Random) -> list[str]:
    """Section 4; returns the line that judges the goal."""
    print(
        f"\n4. Dispatch latency, `gt sling` returned → agent process started, one bead at a "
        f"time: medians of {runs} runs after {warmup} warm-up round(s), interleaved with the "
        f"floor (git worktree add + spawning the scripted agent directly)"
    )
    upstream = livetown.make_upstream(root / "upstream-dispatch")
    with livetown.live_town(
        root / "dispatch-town", {"app": upstream}, {"runtime": "scripted", "refinery.auto": "false"}
    ) as town:
        clone = town.path / "rigs" / "app"
        base = livetown.git("rev-parse", "origin/trunk", cwd=clone).strip()
        scratch = root / "floor"
        scratch.mkdir()
        (scratch / "script.json").write_text(json.dumps(SHORT_SCRIPT), encoding="utf-8")
        town.up()
        parts = Parts()
        steps = ["dispatch", "budgeted", "floor"]
        for number in range(warmup + runs):
            keep = parts if number >= warmup else None
            rng.shuffle(steps)
            for step in steps:
                if step == "dispatch":
                    dispatch_once(town, number, keep)
                elif step == "budgeted":
                    budgeted_once(town, 1000 + number, keep)
                else:
                    floor_once(clone, base, scratch, number, keep)
    return report(parts)


SHOWN = (
    "latency",
    "latency with budgets set",
    "floor",
    "git worktree add",
    "spawn the scripted agent",
    "(git fetch, which dispatch also does)",
    "(the agent's whole run)",
    "gt sling (whole process)",
    "bead.created → bead.dispatched",
    "sling returned → bead.dispatched",
    "bead.dispatched → run.started",
)
"""The parts in the order they are printed: the two compared, the floor's parts, then where
the latency goes."""


def report(parts: Parts) -> list[str]:
    width = max(len(p) for p in SHOWN)
    for part in SHOWN:
        print(f"  {part:{width}}  {parts.ms(part):8.1f} ms")
    ratio = parts.ms("latency") / parts.ms("floor")
    verdict = "met" if ratio <= GOAL else f"MISSED by {ratio / GOAL:.2f}×"
    line = (
        f"ratio dispatch latency / floor: {ratio:.2f}×; median {parts.ms('latency'):.1f} ms "
        f"against {parts.ms('floor'):.1f} ms (goal ≤ {GOAL:g}×: {verdict})"
    )
    print("  " + line)
    budgeted = parts.ms("latency with budgets set") / parts.ms("floor")
    same = "unchanged within noise" if abs(budgeted - ratio) <= 0.15 * ratio else "CHANGED"
    also = (
        f"ratio dispatch latency with every budget set / floor: {budgeted:.2f}× against "
        f"{ratio:.2f}× without ({same}; goal: unchanged within noise)"
    )
    print("  " + also)
    return [line, also]
