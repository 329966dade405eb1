"""The Gas Town benchmark: `make bench`, or `.venv/bin/python bench/run.py [--quick]`.

Prints the figures the Performance section of issue 2 asks for, each as a ratio of medians
measured side by side in this run (absolute times on a shared machine are not stable):

1. `gt ready --json` and `gt bead list --json` as whole processes on a generated town of
   10,000 beads, against `python -c "import sqlite3, json"` (goal ≤ 3×) and `python -c pass`,
   through both the `gt` entry point and `python -m gastown`.
2. The in-process ready set on a written town of 100,000 beads, as the store reads it (goal
   ≤ 50 ms), against the same query walking each candidate's blockers, `gastown.dag.ready`
   over the data in memory, and a plain `sorted()` of as many tuples.
3. `gt convoy create --file` of a 1,000-task plan as a whole process (goal ≤ 2 s).

And the two of issue 3, against a live town process (`gt up -d`) with the scripted runtime:

4. Dispatch latency, `gt sling` returned → agent process started, median of 20, against the
   floor of `git worktree add` plus spawning the same agent directly (goal ≤ 2×).
5. The town process's CPU while 50 scripted polecats stream output at once (goal ≤ 5% of
   one core).

And the two of issue 6, on the generated town:

6. The dashboard's overview and rig board pages rendered in process (goal ≤ 150 ms median),
   and one change reaching 50 clients following the live updates (goal ≤ 1 s, worst); and
   (issue 16) the whole town's board with two filters and a search (goal ≤ 150 ms median).

And the two of issue 12, on the shipped fake GitHub (`forge.py`):

8. A webhook received → its bead made, against `gt sling` of a title through the API (goal
   ≤ 2×); an idle town of 3 rigs with 20 open pull requests and intake on: requests counted
   against GitHub's rate limit per rig per poll round (goal ≤ 1).

And the one of issue 13 (`costs.py`):

9. `gt costs --by day --json` as a whole process on a town of 100,000 runs, against
   `python -c "import sqlite3, json"` (goal ≤ 3×).

And the terminal view of issue 16 (`feedview.py`):

12. `gt feed`'s full-screen view refreshed under Textual's pilot while 50 agents stream (goal
    ≤ 100 ms a refresh).
13. A merge request's diff page for a 5,000-line change rendered in process (goal ≤ 300 ms
    median), first view and seen again, against git reading the diff alone (`diffpage.py`).

And the two of issue 15 (`knowledge.py`):

14. Choosing the notes for a polecat's prompt from 10,000 notes in process (goal ≤ 20 ms
    median), and the prompt with notes against without, in size (goal: the notes add at most
    the budget, 2,000 tokens).

15. `gt mayor ask` as a whole process with the town up (the turn taken by the town process's
    API) against the scripted model server's own answer time (goal ≤ 0.5 s over it), beside
    the same command with no town up (`mayor_ask.py`).

And the three of issue 17 (`many_hosts.py`), on a PostgreSQL town with `gt worker`s:

16. Dispatch latency to a worker against one in the town process, in turns (goal ≤ 1.5×);
    the leader's CPU while 100 scripted polecats stream on 4 workers × 25 slots (goal ≤ 5% of
    one core), and the workers' own CPU per run; the leader killed → a standby leading,
    median of 5 (goal ≤ 15 s).

`--quick` runs everything at a small size (for the test suite). Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import costs
import dashboard
import diffpage
import dispatch
import feedview
import forge
import knowledge
import many_hosts
import mayor
import mayor_ask
import polecats
import readyset
import refinery
import timing
import towngen
from gastown import dag
from gastown.model import BLOCKS, PARENT_CHILD
from timing import Command, Samples

PYTHON = Path(sys.executable)
GT = Path(shutil.which("gt", path=str(PYTHON.parent)) or shutil.which("gt") or "gt")
"""The `gt` installed beside this interpreter (as in the venv), else the one on PATH."""
IMPORT_BASE = 'python -c "import sqlite3, json"'
PASS_BASE = "python -c pass"


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big and how often: the full benchmark, or the quick one the tests run."""

    town: int
    ready: int
    convoy: int
    runs: int
    warmup: int
    convoy_runs: int
    dispatches: int
    polecats: polecats.Load
    clients: int
    """Connections following the dashboard's live updates."""


FULL = Sizes(
    town=10_000,
    ready=100_000,
    convoy=1_000,
    runs=21,
    warmup=3,
    convoy_runs=7,
    dispatches=20,
    polecats=polecats.Load(rigs=5, per_rig=10, lines=400, interval=0.05),
    clients=50,
)
QUICK = Sizes(
    town=300,
    ready=3_000,
    convoy=30,
    runs=3,
    warmup=1,
    convoy_runs=2,
    dispatches=3,
    polecats=polecats.Load(rigs=2, per_rig=2, lines=30, interval=0.05),
    clients=50,
)


def verdict(value: float, goal: float, unit: str = "×") -> str:
    return f"goal ≤ {goal:g}{unit}: {'met' if value <= goal else 'MISSED'}"


def print_ratio(what: str, base: str, num: Samples, den: Samples, goal: float | None) -> str:
    """Print one `ratio ...` line (wall-clock and CPU ratios of medians, and the goal if any);
    return the line."""
    wall = num.wall_ms / den.wall_ms
    cpu = num.cpu_ms / den.cpu_ms
    tail = f"  ({verdict(wall, goal)})" if goal is not None else ""
    line = f"ratio {what} / {base}: {wall:.2f}× wall, {cpu:.2f}× cpu{tail}"
    print("  " + line)
    return line


def print_samples(samples: dict[str, Samples], notes: dict[str, str]) -> None:
    width = max(len(label) for label in samples)
    print(f"  {'':{width}}  {'wall ms':>9}  {'cpu ms':>9}")
    for label, s in samples.items():
        note = f"   {notes[label]}" if label in notes else ""
        print(f"  {label:{width}}  {s.wall_ms:9.1f}  {s.cpu_ms:9.1f}{note}")


def build_town(root: Path, sizes: Sizes, seed: int) -> tuple[Path, towngen.Population]:
    start = time.perf_counter()
    pop = towngen.populate(sizes.town, seed)
    made = time.perf_counter()
    path = root / "town"
    towngen.write_town(path, pop)
    written = time.perf_counter()
    by_status = ", ".join(f"{k} {v:,}" for k, v in sorted(pop.by_status().items()))
    staged = sum(c.staged for c in pop.convoys)
    print(
        f"Town: {sizes.town:,} beads ({by_status}); {pop.count(BLOCKS):,} blocks and "
        f"{pop.count(PARENT_CHILD):,} parent-child edges; {len(pop.convoys)} convoys "
        f"({staged} staged); generated in {made - start:.2f} s, written in "
        f"{written - made:.2f} s"
    )
    return path, pop


DEFAULT_READY_LIMIT = 100


def expected_ready(pop: towngen.Population) -> list[str]:
    """The ready set computed straight from the generated data, to check the CLI's answer."""
    ready = dag.ready(pop.candidates(), pop.edges(BLOCKS), pop.edges(PARENT_CHILD))
    return [c.id for c in ready]


def check_outputs(
    town: Path, pop: towngen.Population, env: dict[str, str], out: Path
) -> dict[str, str]:
    """Run each read command once, check its JSON (or the count under its table), and
    describe what it printed."""
    notes: dict[str, str] = {}
    want_ready = expected_ready(pop)
    for cmd in read_commands(town):
        timing.run_once(cmd, env, out)
        size = f"{out.stat().st_size / 1e6:.1f} MB"
        if "--json" not in cmd.argv:
            shown = out.read_text(encoding="utf-8").splitlines()[-1]  # "10000 beads"
            whole = "all" if shown == f"{len(pop.beads)} beads" else "NOT ALL"
            notes[cmd.label] = f"a table of {shown} ({whole}), {size}; no goal"
            continue
        found = [b["id"] for b in json.loads(out.read_text(encoding="utf-8"))]
        if "ready" in cmd.argv:
            want = want_ready if "--limit" in cmd.argv else want_ready[:DEFAULT_READY_LIMIT]
            same = "matches" if found == want else "DIFFERS FROM"
            notes[cmd.label] = f"{len(found):,} beads, {size}; {same} dag.ready on the data"
        else:
            whole = "all" if len(found) == len(pop.beads) else "NOT ALL"
            notes[cmd.label] = f"{len(found):,} beads ({whole}), {size}"
    return notes


def read_commands(town: Path) -> list[Command]:
    commands = []
    for args in (
        ["ready", "--json"],  # the first 100 by priority, as `bd ready` shows
        ["ready", "--json", "--limit", "0"],  # every ready bead
        ["bead", "list", "--json"],  # the whole town
        ["bead", "list"],  # the whole town as a table, for people (no goal)
    ):
        text = " ".join(args)
        commands.append(Command(f"gt {text}", [str(GT), *args], town))
    args = ["ready", "--json"]
    commands.append(
        Command("python -m gastown ready --json", [str(PYTHON), "-m", "gastown", *args], town)
    )
    return commands


def baselines() -> list[Command]:
    return [
        Command(PASS_BASE, [str(PYTHON), "-c", "pass"]),
        Command(IMPORT_BASE, [str(PYTHON), "-c", "import sqlite3, json"]),
    ]


def bench_read(
    town: Path, pop: towngen.Population, sizes: Sizes, root: Path, rng: random.Random
) -> list[str]:
    """Section 1; returns the lines that judge a goal."""
    env = timing.clean_env({"GT_ACTOR": "bench"})
    out = root / "out.json"
    print(
        f"\n1. Whole process on {sizes.town:,} beads: medians of {sizes.runs} interleaved runs "
        f"after {sizes.warmup} warm-up round(s), stdout to a file"
    )
    notes = check_outputs(town, pop, env, out)
    commands = [*baselines(), *read_commands(town)]
    samples = timing.interleaved(commands, sizes.runs, sizes.warmup, env, out, rng)
    print_samples(samples, notes)
    judged = []
    for cmd in read_commands(town):
        s = samples[cmd.label]
        goal = 3 if "--json" in cmd.argv else None
        line = print_ratio(cmd.label, IMPORT_BASE, s, samples[IMPORT_BASE], goal=goal)
        print_ratio(cmd.label, PASS_BASE, s, samples[PASS_BASE], goal=None)
        if goal is not None:
            judged.append(line)
    return judged


def bench_convoy(town: Path, sizes: Sizes, root: Path, seed: int, rng: random.Random) -> list[str]:
    """Section 3; returns the line that judges the goal."""
    env = timing.clean_env({"GT_ACTOR": "bench"})
    plan = root / "plan.toml"
    towngen.write_plan(plan, sizes.convoy, seed)
    template = root / "template.db"
    shutil.copyfile(town / "state.db", template)
    label = f"gt convoy create --file ({sizes.convoy:,} tasks)"
    create = Command(
        label, [str(GT), "convoy", "create", "--rig", "app", "--file", str(plan)], town
    )

    def fresh_town(cmd: Command) -> None:
        """Each creation starts from the same town, so runs do not pile up beads."""
        if cmd is create:
            for suffix in ("-wal", "-shm"):
                Path(f"{town / 'state.db'}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(template, town / "state.db")

    print(
        f"\n3. Convoy from a plan file into the {sizes.town:,}-bead town: medians of "
        f"{sizes.convoy_runs} interleaved runs after 1 warm-up round, each on a fresh copy of it"
    )
    out = root / "convoy.out"
    fresh_town(create)
    timing.run_once(create, env, out)
    made = f"({sizes.convoy} beads," in out.read_text(encoding="utf-8")  # "Created convoy …"
    note = f"plan {plan.stat().st_size / 1e3:.0f} kB; {'created' if made else 'NOT CREATED'}"
    base = baselines()[1]
    samples = timing.interleaved(
        [create, base], sizes.convoy_runs, 1, env, out, rng, before_each=fresh_town
    )
    print_samples(samples, {label: note})
    s = samples[label]
    print_ratio("gt convoy create", IMPORT_BASE, s, samples[IMPORT_BASE], goal=None)
    line = f"convoy create median {s.wall_ms / 1000:.2f} s ({verdict(s.wall_ms / 1000, 2, ' s')})"
    print("  " + line)
    return [line]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, few runs")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rng = random.Random(args.seed)
    print(
        f"Gas Town benchmark ({'quick' if args.quick else 'full'}, seed {args.seed}): "
        f"Python {sys.version.split()[0]} at {PYTHON}, {os.cpu_count()} CPUs"
    )
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gt-bench-") as tmp:
        root = Path(tmp)
        town, pop = build_town(root, sizes, args.seed)
        judged = bench_read(town, pop, sizes, root, rng)
        judged += dashboard.bench(town, sizes.runs, sizes.clients)
        judged += readyset.bench(root, sizes.ready, max(sizes.runs, 15), args.seed, rng)
        judged += bench_convoy(town, sizes, root, args.seed, rng)
        judged += dispatch.bench(root, sizes.dispatches, 1, rng)
        judged += polecats.bench(root, sizes.polecats)
        judged += refinery.bench(args.quick)
        judged += mayor.bench(root, 3 * sizes.runs, sizes.warmup, rng)
        judged += forge.bench(root, args.quick, seed=args.seed)
        judged += costs.bench(root, 3_000 if args.quick else 100_000, sizes.runs, 1, rng)
        judged += feedview.bench(root, 10 if args.quick else 100, 500 if args.quick else 2_000)
        judged += knowledge.bench(root, 1_000 if args.quick else 10_000, sizes.runs, rng)
        judged += diffpage.bench(root, 500 if args.quick else 5_000, 5 if args.quick else 20)
        judged += mayor_ask.bench(root, 5 if args.quick else 20, rng)
        judged += many_hosts.bench(root, args.quick, seed=args.seed)
    took = time.perf_counter() - began
    print(f"\nGoals (issues 2, 3 and 6, Performance), benchmark took {took:.0f} s:")
    for line in judged:
        print("  " + line.removeprefix("ratio "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
