"""Chaos: a convoy worked while the town process, agents and the refinery are killed at random.

    .venv/bin/python bench/chaos.py [--beads 20] [--kills 15] [--db sqlite|postgresql] [--seed N]

A live town (`gt up -d`, runtime `scripted`, one rig with a gate) works a convoy of beads, some
depending on others. Each agent writes its bead's file in two parts with a pause between, and
commits it or leaves it for the town to commit. At random moments the driver sends SIGKILL to
the town process (restarting it), to an agent's wrapper, to an agent itself, or to the town
process while a gate runs (the refinery mid-step). When every bead has closed, it checks the
promises:

- every bead closed, and the convoy landed;
- no bead ran twice at once (each agent holds an flock named after its bead while it works);
- no commit on the target holds a file of another bead than the one it names;
- no run whose agent left an exit status was ended `lost` and run again;
- every first-parent commit on the target has a tree the gate passed, and names its beads;
- every bead's work is on the target once, whole: nothing lost, nothing duplicated.

It prints the figures (kills by kind, runs, adoptions, redone runs, landings) and exits 1
naming each broken promise. `tests/test_chaos.py` runs a small round on both backends.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from gastown import town as towns
from gastown.polecat import group
from gastown.store import Store

GT = [sys.executable, "-m", "gastown"]
PG_BASE = os.environ.get("GT_TEST_PG", "postgresql://127.0.0.1:5432/test")
TRAILER = re.compile(r"^Gastown-Bead: (\S+)$", re.MULTILINE)
KINDS = ("town", "wrapper", "agent", "refinery")

GATE = """#!/bin/sh
# The chaos gate: marks that it runs (the driver may kill the refinery now), takes a moment,
# checks that every bead file on the stack is whole, and records the tree it passed.
touch "{e}/gate-running"
sleep 0.3
for f in files/*.txt; do
    [ -e "$f" ] || continue
    b=$(basename "$f" .txt)
    [ "$(cat "$f")" = "$(printf '%s part 1\\n%s part 2' "$b" "$b")" ] || exit 1
done
git rev-parse 'HEAD^{{tree}}' >> "{e}/gated"
rm -f "{e}/gate-running"
"""

WORK = (
    'mkdir -p files && echo "$GT_BEAD_ID part 1" > "files/$GT_BEAD_ID.txt" && sleep {pause} '
    '&& echo "$GT_BEAD_ID part 2" >> "files/$GT_BEAD_ID.txt"{commit}'
)


def git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Chaos",
        "GIT_AUTHOR_EMAIL": "chaos@example.invalid",
        "GIT_COMMITTER_NAME": "Chaos",
        "GIT_COMMITTER_EMAIL": "chaos@example.invalid",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Figures:
    kills: Counter[str] = field(default_factory=Counter)
    runs: int = 0
    adoptions: int = 0
    redone: Counter[str] = field(default_factory=Counter)
    """Runs after a bead's first, by how the run before them ended."""
    landings: int = 0
    seconds: float = 0.0
    broken: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        kills = ", ".join(f"{self.kills[k]} {k}" for k in KINDS)
        redone = ", ".join(f"{n} after {why}" for why, n in self.redone.most_common()) or "none"
        return [
            f"kills: {sum(self.kills.values())} ({kills})",
            f"runs: {self.runs}; adoptions: {self.adoptions}; redone: {redone}",
            f"landings on the target: {self.landings}; {self.seconds:.0f} s",
            *(f"BROKEN: {b}" for b in self.broken),
        ]


class Chaos:
    """One town, its convoy and the evidence its agents and gate leave."""

    def __init__(self, root: Path, beads: int, seed: int, db: str | None) -> None:
        self.root, self.count, self.rng = root, beads, random.Random(seed)
        self.evidence = root / "evidence"
        (self.evidence / "locks").mkdir(parents=True)
        self.upstream = self._upstream()
        self.path = root / "town"
        self.env = {**os.environ, "GT_ACTOR": "chaos"}
        self.env.pop("GT_TOWN", None)
        args = ["init", str(self.path)] + (["--db", db] if db else [])
        self.gt(*args, cwd=root)
        self.gt("rig", "add", "app", str(self.upstream))
        gate = self.evidence / "gate.sh"
        gate.write_text(GATE.format(e=self.evidence))
        for key, value in {
            "runtime": "scripted",
            "refinery.code_review": "false",
            "refinery.gates": json.dumps([f"sh {gate}"]),
            "max_polecats_per_rig": "3",
            "max_dispatch_attempts": "30",
            "polecat.retry_backoff_seconds": "1",
        }.items():
            self.gt("config", "set", key, value)
        self.store: Store = towns.load(self.path).open_store()
        self.figures = Figures()
        self.beads: list[str] = []
        self.convoy = ""

    def _upstream(self) -> Path:
        seed = self.root / "seed"
        seed.mkdir()
        git("init", "-q", "-b", "trunk", cwd=seed)
        (seed / "README.md").write_text("A rig worked under fire.\n")
        git("add", ".", cwd=seed)
        git("commit", "-q", "-m", "first", cwd=seed)
        bare = self.root / "upstream.git"
        git("clone", "-q", "--bare", str(seed), str(bare), cwd=self.root)
        self.first = git("rev-parse", "HEAD", cwd=seed).strip()
        return bare

    def gt(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            [*GT, *args],
            cwd=cwd or self.path,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"gt {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    # --- the work -----------------------------------------------------------------------

    def plan(self) -> None:
        tasks = []
        for n in range(self.count):
            pause = f"{self.rng.uniform(0.3, 1.5):.2f}"
            # A retry continues its last attempt's branch, which may hold this file already.
            commit = (
                " && git add -A && { git diff --cached --quiet"
                ' || git commit -qm "$GT_BEAD_ID: its file"; }'
                if n % 2
                else ""
            )
            work = WORK.format(pause=pause, commit=commit)
            # Only a lock another agent holds (flock's exit 75) is a double; the work failing
            # is an ordinary failure with its own status.
            guarded = (
                f"flock -n -E 75 \"{self.evidence}/locks/$GT_BEAD_ID\" sh -c '{work}'; s=$?; "
                f'[ $s -ne 75 ] || echo "$GT_BEAD_ID $GT_RUN_ID" >> "{self.evidence}/double"; '
                "exit $s"
            )
            steps = [{"text": f"task {n}"}, {"run": guarded}, {"text": "done"}]
            task: dict[str, object] = {
                "key": f"t{n}",
                "title": f"Chaos task {n}",
                "body": "```gt-script\n" + json.dumps(steps) + "\n```",
            }
            if n >= 4 and n % 4 == 0:
                task["needs"] = [f"t{n - 4}"]
            tasks.append(task)
        plan = self.root / "plan.json"
        # Bead by bead onto the target: every landing is a refinery step on the target itself.
        doc = {"title": "Under fire", "rig": "app", "merge_mode": "review-and-merge"}
        plan.write_text(json.dumps({**doc, "tasks": tasks}))
        made = json.loads(self.gt("convoy", "create", "--file", str(plan), "--json"))
        self.convoy = made["id"]
        self.beads = [b if isinstance(b, str) else b["id"] for b in made["beads"]]

    def closed(self) -> bool:
        with self.store.reader() as tx:
            found = [tx.get_bead(b) for b in self.beads]
        return all(b is not None and b.status == "closed" for b in found)

    # --- the kills ----------------------------------------------------------------------

    def town_pid(self) -> int | None:
        with suppress(OSError, ValueError, KeyError):
            return int(json.loads((self.path / "run" / "town.json").read_text())["pid"])
        return None

    def up(self) -> None:
        self.gt("up", "-d")

    def kill_town(self, kind: str) -> bool:
        pid = self.town_pid()
        if pid is None:
            return False
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_gone(pid)
        self.figures.kills[kind] += 1
        time.sleep(self.rng.uniform(0.0, 0.5))
        self.up()
        return True

    def running(self) -> list[tuple[str, int]]:
        with self.store.reader() as tx:
            runs = tx.list_runs(statuses=("running",))
        return [(r.id, r.pid) for r in runs if r.pid]

    def kill_one(self, kind: str) -> bool:
        live = self.running()
        if not live:
            return False
        run_id, pid = self.rng.choice(live)
        if kind == "wrapper":
            targets = [pid] if pid in group.members(pid, run_id) else []
        else:  # the agent: the scripted agent's own process, a child of the wrapper
            targets = [p for p in group.members(pid, run_id) if p != pid and is_agent(p)]
        for target in targets[:1]:
            with suppress(ProcessLookupError):
                os.kill(target, signal.SIGKILL)
            self.figures.kills[kind] += 1
            return True
        return False

    def strike(self) -> None:
        """Kill something: of the kinds, one of those killed least so far."""
        fewest = min(self.figures.kills[k] for k in KINDS)
        kind = self.rng.choice([k for k in KINDS if self.figures.kills[k] == fewest])
        if kind == "town":
            self.kill_town(kind)
        elif kind == "refinery":
            end = time.monotonic() + 5
            while time.monotonic() < end and not (self.evidence / "gate-running").exists():
                time.sleep(0.02)
            if (self.evidence / "gate-running").exists():
                self.kill_town(kind)
        else:
            self.kill_one(kind)

    def run(self, kills: int, budget: float) -> Figures:
        start = time.monotonic()
        self.plan()
        self.up()
        try:
            deadline = start + budget
            while not self.closed():
                if time.monotonic() > deadline:
                    self.figures.broken.append(f"not every bead closed within {budget:.0f} s")
                    break
                time.sleep(self.rng.uniform(0.2, 1.2))
                if sum(self.figures.kills.values()) < kills:
                    self.strike()
        finally:
            with suppress(RuntimeError):
                self.gt("down")
        self.figures.seconds = time.monotonic() - start
        self.check()
        return self.figures

    # --- the promises -------------------------------------------------------------------

    def check(self) -> None:
        broken = self.figures.broken
        with self.store.reader() as tx:
            beads = {b: tx.get_bead(b) for b in self.beads}
            runs = tx.list_runs()
            convoy = tx.get_convoy(self.convoy)
            adopted = [e for e in tx.list_events(limit=100_000) if e.kind == "run.adopted"]
        self.figures.runs, self.figures.adoptions = len(runs), len(adopted)
        broken += [f"bead {b} is {v.status if v else 'gone'}" for b, v in beads.items()
                   if v is None or v.status != "closed"]  # fmt: skip
        if convoy is None or convoy.status != "landed":
            broken.append(f"the convoy is {convoy.status if convoy else 'gone'}")
        doubles = self.evidence / "double"
        if doubles.exists():
            broken.append(f"beads ran twice at once: {doubles.read_text().split()}")
        by_bead: dict[str, list[object]] = {}
        for run in sorted(runs, key=lambda r: r.created_at):
            previous = by_bead.setdefault(run.bead_id, [])
            if previous:
                self.figures.redone[str(getattr(previous[-1], "outcome", "") or "?")[:60]] += 1
            previous.append(run)
            exit_file = self.path / "logs" / "runs" / run.id / "exit"
            if run.status == "lost" and exit_file.exists():
                broken.append(f"run {run.id} left an exit status and was ended lost")
        self.check_history(broken)

    def check_history(self, broken: list[str]) -> None:
        repo = self.upstream
        gated = set((self.evidence / "gated").read_text().split()) if (
            self.evidence / "gated"
        ).exists() else set()  # fmt: skip
        first_parent = git("rev-list", "--first-parent", f"{self.first}..trunk", cwd=repo).split()
        self.figures.landings = len(first_parent)
        landed: Counter[str] = Counter()
        for commit in first_parent:
            tree = git("rev-parse", f"{commit}^{{tree}}", cwd=repo).strip()
            if tree not in gated:
                broken.append(f"first-parent commit {commit[:10]} has a tree no gate passed")
            named = set(TRAILER.findall(git("log", "-1", "--format=%B", commit, cwd=repo)))
            if not named:
                broken.append(f"first-parent commit {commit[:10]} names no bead")
            landed.update(named)
            brought = changed(repo, f"{commit}^1", commit)
            strangers = {f for f in brought if bead_of(f) not in named}
            if strangers:
                broken.append(f"{commit[:10]} (beads {sorted(named)}) brought {sorted(strangers)}")
        for commit in git("rev-list", "--no-merges", f"{self.first}..trunk", cwd=repo).split():
            message = git("log", "-1", "--format=%B", commit, cwd=repo)
            owners = {bead_of(f) for f in changed(repo, f"{commit}^1", commit)}
            if len(owners) > 1 or any(o not in message for o in owners):
                broken.append(f"commit {commit[:10]} holds files of {sorted(owners)}")
        for bead in self.beads:
            if landed[bead] != 1:
                broken.append(f"bead {bead} landed {landed[bead]} times")
            try:
                text = git("show", f"trunk:files/{bead}.txt", cwd=repo)
            except RuntimeError:
                broken.append(f"bead {bead}'s file is not on the target")
                continue
            if text != f"{bead} part 1\n{bead} part 2\n":
                broken.append(f"bead {bead}'s file is not whole: {text!r}")
            added = git("log", "--format=%H", "--diff-filter=A", "trunk", "--", f"files/{bead}.txt",
                        cwd=repo).split()  # fmt: skip
            if len(added) != 1:
                broken.append(f"bead {bead}'s file was added {len(added)} times")


def changed(repo: Path, old: str, new: str) -> list[str]:
    return git("diff", "--name-only", old, new, cwd=repo).split()


def bead_of(path: str) -> str:
    """The bead a file of the chaos convoy belongs to (`files/<bead>.txt`)."""
    return Path(path).stem if path.startswith("files/") else path


def is_agent(pid: int) -> bool:
    with suppress(OSError):
        return b"scripted_agent" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


def wait_gone(pid: int, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in (b"Z", b"X"):
            return
        time.sleep(0.02)


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """None for a SQLite town; a fresh PostgreSQL schema, dropped afterwards, for the other."""
    if kind == "sqlite":
        yield None
        return
    schema = f"gt_chaos_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def chaos(beads: int, kills: int, db: str, seed: int, budget: float = 600) -> Figures:
    """One round; the figures, with what broke."""
    keep = os.environ.get("GT_CHAOS_KEEP")  # a folder to leave the town in, to look at after
    folder = tempfile.mkdtemp(prefix="gt-chaos-", dir=keep) if keep else None
    with tempfile.TemporaryDirectory(prefix="gt-chaos-") as tmp, database(db) as url:
        town = Chaos(Path(folder or tmp), beads, seed, url)
        try:
            return town.run(kills, budget)
        finally:
            town.store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beads", type=int, default=20)
    parser.add_argument("--kills", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    failed = False
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for kind in kinds:
        for round_ in range(args.rounds):
            seed = args.seed if args.seed is not None else random.randrange(1 << 30)
            print(f"chaos on {kind}, round {round_ + 1}: {args.beads} beads, seed {seed}")
            figures = chaos(args.beads, args.kills, kind, seed)
            for line in figures.lines():
                print(f"  {line}")
            failed = failed or bool(figures.broken)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
