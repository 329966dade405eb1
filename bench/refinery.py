"""The refinery's merge queue: merge requests landed per minute, batched against one at a time.

    .venv/bin/python bench/refinery.py [--quick]

Twenty merge requests wait on one rig whose gate takes about a second (`sleep 1` and a real
check of the code). The queue is drained by refinery steps, as the town process runs them, once
with `refinery.batch_size = 1` and once with the default 4, side by side in this run; then again
with one bad merge request among the twenty (it breaks the checked code: it must be reworked and
never land). Printed: landed per minute in each mode and the ratio (goals: ≥ 3× with all good,
≥ 2× with one bad), and the gate runs each needed. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gastown import town as towns
from gastown.model import IN_PROGRESS, IN_REVIEW, MergeRequest
from gastown.refinery.step import Progress, run_step
from gastown.services import beads, rigs, settings
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger

CALC = "def add(a, b):\n    return a + b\n"
WHO = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, **WHO}
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr}")
    return done.stdout


def make_queue(root: Path, count: int, bad: int | None, batch: int, gate_seconds: float) -> Path:
    """A town with a rig on a fresh bare remote and `count` merge requests waiting (the one at
    index `bad`, if any, breaks `calc.add`)."""
    seed = root / "seed"
    seed.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=seed)
    (seed / "calc.py").write_text(CALC)
    git("add", ".", cwd=seed)
    git("commit", "-qm", "first", cwd=seed)
    remote = root / "remote.git"
    git("clone", "-q", "--bare", str(seed), str(remote), cwd=root)
    town = towns.init(root / "town", name="bench")
    store = town.open_store()
    try:
        ledger = Ledger(store, prefix=town.prefix, actor="bench")
        rigs.add(ledger, town.path, "app", str(remote))
        gate = f"sleep {gate_seconds} && python3 -c 'import calc; assert calc.add(2, 2) == 4'"
        for key, value in (
            ("refinery.code_review", "false"),
            ("refinery.gates", json.dumps([gate])),
            ("refinery.batch_size", str(batch)),
        ):
            settings.set_value(ledger, town, key, value)
        clone = town.path / "rigs" / "app"
        base = git("rev-parse", "origin/main", cwd=clone).strip()
        for n in range(count):
            bead = beads.create(ledger, NewBead(title=f"Change {n}", rig="app"))
            beads.update(ledger, bead.id, {"status": IN_PROGRESS})
            beads.update(ledger, bead.id, {"status": IN_REVIEW})
            branch = f"gt/bench/{bead.id}"
            work = root / f"wt{n}"
            git("worktree", "add", "-q", "-b", branch, str(work), base, cwd=clone)
            if n == bad:
                (work / "calc.py").write_text("def add(a, b):\n    return 0\n")
            else:
                (work / f"f{n}.txt").write_text(f"{n}\n")
            git("add", ".", cwd=work)
            git("commit", "-qm", f"Change {n}", cwd=work)
            head = git("rev-parse", "HEAD", cwd=work).strip()
            now = ledger.now()
            with store.transaction() as tx:
                tx.insert_merge_request(
                    MergeRequest(
                        id=f"mr-{secrets.token_hex(4)}",
                        bead_id=bead.id,
                        run_id=None,
                        rig="app",
                        branch=branch,
                        target="main",
                        base_commit=base,
                        head_commit=head,
                        created_at=now,
                        updated_at=now,
                    )
                )
    finally:
        store.close()
    return town.path


def drain(town_path: Path) -> tuple[float, Progress, int]:
    """Seconds to drain the queue, what happened, and how many gate runs it took."""
    town = towns.load(town_path)
    total = Progress()
    started = time.monotonic()
    while True:
        got = run_step(town, "app", {})
        total.add(got)
        if not got.changed:
            break
    seconds = time.monotonic() - started
    gate_runs = len(list((town_path / "logs" / "refinery").rglob("gate-*.log")))
    return seconds, total, gate_runs


def measure(count: int, bad: int | None, gate_seconds: float) -> dict[str, float]:
    results: dict[str, float] = {}
    for batch in (1, 4):
        with tempfile.TemporaryDirectory(prefix="gt-bench-refinery-") as tmp:
            town = make_queue(Path(tmp), count, bad, batch, gate_seconds)
            seconds, progress, gates = drain(town)
        landed = len(progress.landed)
        expected = count - (1 if bad is not None else 0)
        if landed != expected or (bad is not None and len(progress.reworked) != 1):
            raise SystemExit(f"batch {batch}: landed {landed} of {expected}, {progress}")
        rate = landed / seconds * 60
        results[f"batch{batch}"] = rate
        print(
            f"  batch_size {batch}: {landed} landed in {seconds:5.1f} s "
            f"({rate:5.1f}/min), {gates} gate runs, {len(progress.reworked)} reworked"
        )
    results["ratio"] = results["batch4"] / results["batch1"]
    return results


def bench(quick: bool = False, number: int = 7) -> list[str]:
    """The section for `bench/run.py`; returns the lines that judge the goals."""
    count, gate = (6, 0.2) if quick else (20, 1.0)
    print(f"\n{number}. Refinery: {count} merge requests queued, a gate of about {gate:.1f} s")
    good = measure(count, None, gate)
    bad = count // 2 + 1
    print(f"  with one bad merge request among {count} (at index {bad}):")
    mixed = measure(count, bad, gate)
    lines = []
    for label, ratio, goal in (("all good", good, 3.0), ("one bad", mixed, 2.0)):
        verdict = "met" if ratio["ratio"] >= goal else f"MISSED ({ratio['ratio'] / goal:.2f} of it)"
        lines.append(
            f"refinery merge requests landed per minute, batched vs one at a time, {label}: "
            f"{ratio['ratio']:.2f}× (goal ≥ {goal:g}×: {verdict})"
        )
    for line in lines:
        print("  " + line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="6 merge requests, a short gate")
    bench(parser.parse_args(argv).quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
