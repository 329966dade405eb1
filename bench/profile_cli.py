"""Where the time of `gt ready --json` and `gt bead list --json` goes, on a generated town.

    .venv/bin/python bench/profile_cli.py [--beads 10000] [--runs 9] [--top 12]

For each command, against a town from `towngen` (10,000 beads by default):

- the whole-process median, beside `python -c pass` and `python -c "import sqlite3, json"`;
- a fresh interpreter (`inprocess`) that imports the CLI, calls `main()` once cold and
  then warm, and profiles one warm call: interpreter start, imports, the cold call, what
  remains of the whole process (exit), and the warm call split by kind of work (SQL,
  building records, to_json, json.dumps, ...; see `attribution`);
- `-X importtime` of the real command, self time by module group;
- the functions with the most own time.

Only `gastown.cli.main.main` is called in-process, so this keeps working as the CLI changes.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import attribution
import timing
import towngen
from timing import Command

PYTHON = sys.executable
COMMANDS = (("ready", "--json"), ("ready", "--json", "--limit", "0"), ("bead", "list", "--json"))


def whole_process(town: Path, args: list[str], runs: int) -> dict[str, float]:
    """Median wall ms of the command and the two baselines, interleaved."""
    gt = str(Path(PYTHON).parent / "gt")
    commands = [
        Command("pass", [PYTHON, "-c", "pass"]),
        Command("import", [PYTHON, "-c", "import sqlite3, json"]),
        Command("gt", [gt, *args], town),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        samples = timing.interleaved(
            commands, runs, 2, timing.clean_env(), Path(tmp) / "out", random.Random(0)
        )
    return {label: s.wall_ms for label, s in samples.items()}


def importtime(town: Path, args: list[str]) -> list[attribution.ImportRow]:
    gt = str(Path(PYTHON).parent / "gt")
    for _ in range(3):  # the last of three: bytecode and file caches warm
        done = subprocess.run(
            [PYTHON, "-X", "importtime", gt, *args],
            cwd=town,
            env=timing.clean_env(),
            capture_output=True,
            text=True,
            check=True,
        )
    return attribution.parse_importtime(done.stderr)


def report(town: Path, args: list[str], runs: int, top: int) -> None:
    label = "gt " + " ".join(args)
    whole = whole_process(town, args, runs)
    script = Path(__file__).with_name("inprocess.py")
    done = subprocess.run(
        [PYTHON, str(script), str(town), str(runs), str(top), "--", *args],
        env=timing.clean_env({"GT_ACTOR": "bench"}),
        capture_output=True,
        text=True,
        check=True,
    )
    res: dict[str, Any] = json.loads(done.stdout)
    start, imports = whole["pass"], res["import_s"] * 1000
    first, warm = res["first_s"] * 1000, res["warm_s"] * 1000
    rest = whole["gt"] - start - imports - first
    print(f"\n== {label} ==")
    print(
        f"whole process, median of {runs}: {whole['gt']:.1f} ms  (python -c pass "
        f'{whole["pass"]:.1f} ms; python -c "import sqlite3, json" {whole["import"]:.1f} ms)'
    )
    rows = [
        ("interpreter start (python -c pass)", start),
        ("import gastown.cli.main", imports),
        ("main(), first call (lazy imports, cold caches)", first),
        ("the rest: exit, freeing objects, noise", rest),
        (f"main(), warm (median of {runs}), split by cProfile:", warm),
    ]
    for name, ms in rows:
        print(f"  {name:52} {ms:7.1f} ms")
    for name, seconds in res["categories"].items():
        print(f"      {name:48} {seconds * 1000:7.1f} ms")
    print_imports(importtime(town, args))
    print("  functions with the most own time (one profiled warm call; calls, own, cumulative):")
    for name, calls, own, cum in res["top"]:
        print(f"    {calls:7}  {own * 1000:6.1f} ms  {cum * 1000:6.1f} ms  {name}")


def print_imports(rows: list[attribution.ImportRow]) -> None:
    groups = attribution.import_groups(rows)
    total = sum(groups.values()) / 1000
    ours = {k: v for k, v in groups.items() if k.startswith("gastown")}
    theirs = {k: v for k, v in groups.items() if not k.startswith("gastown")}
    print(
        f"  -X importtime: {len(rows)} modules, {total:.1f} ms self time in all "
        f"(inflated by the measuring), {sum(ours.values()) / 1000:.1f} ms of it gastown:"
    )
    for title, part in (("gastown", ours), ("the rest", theirs)):
        best = sorted(part.items(), key=lambda kv: -kv[1])[:14]
        print(f"    {title}: " + ", ".join(f"{k} {v / 1000:.1f}" for k, v in best))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--beads", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--town", type=Path, help="an existing town (default: generate one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gt-profile-") as tmp:
        town = args.town
        if town is None:
            town = Path(tmp) / "town"
            towngen.write_town(town, towngen.populate(args.beads, args.seed))
            print(f"Generated a town of {args.beads:,} beads (seed {args.seed}) at {town}")
        for command in COMMANDS:
            report(town, list(command), args.runs, args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
