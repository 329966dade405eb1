"""A run ends only when its whole agent is gone, and paid work is never thrown away.

Given a town process with the scripted runtime, when the agent's wrapper is killed, the town
kills what is left of the run's process group before the worktree goes to anyone else; and
when an agent finishes while the town is down, the next town finishes its run from the exit
status and transcript it left, instead of running the bead again.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from gastown.polecat import group
from gastown.store import Store
from gastown.town import load
from tests.builders import bead_status, script, until
from tests.conftest import Gt, run_git

PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture
def town(rig_gt: Gt) -> Iterator[Gt]:
    rig_gt.ok("config", "set", "runtime", "scripted")
    rig_gt.ok("config", "set", "refinery.auto", "false")
    yield rig_gt
    rig_gt("down")


@pytest.fixture
def store(town_path: Path) -> Iterator[Store]:
    opened = load(town_path).open_store()
    yield opened
    opened.close()


def test_a_killed_wrapper_takes_its_agent_with_it(
    town: Gt, town_path: Path, store: Store, tmp_path: Path
) -> None:
    """One polecat, two beads: A's wrapper is killed while A's agent still works. The agent
    must die with it, or its late file would land in B's commit in the same worktree."""
    town.ok("config", "set", "max_polecats_per_rig", "1")
    marker = tmp_path / "a-started"
    late = script(
        {"run": f"touch {marker}; sleep 3; mkdir -p files; echo late > files/A_late.txt"},
        {"write": "a.txt", "content": "A's own work"},
    )
    town.ok("up", "-d")
    a = town.json("sling", "Bead A", "--body", late, "-p", "0")["id"]
    b = town.json("sling", "Bead B", "--body", script({"run": "sleep 5"}, {"write": "b.txt"}))["id"]
    until(marker.exists, "A's agent to start its long step")
    (run_a,) = town.json("runs", "--bead", a)
    assert group.members(run_a["pid"], run_a["id"])  # the wrapper and the agent under it
    os.kill(run_a["pid"], signal.SIGKILL)  # the wrapper only, not its group

    until(lambda: bead_status(town, b) == "in_review", "B to finish on the same polecat")
    assert not group.members(run_a["pid"], run_a["id"])  # nothing of A's run lives on
    clone = town_path / "rigs" / "app"
    with store.reader() as tx:
        (mr,) = tx.list_merge_requests(bead_id=b)
        ended = next(r for r in tx.list_runs(bead_id=a) if r.id == run_a["id"])
    files = run_git("ls-tree", "-r", "--name-only", mr.head_commit, cwd=clone).split()
    assert "files/A_late.txt" not in files and "a.txt" not in files
    assert not (town_path / str(ended.worktree) / "files" / "A_late.txt").exists()
    # It says what happened, not "agent reported failure".
    assert ended.status == "failed"
    assert ended.outcome == "killed by signal 9 (SIGKILL) before it reported an exit"
    (event,) = [
        e
        for e in town.json("events", "--bead", a, "--limit", "0")
        if e["kind"] == "run.ended" and e["after"]["run"] == run_a["id"]
    ]
    assert event["after"]["signal"] == 9


def test_a_killed_agent_is_named_by_its_signal(town: Gt, store: Store, tmp_path: Path) -> None:
    """The agent itself dies of a signal: the wrapper reports 137 and the run says SIGKILL."""
    town.ok("up", "-d")
    bead = town.json("sling", "Dies", "--body", script({"run": "kill -9 $PPID"}))["id"]

    def ended() -> str | None:
        with store.reader() as tx:
            runs = [r for r in tx.list_runs(bead_id=bead) if r.ended_at]
        return runs[0].outcome if runs else None

    outcome = until(ended, "the first run to end")
    assert outcome == "killed by signal 9 (SIGKILL)"


@pytest.fixture
def reaper() -> Iterator[None]:
    """This test process adopts orphans (a child subreaper) so it can reap them as a real
    init would; a zombie would otherwise look like a live process."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("this kernel has no child subreaper")
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def test_an_agent_that_finished_while_the_town_was_down_is_not_redone(
    town: Gt, town_path: Path, store: Store, tmp_path: Path, reaper: None
) -> None:
    """The town dies; its agent finishes alone and its wrapper writes the exit status and
    ends. The next town finishes that very run from what it left: one run, one attempt."""
    marker = tmp_path / "started"
    body = script(
        {"text": "working"},
        {"run": f"touch {marker}; sleep 2"},
        {"write": "done.txt", "content": "finished with nobody watching"},
        {"text": "all done"},
    )
    first = town.json("up", "-d")
    bead = town.json("sling", "Finishes alone", "--body", body)["id"]
    until(marker.exists, "the agent to reach its long step")
    (run,) = town.json("runs", "--bead", bead)
    os.kill(first["pid"], signal.SIGKILL)
    run_dir = town_path / "logs" / "runs" / run["id"]
    until((run_dir / "exit").exists, "the agent to finish while the town is down")
    assert os.waitpid(run["pid"], 0)[0] == run["pid"]  # the orphaned wrapper, reaped

    town.ok("up", "-d")
    until(lambda: bead_status(town, bead) == "in_review", "the run to be finished")
    (again,) = town.json("runs", "--bead", bead)
    assert again["id"] == run["id"] and again["status"] == "succeeded"
    kinds = [e["kind"] for e in town.json("events", "--bead", bead, "--limit", "0")]
    assert kinds.count("run.started") == 1 and "run.adopted" in kinds
    story = town.ok("peek", run["id"]).out
    assert "working" in story and "all done" in story
    with store.reader() as tx:
        assert tx.get_dispatch(bead) == (1, None)
        (mr,) = tx.list_merge_requests(bead_id=bead)
    files = run_git("ls-tree", "-r", "--name-only", mr.head_commit, cwd=town_path / "rigs" / "app")
    assert "done.txt" in files.split()
    # The town committed what the agent left, under the bead's own name.
    subject = run_git("log", "-1", "--format=%s", mr.head_commit, cwd=town_path / "rigs" / "app")
    assert subject.strip() == f"{bead}: Finishes alone"
