"""Slinging with a model: `gt sling … --model M` keeps the model on the bead, its run is
launched with it (the scripted runtime reports the model it was started with in its first
transcript line, as a real CLI does), `gt bead show` says it, and a model that is empty or
has a space or a line break is refused in one sentence with nothing written.

The town process is the real one (`gt up -d`) with the scripted runtime."""

from __future__ import annotations

import json
from pathlib import Path

from gastown.store import Store
from tests.builders import bead_status, script, store, town, until
from tests.conftest import Gt

__all__ = ["store", "town"]  # fixtures shared with the dispatch tests


def started_with(town_path: Path, store: Store, bead: str) -> str:
    """The model the bead's run reported in its start event."""
    with store.reader() as tx:
        (run,) = tx.list_runs(bead_id=bead)
    first = (town_path / str(run.transcript)).read_text().splitlines()[0]
    return str(json.loads(first)["model"])


def test_a_bead_slung_with_a_model_runs_on_it(town: Gt, town_path: Path, store: Store) -> None:
    town.ok("config", "set", "default_model", "the-settings-model")
    town.ok("up", "-d")
    body = script({"write": "a.txt", "content": "a\n"})
    picked = town.json("sling", "Pick a model", "--body", body, "--model", "picked-model-1")
    assert picked["model"] == "picked-model-1" and picked["runtime"] is None
    plain = town.json("sling", "Settings' model", "--body", script({"write": "b.txt"}))
    both = (picked["id"], plain["id"])
    until(lambda: all(bead_status(town, b) == "in_review" for b in both), "both in review")
    assert started_with(town_path, store, picked["id"]) == "picked-model-1"
    assert started_with(town_path, store, plain["id"]) == "the-settings-model"
    shown = town.ok("bead", "show", picked["id"]).out
    assert "slung for dispatch (model picked-model-1)" in shown
    assert town.json("bead", "show", picked["id"])["model"] == "picked-model-1"


def test_slinging_an_existing_bead_sets_its_runtime_and_model(town: Gt) -> None:
    made = town.json("bead", "create", "Existing work")["id"]
    slung = town.json("sling", made, "--runtime", "scripted", "--model", "m-2", "--hold")
    assert (slung["runtime"], slung["model"], slung["held"]) == ("scripted", "m-2", True)
    again = town.json("sling", made)  # a second sling without them keeps what it asked for
    assert (again["runtime"], again["model"]) == ("scripted", "m-2")
    assert "slung for dispatch (runtime scripted, model m-2)" in town.ok("bead", "show", made).out


def test_a_model_that_is_empty_or_not_one_word_is_refused_and_nothing_is_written(
    town: Gt,
) -> None:
    made = town.json("bead", "create", "Existing work")["id"]
    said = {}
    for bad in ("", "two words", "line\nbreak", "-x"):
        new = town("sling", "Bad model", f"--model={bad}")
        existing = town("sling", made, f"--model={bad}")
        assert (new.code, existing.code) == (2, 2) and new.err == existing.err, new.err
        said[bad] = new.err
    assert "A model needs a name, such as claude-sonnet-4-5; it cannot be empty." in said[""]
    assert "not 'line\\nbreak'." in said["line\nbreak"]
    assert "with no spaces, line breaks or control characters" in said["two words"]
    assert "not starting with '-'" in said["-x"]
    assert [b["title"] for b in town.json("bead", "list")] == ["Existing work"]
    assert town.json("bead", "show", made)["slung"] is False
