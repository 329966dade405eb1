"""The refinery's gates on `gt worker`s (`refinery.gates_on = workers`): a PostgreSQL town's
leader hands each commit's gates to a worker and lands, reworks or excuses on what the worker
said, exactly as it does with gates it runs itself; with no worker up its merge requests wait,
saying why.

Real PostgreSQL, real git, a real `gt up -d` and a real `gt worker` with a home of its own; the
gates echo the folder they ran in, so where they ran is read from their output.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gastown import config
from gastown.model import MergeRequest
from gastown.refinery.gate_runs import LOCAL, LocalGates, runner_for
from gastown.sections import sections
from gastown.store import open_store
from tests.builders.town import bead_status, script, until
from tests.conftest import Gt

WHERE = "echo ran-on-$(hostname)-$PWD && test ! -f broken.txt"
"""Passes on the target; fails on a change that adds broken.txt; says where it ran."""
ALWAYS_RED = "test -f present.txt"
"""Fails on the target too: excused as a pre-existing failure, with a bug bead."""


class Town:
    """A PostgreSQL town (polecats in the town process, gates on workers) and its workers."""

    def __init__(self, root: Path, db_url: str, upstream: Path) -> None:
        self.root, self.db_url = root, db_url
        Gt(root).ok("init", str(root / "town"), "--db", db_url)
        self.gt = Gt(root / "town")
        self.gt.ok("rig", "add", "app", str(upstream))
        for key, value in (
            ("runtime", "scripted"),
            ("refinery.code_review", "false"),
            ("workers.placement", "town"),
            ("workers.stalled_seconds", "3"),
            ("refinery.gates_on", "workers"),
            ("refinery.gates", json.dumps([WHERE, ALWAYS_RED])),
        ):
            self.gt.ok("config", "set", key, value)
        self.workers: list[subprocess.Popen[bytes]] = []

    def worker(self, name: str) -> Path:
        """Start `gt worker NAME` with a home of its own; that home."""
        home = self.root / f"home-{name}"
        home.mkdir()
        log = (self.root / f"worker-{name}.log").open("ab")
        command = [sys.executable, "-m", "gastown", "worker", "--db", self.db_url]
        command += ["--name", name, "--slots", "2", "--home", str(home)]
        environ = {**os.environ, "GT_ACTOR": "tester"}
        environ.pop("GT_TOWN", None)
        self.workers.append(
            subprocess.Popen(
                command,
                cwd=home,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environ,
                start_new_session=True,
            )
        )
        log.close()
        return home

    def mrs(self, bead: str) -> list[MergeRequest]:
        store = open_store(self.db_url)
        try:
            with store.reader() as tx:
                return tx.list_merge_requests(bead_id=bead)
        finally:
            store.close()

    def reasons(self, bead: str) -> list[str]:
        """The reasons of the bead's merge request events, oldest first."""
        store = open_store(self.db_url)
        try:
            with store.reader() as tx:
                return [e.reason or "" for e in tx.list_events(bead_id=bead, kind="mr.*")]
        finally:
            store.close()

    def close(self) -> None:
        self.gt("down")
        for process in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        for entry in Path("/proc").iterdir():  # a killed worker's gate runs in a session of its own
            with contextlib.suppress(OSError, ValueError):
                if self.root in Path(os.readlink(entry / "cwd")).parents:
                    os.kill(int(entry.name), signal.SIGKILL)


def test_gates_on_workers_in_a_town_without_workers_run_here_saying_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    read = sections(config.resolve({"refinery.gates_on": "workers"}, None, {})).refinery
    remote = LocalGates()  # stands for the job engine's runner
    assert runner_for("solo", sections(config.resolve({}, None, {})).refinery, remote) is LOCAL
    assert runner_for("solo", read, remote) is remote
    with caplog.at_level(logging.WARNING, logger="gastown.refinery"):
        assert runner_for("solo", read, None) is LOCAL
        assert runner_for("solo", read, None) is LOCAL
    said = [r.getMessage() for r in caplog.records if "gates_on is workers" in r.getMessage()]
    assert len(said) == 1 and "its gates run here" in said[0]


@pytest.fixture
def town(tmp_path: Path, pg_url: str, git_repo: Path) -> Iterator[Town]:
    made = Town(tmp_path, pg_url, git_repo)
    try:
        yield made
    finally:
        made.close()


def test_gates_wait_for_a_worker_then_run_in_its_home_and_decide_as_at_home(
    town: Town, tmp_path: Path
) -> None:
    gt = town.gt
    gt.ok("up", "-d")
    good = gt.json("sling", "Add a note", "--body", script({"write": "note.txt", "content": "n\n"}))
    good_id = str(good["id"])

    def waiting() -> bool:
        rows = [r for r in gt.json("mq") if r["bead_id"] == good_id]
        return bool(rows) and "waiting for a gt worker" in str(rows[0]["note"])

    until(waiting, "the merge request to wait for a worker to take its gates")
    (mr,) = town.mrs(good_id)
    assert mr.status == "testing" and mr.gates == []
    shown = gt.ok("mq").out
    assert "waiting for a gt worker" in shown

    home = town.worker("w1")
    until(lambda: bead_status(gt, good_id) == "closed", "the bead to land after a worker gated it")
    (mr,) = town.mrs(good_id)
    assert mr.status == "merged"
    where, red = mr.gates[0], mr.gates[1]
    assert where["ok"] and f"-{home}/worktrees/app/.gates/" in where["log_tail"]
    assert str(tmp_path / "town") not in where["log_tail"]
    assert where["log"].startswith(str(home))
    assert red["command"] == ALWAYS_RED and red["excused"] and not red["ok"]
    bugs = [
        b for b in gt.json("bead", "list") if b["title"] == f"Gate fails on trunk: {ALWAYS_RED}"
    ]
    assert len(bugs) == 1, "a pre-existing failure is excused with a bug bead, as at home"

    bad = gt.json("sling", "Break it", "--body", script({"write": "broken.txt", "content": "x\n"}))
    rework = until(
        lambda: [b for b in gt.json("bead", "list") if b["title"] == "Rework: Break it"],
        "the breaking change to come back as rework",
    )
    body = str(rework[0]["body"])
    assert f"fails the gate `{WHERE}`" in body
    assert f"-{home}/worktrees/app/.gates/" in body, "the rework carries the worker's output"
    (sent_back,) = town.mrs(str(bad["id"]))
    assert sent_back.status == "rework"
    left = subprocess.run(
        ["git", "for-each-ref", "refs/gastown/gates"],
        cwd=tmp_path / "upstream",
        capture_output=True,
        text=True,
        check=True,
    )
    assert left.stdout == "", "the refs handed to the worker are gone from the remote"


def test_a_worker_that_goes_silent_mid_gate_fails_the_step_and_another_worker_lands_it(
    town: Town, tmp_path: Path
) -> None:
    delay = tmp_path / "delay"
    delay.write_text("60\n")
    gt = town.gt
    gt.ok("config", "set", "refinery.gates", json.dumps([f"sleep $(cat {delay})", WHERE]))
    gt.ok("up", "-d")
    town.worker("w1")
    bead = str(gt.json("sling", "Slow gates", "--body", script({"write": "a.txt"}))["id"])

    def gating_on_worker() -> bool:
        mrs = town.mrs(bead)
        return bool(mrs) and mrs[0].note == "its gates run on a gt worker"

    until(gating_on_worker, "a worker to take the gates")
    os.kill(town.workers[0].pid, signal.SIGSTOP)  # frozen: no heartbeat, no answer
    until(
        lambda: any("stopped answering for over 3 s" in r for r in town.reasons(bead)),
        "the step to give up on the silent worker",
    )
    (mr,) = town.mrs(bead)
    assert mr.status in ("open", "testing") and mr.attempts == 1
    delay.write_text("0\n")
    os.killpg(town.workers[0].pid, signal.SIGKILL)
    home = town.worker("w2")
    until(lambda: bead_status(gt, bead) == "closed", "another worker to gate it and it to land")
    (mr,) = town.mrs(bead)
    assert f"-{home}/worktrees/app/.gates/" in mr.gates[1]["log_tail"]
