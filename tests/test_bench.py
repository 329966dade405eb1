"""The benchmark runs end to end: `bench/run.py --quick` as a real subprocess.

Only that it completes and prints every ratio is checked; times are never asserted here
(they belong in the issue note, from `make bench`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parent.parent / "bench" / "run.py"
IMPORT_BASE = re.escape('python -c "import sqlite3, json"')
NUMBER = r"[0-9]+\.[0-9]+×"

EXPECTED = [
    *(
        rf"ratio {re.escape(command)} / {base}: {NUMBER} wall, {NUMBER} cpu"
        for command in (
            "gt ready --json",
            "gt ready --json --limit 0",
            "python -m gastown ready --json",
            "gt bead list --json",
            "gt bead list",
        )
        for base in (IMPORT_BASE, re.escape("python -c pass"))
    ),
    rf"ratio ready set from the store / sorted\(\): {NUMBER}; median [0-9.]+ ms on [0-9,]+ "
    r"beads \(goal ≤ 50 ms: ",
    rf"ratio blockers walked per candidate / blocked table kept: {NUMBER}",
    rf"ratio gt convoy create / {IMPORT_BASE}: {NUMBER} wall, {NUMBER} cpu",
    r"convoy create median [0-9.]+ s \(goal ≤ 2 s: ",
    rf"ratio dispatch latency / floor: {NUMBER}; median [0-9.]+ ms against [0-9.]+ ms "
    r"\(goal ≤ 2×: ",
    r"town process CPU with [0-9]+ polecats streaming: [0-9.]+% of one core \(goal ≤ 5%: ",
    r"dashboard overview render median [0-9.]+ ms \(goal ≤ 150 ms: ",
    r"dashboard board render median [0-9.]+ ms \(goal ≤ 150 ms: ",
    r"live update reached all 50 clients: worst [0-9]+ ms \(goal ≤ 1000 ms: ",
    *(
        rf"refinery merge requests landed per minute, batched vs one at a time, {mix}: "
        rf"{NUMBER} \(goal ≥ {goal}×: "
        for mix, goal in (("all good", 3), ("one bad", 2))
    ),
    rf"ratio webhook → bead / sling of a title: {NUMBER}; median [0-9.]+ ms against [0-9.]+ ms "
    r"\(goal ≤ 2×: ",
    r"idle town rate-limit requests per rig per round: [0-9.]+ \([0-9.]+ a round over 3 rigs, "
    r"20 open pull requests\) \(goal ≤ 1: ",
    rf"ratio gt costs --by day --json / {IMPORT_BASE}: {NUMBER} wall, {NUMBER} cpu",
    rf"notes chosen / read by id: {NUMBER}; median [0-9.]+ ms from [0-9,]+ notes",
    rf"prompt with notes / without: {NUMBER}; the notes add ~[0-9,]+ tokens",
    rf"gt mayor ask / model server: {NUMBER}; it adds -?[0-9]+ ms over the server's "
    rf"[0-9.]+ ms \(goal ≤ 500 ms\), [0-9]+ ms with no town up",
    r"terminal view refresh with 50 agents streaming: median [0-9.]+ ms, worst [0-9.]+ ms "
    r"\(goal ≤ 100 ms: ",
    r"diff page, first view of a [0-9]+-line change: median [0-9.]+ ms, [0-9.]+× git's own read "
    r"\(goal ≤ 300 ms: ",
    r"leader CPU with [0-9]+ polecats streaming on [0-9]+ workers: [0-9.]+% of one core "
    r"\(goal ≤ 5%: ",
    r"worker overhead per run: [0-9]+ ms of the worker's own CPU",
    rf"ratio dispatch latency to a worker / in the town process: {NUMBER}; median [0-9.]+ ms "
    r"against [0-9.]+ ms \(goal ≤ 1.5×: ",
    r"failover, leader killed → standby leading: median [0-9.]+ s of [0-9]+, worst [0-9.]+ s "
    r"\(goal ≤ 15 s: ",
]


def test_quick_benchmark_prints_every_ratio() -> None:
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    missing = [p for p in EXPECTED if not re.search(p, done.stdout)]
    assert not missing, f"missing lines {missing} in:\n{done.stdout}"
    # The CLI's answers are checked against the generated data, not just timed.
    assert "matches dag.ready on the data" in done.stdout
    assert "DIFFERS" not in done.stdout
    assert "(all)" in done.stdout and "NOT ALL" not in done.stdout
    assert "; created" in done.stdout
    # The live town really ran: every polecat at once, every run to a merge request.
    assert "peak 4 of 4 runs running at once" in done.stdout
    assert re.search(r"runs ended: 4 merge request\n", done.stdout)
    # On workers too: every run to a merge request, and every failover counted.
    assert re.search(r"runs on workers ended: 4 merge request\n", done.stdout)
    assert "failover, leader killed → standby leading: median" in done.stdout
