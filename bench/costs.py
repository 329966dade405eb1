"""Section 9: `gt costs --by day --json` as a whole process on a town of 100,000 runs.

The town is made by `gt init` and filled straight through SQLite (runs over 90 days on five
rigs, one run in twenty of unknown cost, the mayor's replies and the reviewer's calls), so the
figures the command prints can be checked against sums made here. It is timed side by side
with `python -c "import sqlite3, json"`, interleaved, medians of the runs (goal ≤ 3×).

Run alone: `.venv/bin/python bench/costs.py [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import timing
from timing import Command

GT = Path(sys.executable).parent / "gt"
IMPORT_BASE = 'python -c "import sqlite3, json"'
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(root: Path, runs: int, seed: int) -> tuple[Path, dict[str, float]]:
    """A town of `runs` runs; what `gt costs` must answer (USD known, unknown calls)."""
    town = root / "costs-town"
    env = timing.clean_env({"GT_ACTOR": "bench"})
    subprocess.run([str(GT), "init", str(town)], check=True, env=env, capture_output=True)
    rng = random.Random(seed)
    rigs = [f"rig{i}" for i in range(5)]
    rows, usd, unknown = [], 0.0, 0
    for i in range(runs):
        at = START + timedelta(seconds=rng.randrange(DAYS * 86400))
        known = rng.random() >= 0.05
        cost = round(rng.uniform(0.001, 0.5), 6) if known else 0.0
        usd += cost
        unknown += not known
        rig = rigs[i % len(rigs)]
        rows.append(
            (
                f"run-{i:06d}",
                f"gt-{i // 3:05d}",
                f"cat{i % 40}",
                rig,
                "claude",
                f"gt/cat{i % 40}/gt-{i // 3:05d}",
                f"polecats/cat{i % 40}/{rig}",
                1 + i % 3,
                "succeeded",
                stamp(at),
                stamp(at + timedelta(minutes=3)),
                rng.randrange(1000, 200_000),
                rng.randrange(100, 20_000),
                cost,
                rng.randrange(0, 1000),
                int(known),
            )
        )
    db = sqlite3.connect(town / "state.db")
    with db:
        db.executemany(
            "INSERT INTO runs (id, bead_id, polecat, rig, runtime, branch, worktree, attempt, "
            "status, created_at, ended_at, tokens_in, tokens_out, cost_usd, cache_read_tokens, "
            "cost_known) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        for day in range(DAYS):
            noon = stamp(START + timedelta(days=day, hours=12))
            db.execute(
                "INSERT INTO mayor_messages (role, content, input_tokens, output_tokens, "
                "cost_usd, created_at) VALUES ('assistant', '\"ok\"', 500, 50, 0.01, ?)",
                (noon,),
            )
            db.execute(
                "INSERT INTO spend (at, agent, rig, runtime, tokens_in, tokens_out, cost_usd) "
                "VALUES (?, 'reviewer', 'rig0', 'api', 2000, 100, 0.02)",
                (noon,),
            )
            usd += 0.03
        db.execute("ANALYZE")
    db.close()
    return town, {"usd": usd, "unknown": unknown, "calls": runs + 2 * DAYS}


def check(town: Path, want: dict[str, float], out: Path) -> str:
    """Run the command once; whether its answer is the town's."""
    env = timing.clean_env({"GT_ACTOR": "bench"})
    timing.run_once(Command("check", [str(GT), "costs", "--by", "day", "--json"], town), env, out)
    got = json.loads(out.read_text(encoding="utf-8"))
    total = got["total"]
    same = (
        DAYS <= len(got["rows"]) <= DAYS + 1  # a run of the last evening may end the next day
        and total["calls"] == want["calls"]
        and total["unknown"] == want["unknown"]
        and abs(total["usd"] - want["usd"]) < 0.01
    )
    return f"{len(got['rows'])} days, ${total['usd']:,.2f}; {'matches' if same else 'DIFFERS'}"


def bench(root: Path, runs: int, repeat: int, warmup: int, rng: random.Random) -> list[str]:
    """Section 9; returns the line that judges the goal."""
    print(f"\n9. gt costs --by day --json on {runs:,} runs: medians of {repeat} interleaved runs")
    town, want = build(root, runs, rng.randrange(1 << 30))
    out = root / "costs.out"
    note = check(town, want, out)
    label = "gt costs --by day --json"
    commands = [
        Command(IMPORT_BASE, [sys.executable, "-c", "import sqlite3, json"]),
        Command(label, [str(GT), "costs", "--by", "day", "--json"], town),
    ]
    env = timing.clean_env({"GT_ACTOR": "bench"})
    samples = timing.interleaved(commands, repeat, warmup, env, out, rng)
    width = max(map(len, samples))
    print(f"  {'':{width}}  {'wall ms':>9}  {'cpu ms':>9}")
    for name, s in samples.items():
        tail = f"   {note}" if name == label else ""
        print(f"  {name:{width}}  {s.wall_ms:9.1f}  {s.cpu_ms:9.1f}{tail}")
    num, den = samples[label], samples[IMPORT_BASE]
    wall, cpu = num.wall_ms / den.wall_ms, num.cpu_ms / den.cpu_ms
    met = "met" if wall <= 3 else "MISSED"
    line = f"ratio {label} / {IMPORT_BASE}: {wall:.2f}× wall, {cpu:.2f}× cpu (goal ≤ 3×: {met})"
    print("  " + line)
    return [line]


def main() -> int:
    parser = argparse.ArgumentParser(description="gt costs on a town of many runs")
    parser.add_argument("--quick", action="store_true", help="3,000 runs, few repeats")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gt-bench-costs-") as tmp:
        if args.quick:
            bench(Path(tmp), 3_000, 3, 1, random.Random(1))
        else:
            bench(Path(tmp), 100_000, 21, 3, random.Random(1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
