"""Settings changed while the town runs reach the next thing that reads them, no restart.

The town process is the real one (`gt up -d`) with the scripted runtime, which reports the
model it was launched with in its start event; the prompt it got is kept in its run folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gastown.clock import duration
from gastown.process.live_town import live
from gastown.store import Store
from gastown.town import load
from tests.builders import bead_status, script, store, town, until
from tests.conftest import Gt

__all__ = ["store", "town"]  # fixtures shared with the dispatch tests


def _started_model(town_path: Path, store: Store, bead: str) -> tuple[str, str]:
    """The model the bead's run was started with, and the prompt it was given."""
    with store.reader() as tx:
        (run,) = tx.list_runs(bead_id=bead)
    first = (town_path / str(run.transcript)).read_text().splitlines()[0]
    prompt = (town_path / "logs" / "runs" / run.id / "prompt.md").read_text()
    return json.loads(first)["model"], prompt


def test_town_settings_set_while_it_runs_reach_the_next_run(
    town: Gt, town_path: Path, store: Store
) -> None:
    town.ok("up", "-d")
    change = script({"write": "a.txt", "content": "a\n"})
    before = town.json("sling", "Before", "--body", change)["id"]
    until(lambda: bead_status(town, before) == "in_review", "the first bead in review")
    model, prompt = _started_model(town_path, store, before)
    assert model == "scripted" and "Write in haiku" not in prompt

    town.ok("config", "set", "default_model", "model-set-live")
    town.ok("config", "set", "custom_instructions.polecat", "Write in haiku.")
    after = town.json("sling", "After", "--body", script({"write": "b.txt", "content": "b\n"}))
    until(lambda: bead_status(town, after["id"]) == "in_review", "the second bead in review")
    model, prompt = _started_model(town_path, store, after["id"])
    assert model == "model-set-live" and "Write in haiku." in prompt

    town.ok("config", "unset", "default_model")
    last = town.json("sling", "Last", "--body", script({"write": "c.txt", "content": "c\n"}))
    until(lambda: bead_status(town, last["id"]) == "in_review", "the third bead in review")
    assert _started_model(town_path, store, last["id"])[0] == "scripted"


def test_a_timeout_lowered_while_it_runs_stops_a_run_already_going(town: Gt, store: Store) -> None:
    town.ok("config", "set", "max_dispatch_attempts", "1")
    town.ok("up", "-d")
    bead = town.json("sling", "Hangs", "--body", script({"text": "thinking"}, {"hang": True}))
    until(lambda: bead_status(town, bead["id"]) == "in_progress", "the run to start")
    town.ok("config", "set", "polecat.stall_timeout_seconds", "1")
    until(lambda: bead_status(town, bead["id"]) == "failed", "the hung bead to fail")
    with store.reader() as tx:
        (run,) = tx.list_runs(bead_id=bead["id"])
    assert run.outcome == "stopped: stalled: no output for 1 s"


def test_a_town_toml_broken_by_hand_keeps_the_last_good_settings(gt: Gt, town_path: Path) -> None:
    gt.ok("config", "set", "default_model", "first")
    held = live(town_path)
    assert held.settings["default_model"] == "first"
    gt.ok("config", "set", "default_model", "second")
    assert held.settings["default_model"] == "second"  # read again: the file changed

    toml = town_path / "town.toml"
    good = toml.read_text()
    toml.write_text(good + "\n[settings\n")  # a person's typo
    assert held.settings["default_model"] == "second"
    toml.write_text(good.replace('"second"', '"third"'))
    os.utime(toml, ns=(1, 1))  # even with its time set back, its size and inode moved on
    assert held.settings["default_model"] == "third"
    assert load(town_path).settings == held.settings


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0.5, "0.5 s"),
        (10, "10 s"),
        (59.7, "1 min"),
        (90, "1 min 30 s"),
        (300, "5 min"),
        (4800, "1 h 20 min"),
        (7200, "2 h"),
        (90000, "1 d 1 h"),
    ],
)
def test_durations_read_as_people_write_them(seconds: float, said: str) -> None:
    assert duration(seconds) == said


def test_a_runtime_missing_from_path_is_named_where_it_is_chosen(
    town_path: Path, git_repo: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    gt = Gt(town_path, {"PATH": str(empty)})
    said = gt("config", "set", "runtime", "codex")
    assert said.code == 0 and said.err.count("\n") == 1
    assert "the runtime 'codex' needs `codex`, which is not on PATH" in said.err
    added = gt("rig", "add", "app", str(git_repo))
    assert added.code == 0 and "`codex`, which is not on PATH" in added.err
    slung = gt("sling", "Needs codex", "--json")
    assert slung.code == 0 and "`codex`, which is not on PATH" in slung.err
    unheld = gt("bead", "update", slung.json()["id"], "--unhold")
    assert "will be held again" in unheld.err

    program = empty / "codex"  # now it is there: nothing to say
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert gt.ok("sling", "Has codex").err == ""
    assert gt.ok("config", "set", "runtime", "scripted").err == ""


def test_the_running_town_process_path_is_the_one_that_counts(
    town_path: Path, tmp_path: Path
) -> None:
    empty, full = tmp_path / "empty", tmp_path / "full"
    empty.mkdir()
    full.mkdir()
    (full / "codex").write_text("#!/bin/sh\n")
    (full / "codex").chmod(0o755)
    Gt(town_path).ok("config", "set", "runtime", "codex")
    up = Gt(town_path, {"PATH": str(empty)})("up", "-d")
    try:
        assert up.code == 0
        # this shell has codex, the town process started without it
        said = Gt(town_path, {"PATH": str(full)}).ok("config", "set", "runtime", "codex")
        assert "`codex`, which is not on the town process's PATH" in said.err
    finally:
        Gt(town_path)("down")


def test_gt_up_names_a_rig_runtime_it_will_not_find(rig_gt: Gt, town_path: Path) -> None:
    rig_gt.ok("config", "set", "runtime", "codex", "--rig", "app")
    up = Gt(town_path, {"PATH": str(town_path / "no-such-folder")})("up", "-d")
    try:
        assert up.code == 0 and "the runtime 'codex' needs `codex`" in up.err
    finally:
        rig_gt("down")
