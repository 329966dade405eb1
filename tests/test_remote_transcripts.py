"""A run whose agent ran on another host, read from the transcript that host shipped to the
ledger: `gt peek` (and `-f`, following chunks as they ship), the mayor's `run_transcript`, the
dashboard's agent page and transcript stream, `gt feed`'s peek and a retry's earlier attempts,
each from a town folder that has no file for the run. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gastown.model import QUEUED, RUN_FAILED, RUNNING, Polecat, Rig, Run, run_branch
from gastown.polecat.earlier import last_lines
from gastown.polecat.shipping import Shipper
from gastown.polecat.transcript import Source, relative_path
from gastown.services.ledger import Ledger
from gastown.store import Store
from gastown.town import load
from tests.builders import DEADLINE, at, bead
from tests.builders.web import Browser, make_app
from tests.conftest import Gt

STAMP = at(1)
START = {"kind": "start", "at": STAMP, "model": "scripted", "session": "s-1"}
SAID = {"kind": "text", "at": STAMP, "role": "assistant", "text": "Reading the code"}
CALL = {"kind": "tool_call", "at": STAMP, "tool": "shell", "input": {"cmd": "ls"}, "call_id": "c1"}
RESULT = {"kind": "tool_result", "at": at(2), "call_id": "c1", "output": "README.md"}
LATER = {"kind": "text", "at": at(2), "role": "assistant", "text": "Shipped from afar"}


@pytest.fixture
def town(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "town"
    assert Gt(tmp_path)("init", str(path), "--db", db_url).code == 0
    return path


@pytest.fixture
def store(town: Path) -> Iterator[Store]:
    """The town's store, with run `run-1` of polecat alder running on another host."""
    opened = load(town).open_store()
    with opened.transaction() as tx:
        tx.insert_rig(Rig("app", "file:///srv/app.git", "trunk", "rigs/app", at(0)))
        tx.insert_beads([bead("gt-a", rig="app")])
        run = Run("run-1", "gt-a", "alder", "app", "scripted", run_branch("alder", "gt-a"), "w")
        run.created_at = STAMP
        assert tx.insert_run(run)
        run.status, run.transcript, run.started_at = RUNNING, relative_path("run-1"), STAMP
        assert tx.update_run(run, QUEUED)
        tx.insert_polecat(Polecat("alder", "app", "working", "gt-a", "run-1", None, STAMP, STAMP))
    try:
        yield opened
    finally:
        opened.close()


class Worker:
    """Another host: its own folder, where the run writes its transcript, and a shipper."""

    def __init__(self, folder: Path, store: Store) -> None:
        self.path = folder / relative_path("run-1")
        self.path.parent.mkdir(parents=True)
        self.store, self.shipper = store, Shipper()

    def write(self, *events: Mapping[str, object]) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
        self.shipper.pending("run-1", self.path)
        assert self.shipper.ship(self.store) == len(events)

    def lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines()


class Lines:
    """A command's output lines, read in a thread as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        out = process.stdout
        threading.Thread(target=lambda: self._read(out), daemon=True).start()

    def _read(self, out: Iterator[str]) -> None:
        for line in out:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, text: str) -> list[str]:
        """Lines up to the first holding `text` (failing if the output ends or time runs out)."""
        while not any(text in line for line in self.seen):
            line = self._queue.get(timeout=DEADLINE)
            assert line is not None, f"the output ended before {text!r}: {self.seen}"
            self.seen.append(line)
        return self.seen


def fail(store: Store) -> None:
    with store.transaction() as tx:
        run = tx.get_run("run-1")
        assert run is not None
        run.status, run.ended_at, run.outcome = RUN_FAILED, at(3), "its host was lost"
        assert tx.update_run(run, RUNNING)


def test_gt_peek_reads_a_run_shipped_from_another_host(
    town: Path, store: Store, tmp_path: Path
) -> None:
    worker = Worker(tmp_path / "worker", store)
    worker.write(START, SAID, CALL)
    assert not (town / relative_path("run-1")).exists()
    gt = Gt(town)
    assert gt.ok("peek", "run-1", "--raw").out.splitlines() == worker.lines()
    assert gt.ok("peek", "run-1", "--raw", "-n", "1").out.splitlines() == worker.lines()[-1:]
    events = gt.ok("peek", "run-1", "--json").out.splitlines()
    assert [json.loads(line) for line in events] == [START, SAID, CALL]
    read = gt.ok("peek", "alder").out
    assert read.startswith("# run-1: alder on gt-a (running)")
    assert "Reading the code" in read and "→ shell" in read


def test_gt_peek_follows_chunks_as_they_ship_and_ends_with_the_verdict(
    town: Path, store: Store, tmp_path: Path
) -> None:
    worker = Worker(tmp_path / "worker", store)
    worker.write(START, SAID)
    command = [sys.executable, "-m", "gastown", "peek", "-f", "run-1", "--interval", "0.05"]
    environ = {"PATH": "/usr/bin:/bin", "GT_ACTOR": "tester", "NO_COLOR": "1"}
    with subprocess.Popen(
        command, cwd=town, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ
    ) as follower:
        try:
            lines = Lines(follower)
            seen = lines.until("Reading the code")
            assert seen[0] == "# run-1: alder on gt-a (running)"
            worker.write(LATER)  # shipped while it follows
            lines.until("Shipped from afar")
            fail(store)
            seen = lines.until("run failed: its host was lost")  # the verdict, as the file's
            assert follower.wait(timeout=30) == 0
        finally:
            follower.kill()
    assert sum("Shipped from afar" in line for line in seen) == 1


def test_the_mayor_the_dashboard_feed_and_retries_read_remote_lines(
    town: Path, store: Store, tmp_path: Path
) -> None:
    from gastown.mayor.toolkit import Context
    from gastown.mayor.tools import perform
    from gastown.tui.steer import Follower

    worker = Worker(tmp_path / "worker", store)
    worker.write(START, SAID, CALL)
    told = perform(
        Context(Ledger(store, "gt", "mayor"), load(town)), "run_transcript", {"run": "alder"}
    )
    assert told.ok and told.result.startswith("# run-1: alder on gt-a (running)")
    assert "Reading the code" in told.result

    follower = Follower(Source(town, "run-1", relative_path("run-1"), store))
    assert any("Reading the code" in line for line in follower.first)
    worker.write(RESULT, LATER)
    more = follower.more()
    assert any("→ shell ls  ← README.md" in line for line in more)
    assert any("Shipped from afar" in line for line in more)

    with TestClient(make_app(town), follow_redirects=False) as client:
        browser = Browser(client, town)
        shown = browser.get("/api/agents/alder").json()
        texts = [t["text"] for t in shown["transcript"]]
        assert any("Reading the code" in t for t in texts)
        assert any("Shipped from afar" in t for t in texts)
        assert shown["offset"] == worker.path.stat().st_size
        assert "Shipped from afar" in browser.get("/agents/alder").text
        fail(store)
        stream = browser.get("/api/runs/run-1/transcript/stream?offset=0").text
        assert "Reading the code" in stream and "Shipped from afar" in stream
        assert "run failed: its host was lost" in stream and "event: end" in stream

    with store.reader() as tx:
        run = tx.get_run("run-1")
    assert run is not None
    said = last_lines(town, run, ledger=store)
    assert any("Shipped from afar" in line for line in said)
    assert "run failed: its host was lost" in said[-1]
    assert last_lines(town, run) == []  # without the ledger: this host has no file
