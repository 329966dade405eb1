"""`gt peek`: a run read as a conversation, and `-f` following a running agent from its first
line, against the real town process and a scripted agent that waits where the test says."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

from gastown.model import FAILED, QUEUED, Polecat, Run, run_branch
from gastown.store import Store
from tests.builders import DEADLINE, bead_status, script, store, town, until
from tests.conftest import Gt

__all__ = ["store", "town"]  # the fixtures this module uses, which pytest finds here by name


class Lines:
    """A command's output lines, read in a thread as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        out = process.stdout
        threading.Thread(target=self._read, args=(out,), daemon=True).start()

    def _read(self, out: object) -> None:
        for line in out:  # type: ignore[attr-defined]
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, text: str) -> list[str]:
        """Lines up to the first holding `text` (failing if the output ends or time runs out)."""
        while not any(text in line for line in self.seen):
            line = self._queue.get(timeout=DEADLINE)
            assert line is not None, f"the output ended before {text!r}: {self.seen}"
            self.seen.append(line)
        return self.seen


def test_peek_follows_a_running_agent_from_its_first_line(
    town: Gt, town_path: Path, tmp_path: Path, store: Store
) -> None:
    go = tmp_path / "go"
    town.ok("up", "-d")
    body = script(
        {"text": "First words"},
        {"run": f"while [ ! -e {go} ]; do sleep 0.05; done"},
        {"text": "After the wait"},
        {"write": "a.txt", "content": "a\n"},
        {"usage": {"input": 1500, "output": 40}, "model": "claude-sonnet-4-5"},
    )
    bead = town.json("sling", "Wait for a signal", "--body", body)["id"]

    def running() -> Run | None:
        with store.reader() as tx:
            found = tx.list_runs(bead_id=bead)
        return found[0] if found and found[0].status == "running" else None

    run = until(running, "the run to be running")
    assert run.transcript == f"logs/runs/{run.id}/transcript.jsonl"  # recorded as it starts
    command = [sys.executable, "-m", "gastown", "peek", "-f", run.id]
    environ = {"PATH": "/usr/bin:/bin", "GT_ACTOR": "tester", "NO_COLOR": "1"}
    with subprocess.Popen(
        command,
        cwd=town_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    ) as follower:
        try:
            lines = Lines(follower)
            seen = lines.until("→ shell while")  # the call still running, shown as such
            assert seen[0] == f"# {run.id}: {run.polecat} on {bead} (running)"
            assert "started session" in seen[1] and seen[2].endswith("  First words")
            assert seen[3].endswith(" …")
            now = town.ok("peek", run.id).out  # without -f: what it has said so far
            assert "First words" in now and "has no transcript" not in now
            go.touch()
            assert follower.wait(timeout=DEADLINE) == 0
            lines.until("ended (ok, exit 0)")
            assert follower.stderr is not None and follower.stderr.read() == ""
        finally:
            follower.kill()
    text = "\n".join(lines.seen)
    assert "shell ← (no output)" in text and "After the wait" in text
    assert "→ write a.txt  ← wrote a.txt" in text
    assert "· 1,500 tokens in, 40 out, $" in text
    assert "{" not in text  # no raw JSON
    until(lambda: bead_status(town, bead) == "in_review", "the bead in review")


def test_peek_raw_and_json_show_the_stored_lines(town: Gt, town_path: Path, store: Store) -> None:
    town.ok("up", "-d")
    bead = town.json(
        "sling", "Say hello", "--body", script({"text": "Hello"}, {"write": "h", "content": "h"})
    )["id"]
    until(lambda: bead_status(town, bead) == "in_review", "the bead in review")
    with store.reader() as tx:
        (run,) = tx.list_runs(bead_id=bead)
    stored = (town_path / str(run.transcript)).read_text().splitlines()
    assert town.ok("peek", run.id, "--raw").out.splitlines() == stored
    assert town.ok("peek", run.id, "--raw", "-n", "2").out.splitlines() == stored[-2:]
    events = [json.loads(line) for line in town.ok("peek", run.id, "--json").out.splitlines()]
    assert events == [json.loads(line) for line in stored]
    read = town.ok("peek", run.polecat).out
    assert "Hello" in read and "→ write h  ← wrote h" in read and '"kind"' not in read


def test_peek_of_a_run_without_a_transcript_says_so(rig_gt: Gt, town_path: Path) -> None:
    from gastown.town import load

    gt = rig_gt
    beads = [gt.json("bead", "create", title, "--rig", "app")["id"] for title in ("A", "B")]
    opened = load(town_path).open_store()
    try:
        with opened.transaction() as tx:
            stamp = "2026-01-01T00:00:00.000000Z"
            for run_id, bead in zip(("run-1", "run-2"), beads, strict=True):
                run = Run(run_id, bead, "alder", "app", "scripted", run_branch("alder", bead), "w")
                run.created_at = stamp
                assert tx.insert_run(run)
                if run_id == "run-1":  # it failed before its agent started
                    run.status, run.outcome = FAILED, "the worktree could not be made"
                    assert tx.update_run(run, QUEUED)
            tx.insert_polecat(Polecat("alder", "app", "idle", None, "run-2", None, stamp, stamp))
    finally:
        opened.close()
    failed = gt("peek", "run-1")
    assert failed.code == 1 and failed.out == ""
    assert "Run run-1 (failed) has no transcript: it ended before its agent started." in failed.err
    waiting = gt.ok("peek", "alder")
    assert waiting.out.startswith("Run run-2 is queued and has written nothing yet; ")
    assert waiting.out.strip().endswith("`gt peek -f run-2` waits for its first line.")
    assert gt.json("peek", "run-2") == []
    unknown = gt("peek", "nobody", "-f")
    assert unknown.code == 1 and "There is no polecat or run 'nobody'." in unknown.err
