"""A PostgreSQL town spread over hosts: `gt worker`s that run its polecats, town processes that
lead or stand by, and what happens when any of them is killed, frozen or badly pointed.

Every "host" is a real process with a folder of its own: each town process a town folder (the
first made with `gt init --db`, the others joined to it the same way), each worker a home. The
rig's remote is a local repository that takes pushes, so what landed is read from it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.builders.town import bead_status, script, until
from tests.conftest import Gt, run_git

SETTINGS = (
    ("runtime", "scripted"),
    ("refinery.code_review", "false"),
    ("workers.stalled_seconds", "3"),
)
FAILOVER = 15.0
"""The issue's bound: a standby leads within this many seconds of the leader's death."""


class Hosts:
    """The processes of one town, each in a folder of its own under `root`; every process
    started here is ended when the test ends."""

    def __init__(self, root: Path, db_url: str, upstream: Path) -> None:
        self.root, self.db_url, self.upstream = root, db_url, upstream
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.towns: list[Gt] = []

    def town(self, name: str, *settings: tuple[str, str]) -> Gt:
        """A town folder for the database: the first makes the town (rig `app`, `settings`),
        the others join it."""
        prefix = () if self.towns else ("--prefix", "zz")
        made = Gt(self.root).json("init", str(self.root / name), "--db", self.db_url, *prefix)
        gt = Gt(self.root / name)
        if not self.towns:
            assert not made["joined"]
            gt.ok("rig", "add", "app", str(self.upstream))
            for key, value in (*SETTINGS, *settings):
                gt.ok("config", "set", key, value)
        else:
            assert made["joined"]
        self.towns.append(gt)
        return gt

    def up(self, gt: Gt) -> int:
        """Start the town process of `gt`'s folder; its pid."""
        return int(gt.json("up", "-d")["pid"])

    def worker(self, name: str, slots: int = 1) -> subprocess.Popen[bytes]:
        """Start `gt worker NAME` as a process (and process group) of its own."""
        home = self.root / f"home-{name}"
        home.mkdir(exist_ok=True)
        log = (self.root / f"worker-{name}.log").open("ab")
        command = [sys.executable, "-m", "gastown", "worker", "--db", self.db_url]
        command += ["--name", name, "--slots", str(slots), "--home", str(home)]
        environ = {**os.environ, "GT_ACTOR": "tester"}
        environ.pop("GT_TOWN", None)
        process = subprocess.Popen(
            command,
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ,
            start_new_session=True,
        )
        log.close()
        self.workers[name] = process
        until(lambda: self.host(name) is not None, f"worker {name} to register")
        return process

    def hosts(self) -> list[dict[str, Any]]:
        return list(self.towns[0].json("status")["hosts"])

    def host(self, name: str) -> dict[str, Any] | None:
        return next((h for h in self.hosts() if h["name"] == name), None)

    def leader(self) -> dict[str, Any] | None:
        return next((h for h in self.hosts() if h["role"] == "leader" and h["alive"]), None)

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def close(self) -> None:
        for process in self.workers.values():  # SIGCONT first: a frozen one cannot die
            _signal_group(process.pid, signal.SIGCONT)
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        for gt in self.towns:
            gt("down")
        _kill_left(self.root)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def working_in(root: Path) -> list[int]:
    """The processes whose working folder is `root` or under it (a worker, its agents)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cwd = Path(os.readlink(entry / "cwd"))
            if (cwd == root or root in cwd.parents) and "Z" not in _state(entry):
                found.append(int(entry.name))
    return found


def _state(entry: Path) -> str:
    return (entry / "stat").read_text().rpartition(")")[2].split()[0]


def _kill_left(root: Path) -> None:
    """End whatever still runs under `root` when the test ends."""
    for pid in working_in(root):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def town(tmp_path: Path, pg_url: str, git_repo: Path) -> Iterator[Hosts]:
    hosts = Hosts(tmp_path, pg_url, git_repo)
    try:
        yield hosts
    finally:
        hosts.close()


def runs_of(gt: Gt, bead: str) -> list[dict[str, Any]]:
    return list(gt.json("runs", "--bead", bead))


def until_closed(gt: Gt, bead: str, what: str) -> None:
    """Wait for the bead to close; if it never does, fail with what the town said about it."""
    try:
        until(lambda: bead_status(gt, bead) == "closed", what)
    except AssertionError as exc:
        said = gt.ok("events", "--bead", bead).out.splitlines()[-12:]
        raise AssertionError("\n".join([str(exc), gt.ok("mq").out, *said])) from None


def run_of(gt: Gt, run_id: str) -> dict[str, Any]:
    return next(r for r in gt.json("runs") if r["id"] == run_id)


def running_on_a_worker(gt: Gt, bead: str) -> dict[str, Any] | None:
    return next((r for r in runs_of(gt, bead) if r["status"] == "running" and r["host"]), None)


def worker_script(first_sleep: float, mark: Path) -> str:
    """A bead body whose first attempt writes its run id to `who.txt` and sleeps; a later
    attempt (the mark is there) writes its own run id and ends at once."""
    return script(
        {"text": "Working on who.txt"},
        {
            "run": f'echo "$GT_RUN_ID" > who.txt; '
            f'if [ ! -e "{mark}" ]; then touch "{mark}"; sleep {first_sleep}; fi'
        },
    )


def no_bead_ran_twice_at_once(town: Hosts) -> None:
    """The runs table: a bead's runs follow one another (each created after the last ended)."""
    rows = town.sql("SELECT bead_id, id, created_at, ended_at FROM runs ORDER BY created_at")
    last_end: dict[str, str] = {}
    for bead, run, created, ended in rows:
        assert ended is not None, f"run {run} never ended"
        if bead in last_end:
            assert created >= last_end[bead], f"run {run} of {bead} began before the last ended"
        last_end[bead] = ended


def on_trunk(upstream: Path, commit: str) -> bool:
    found = subprocess.run(
        ["git", "merge-base", "--is-ancestor", commit, "trunk"], cwd=upstream, check=False
    )
    return found.returncode == 0


def remote_ref(upstream: Path, ref: str) -> str | None:
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", ref],
        cwd=upstream,
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or None


def test_three_workers_and_two_town_processes_land_a_convoy_of_twenty(town: Hosts) -> None:
    first = town.town("first", ("workers.placement", "workers"), ("max_polecats_per_rig", "6"))
    town.up(first)
    until(town.leader, "the town process to lead")
    second = town.town("second")
    town.up(second)
    for name in ("w1", "w2", "w3"):
        town.worker(name, slots=2)
    tasks = [
        {
            "key": f"t{n}",
            "title": f"Note {n}",
            "body": script({"run": f'mkdir -p notes && echo "$GT_BEAD_ID" > notes/{n}.txt'}),
        }
        for n in range(20)
    ]
    plan = town.root / "plan.json"
    doc = {"title": "Twenty notes", "rig": "app", "merge_mode": "review-and-merge"}
    plan.write_text(json.dumps({**doc, "tasks": tasks}))
    made = second.json("convoy", "create", "--file", str(plan))
    beads = [b if isinstance(b, str) else b["id"] for b in made["beads"]]
    assert len(beads) == 20
    until(
        lambda: second.json("convoy", "show", made["id"])["status"] == "landed",
        "the convoy to land",
    )
    assert all(bead_status(second, b) == "closed" for b in beads)
    work = run_git("log", "--no-merges", "--format=%s", "trunk", cwd=town.upstream)
    landed = [subject.split(":")[0] for subject in work.splitlines()[:-1]]
    assert sorted(landed) == sorted(beads)  # each bead's commit, once, then the first
    merged = town.sql("SELECT bead_id, status FROM merge_requests")
    assert sorted(merged) == sorted((b, "merged") for b in beads)
    for n, bead in enumerate(beads):
        assert run_git("show", f"trunk:notes/{n}.txt", cwd=town.upstream).strip() == bead
    hosts = {h for (h,) in town.sql("SELECT DISTINCT host FROM runs")}
    assert hosts and hosts <= {"w1", "w2", "w3"}
    no_bead_ran_twice_at_once(town)
    roles = sorted(h["role"] for h in second.json("status")["hosts"])
    assert roles == ["leader", "standby", "worker", "worker", "worker"]


def test_a_killed_workers_run_is_lost_and_lands_from_another_worker(town: Hosts) -> None:
    gt = town.town("first", ("workers.placement", "workers"))
    town.up(gt)
    until(town.leader, "the town process to lead")
    town.worker("w1")
    mark = town.root / "first-attempt"
    bead = gt.json("sling", "Write who.txt", "--body", worker_script(20, mark))["id"]
    dead = until(lambda: running_on_a_worker(gt, bead), "the run to start on w1")
    until(mark.exists, "the agent to be at work")
    assert dead["host"] == "w1"
    town.worker("w2")
    town.workers["w1"].kill()
    town.workers["w1"].wait(timeout=30)  # reaped, as its service manager or shell would
    # Its agent dies with it: nothing of the dead run works on beside the retry.
    until(lambda: not working_in(town.root / "home-w1"), "w1's agent to die with it")
    until_closed(gt, bead, "the retry to land")
    ended = run_of(gt, dead["id"])
    assert ended["status"] == "lost" and "w1 stopped answering" in ended["outcome"]
    (retry,) = [r for r in runs_of(gt, bead) if r["id"] != dead["id"]]
    assert retry["host"] == "w2" and retry["outcome"] == "merge request"
    assert dead["attempt"] == retry["attempt"] == 1  # the lost attempt was given back
    who = run_git("show", "trunk:who.txt", cwd=town.upstream).strip()
    assert who == retry["id"]
    history = run_git("log", "-p", "trunk", cwd=town.upstream)
    assert dead["id"] not in history
    assert remote_ref(town.upstream, f"refs/gastown/runs/{dead['id']}") is None
    no_bead_ran_twice_at_once(town)


def test_a_frozen_worker_that_wakes_records_nothing(town: Hosts) -> None:
    gt = town.town("first", ("workers.placement", "workers"))
    town.up(gt)
    until(town.leader, "the town process to lead")
    town.worker("w1")
    mark = town.root / "first-attempt"
    # The first attempt's agent ends while its worker is frozen: on waking, the worker has
    # a finished run to record, commit and push.
    bead = gt.json("sling", "Write who.txt", "--body", worker_script(2, mark))["id"]
    stale = until(lambda: running_on_a_worker(gt, bead), "the run to start on w1")
    until(mark.exists, "the agent to be at work")
    os.kill(town.workers["w1"].pid, signal.SIGSTOP)
    town.worker("w2")
    until_closed(gt, bead, "the retry to land while w1 is frozen")
    os.kill(town.workers["w1"].pid, signal.SIGCONT)
    town.workers["w1"].send_signal(signal.SIGTERM)  # drains: whatever it does, it does now
    assert town.workers["w1"].wait(timeout=60) == 0
    ended = run_of(gt, stale["id"])
    assert ended["status"] == "lost" and "w1 stopped answering" in ended["outcome"]
    (retry,) = [r for r in runs_of(gt, bead) if r["id"] != stale["id"]]
    assert retry["host"] == "w2" and retry["outcome"] == "merge request"
    (count,) = town.sql("SELECT COUNT(*) FROM merge_requests WHERE bead_id = %s", bead)[0]
    assert count == 1
    stale_head = remote_ref(town.upstream, f"refs/gastown/runs/{stale['id']}")
    branch = f"refs/heads/{stale['branch']}"
    ever = run_git("reflog", "show", "--format=%H", branch, cwd=town.upstream).split()
    assert ever and stale_head not in ever
    assert run_git("show", "trunk:who.txt", cwd=town.upstream).strip() == retry["id"]
    assert stale["id"] not in run_git("log", "-p", "trunk", cwd=town.upstream)
    if stale_head is not None:
        assert not on_trunk(town.upstream, stale_head)
    assert run_of(gt, stale["id"])["status"] == "lost"
    no_bead_ran_twice_at_once(town)


def test_a_standby_leads_when_the_leader_is_killed_and_the_run_lands(town: Hosts) -> None:
    first = town.town("first", ("workers.placement", "workers"))
    leader_pid = town.up(first)
    until(town.leader, "the town process to lead")
    second = town.town("second")
    standby_pid = town.up(second)
    town.worker("w1")
    go = town.root / "go"  # the agent works until the test says go: through the failover
    waits = f'while [ ! -e "{go}" ]; do sleep 0.1; done'
    bead = first.json(
        "sling", "Write late.txt", "--body", script({"run": waits}, {"write": "late.txt"})
    )["id"]
    run = until(lambda: running_on_a_worker(first, bead), "the run to start on w1")
    os.kill(leader_pid, signal.SIGKILL)
    killed = time.monotonic()

    def led() -> list[dict[str, Any]] | None:
        leaders = [h for h in second.json("status")["hosts"] if h["role"] == "leader"]
        return leaders if [h["pid"] for h in leaders] == [standby_pid] else None

    until(led, "the standby to lead")
    took = time.monotonic() - killed
    assert took < FAILOVER, f"the standby led {took:.1f} s after the leader died"
    assert run_of(second, run["id"])["status"] == "running"  # the worker's run went on
    go.touch()
    until_closed(second, bead, "the run's work to land")
    ended = run_of(second, run["id"])
    assert ended["host"] == "w1" and ended["outcome"] == "merge request"
    assert run_git("show", "trunk:late.txt", cwd=town.upstream) == ""


def worker_says(town: Hosts, *args: str, cwd: Path | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "gastown", "worker", *args],
        cwd=cwd or town.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "GT_TOWN"} | {"GT_ACTOR": "tester"},
    )
    return done.returncode, done.stderr.strip()


def test_a_worker_pointed_wrong_says_why_in_one_sentence(town: Hosts, pg_url: str) -> None:
    home = str(town.root / "home")
    sqlite = f"sqlite:///{town.root / 'state.db'}"
    for url, said in (
        (sqlite, "gt worker needs a PostgreSQL town"),
        ("postgresql://127.0.0.1:1/test", "Cannot reach the town's database at"),
        (pg_url, "holds no town"),
    ):
        code, err = worker_says(town, "--db", url, "--name", "w", "--home", home)
        assert code == 2, err
        first = err.splitlines()[0]
        assert said in first and first.endswith("."), err
        assert "Traceback" not in err
    lite = town.root / "lite"
    Gt(town.root).ok("init", str(lite))
    code, err = worker_says(town, "--name", "w", "--home", home, cwd=lite)
    assert code == 2 and "gt worker needs a PostgreSQL town" in err.splitlines()[0], err
    gt = town.town("first")
    town.up(gt)
    until(town.leader, "the town process to lead")
    holder = town.worker("w1")
    code, err = worker_says(town, "--db", pg_url, "--name", "w1", "--home", home)
    assert code == 2 and "A worker named w1 is already running on" in err
    assert f"(pid {holder.pid})" in err.splitlines()[0]
    code, err = worker_says(town, "--db", pg_url, "--drain", "NOPE")
    assert code != 0 and "no worker named NOPE" in err
    assert town.host("w1") is not None and holder.poll() is None


def test_a_joined_folder_sees_the_town_and_a_bead_waits_for_a_worker(town: Hosts) -> None:
    first = town.town("first", ("workers.placement", "workers"))
    town.up(first)
    until(town.leader, "the town process to lead")
    joined = Gt(town.root).ok("init", str(town.root / "second"), "--db", town.db_url)
    assert joined.out.startswith("Joined town 'first'") and len(joined.out.splitlines()) == 1
    second = Gt(town.root / "second")
    town.towns.append(second)
    town.up(second)
    bead = second.json("sling", "Waits for a worker", "--body", script({"write": "w.txt"}))
    assert bead["id"].startswith("zz-")
    waiting = until(
        lambda: second.json("bead", "show", bead["id"])["waiting_for_worker"], "the bead to wait"
    )
    assert "none is up" in waiting
    time.sleep(2)  # the leader's watch and reconciler have looked again: it still waits
    assert bead_status(second, bead["id"]) == "in_progress"
    (run,) = runs_of(second, bead["id"])
    assert run["status"] == "queued" and run["host"] is None
    town.worker("w1")
    until_closed(second, bead["id"], "the bead to land")
    assert second.json("bead", "show", bead["id"])["waiting_for_worker"] is None
    status = second.json("status")
    assert status["town"] == "first"
    roles = sorted((h["role"], h["alive"]) for h in status["hosts"])
    assert roles == [("leader", True), ("standby", True), ("worker", True)]


def test_peek_from_the_standbys_folder_reads_a_worker_run(town: Hosts) -> None:
    first = town.town("first", ("workers.placement", "workers"))
    town.up(first)
    until(town.leader, "the town process to lead")
    second = town.town("second")
    town.up(second)
    town.worker("w1")
    bead = first.json(
        "sling",
        "Say hello",
        "--body",
        script({"text": "Hello from worker w1"}, {"write": "hello.txt", "content": "hi\n"}),
    )["id"]
    until_closed(first, bead, "the bead to land")
    (run,) = runs_of(second, bead)
    assert run["host"] == "w1"
    assert not (town.root / "second" / run["transcript"]).exists()
    read = second.ok("peek", run["id"]).out
    assert read.startswith(f"# {run['id']}: ") and "Hello from worker w1" in read
    raw = second.ok("peek", run["id"], "--raw").out.splitlines()
    assert any("Hello from worker w1" in line for line in raw)


def test_a_drained_worker_finishes_its_run_takes_no_more_and_leaves(town: Hosts) -> None:
    """Given a worker with a run going, when `gt worker --drain NAME` is said from a town
    folder, then the worker shows as draining, finishes that run (it lands), takes no other,
    and exits 0; the next bead waits for a worker."""
    first = town.town("first", ("workers.placement", "workers"))
    town.up(first)
    until(town.leader, "the town process to lead")
    worker = town.worker("w1", slots=2)
    go = town.root / "go"
    slow = first.json(
        "sling",
        "Slow one",
        "--body",
        script({"run": f"while [ ! -e {go} ]; do sleep 0.1; done"}, {"write": "slow.txt"}),
    )["id"]
    until(lambda: running_on_a_worker(first, slow), "the run to start on w1")

    said = first.ok("worker", "--drain", "w1").out
    assert said.startswith("Worker w1 will finish its runs")
    until(lambda: (town.host("w1") or {}).get("draining"), "w1 to show as draining")
    later = first.json("sling", "After the drain", "--body", script({"write": "l.txt"}))["id"]
    go.touch()
    assert worker.wait(timeout=60) == 0
    until_closed(first, slow, "the drained worker's run to land")
    assert town.host("w1") is None  # it left
    (waiting,) = runs_of(first, later)
    assert waiting["status"] == "queued" and waiting["host"] is None
