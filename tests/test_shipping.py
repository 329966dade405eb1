"""Shipping transcripts to the ledger (`polecat.shipping`) and reading them back on a host that
has no file (`transcript.Source`): real files, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gastown.model import QUEUED, RUN_FAILED, RUNNING, Rig, Run, run_branch
from gastown.polecat.shipping import Shipper
from gastown.polecat.transcript import Source, append_outcome, relative_path
from gastown.store import Store, open_store, transcripts
from gastown.store.transcripts import TAIL_BYTES
from tests.builders import at, bead


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    with opened.transaction() as tx:
        tx.insert_rig(Rig("app", "file:///srv/app.git", "trunk", "rigs/app", at(0)))
        tx.insert_beads([bead("gt-a", rig="app"), bead("gt-b", rig="app")])
        for run_id, bead_id, polecat in (("run-1", "gt-a", "alder"), ("run-2", "gt-b", "birch")):
            run = Run(
                run_id, bead_id, polecat, "app", "scripted", run_branch(polecat, bead_id), "w"
            )
            run.created_at = at(1)
            assert tx.insert_run(run)
            run.status, run.transcript = RUNNING, relative_path(run_id)
            assert tx.update_run(run, QUEUED)
    try:
        yield opened
    finally:
        opened.close()


def write(host: Path, run_id: str, *events: dict[str, str], tail: str = "") -> Path:
    """Append events (and an unfinished `tail`) to the run's transcript in `host`'s folder."""
    path = host / relative_path(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events) + tail)
    return path


def fail(store: Store, run_id: str) -> None:
    with store.transaction() as tx:
        run = tx.get_run(run_id)
        assert run is not None
        run.status, run.ended_at, run.outcome = RUN_FAILED, at(9), "its host was lost"
        assert tx.update_run(run, RUNNING)


def test_a_shipped_transcript_reads_on_a_host_without_the_file(
    store: Store, tmp_path: Path
) -> None:
    """Given a worker's folder where two runs write their transcripts and a town folder without
    them, when the worker ships what grew, then the town reads each run from the ledger with
    the file's lines and offsets (a line still being written waits), and shipping again with
    nothing grown reads and writes nothing."""
    worker, town = tmp_path / "worker", tmp_path / "town"
    one = write(worker, "run-1", {"kind": "text", "text": "Grüße"}, tail='{"kind": "te')
    two = write(worker, "run-2", {"kind": "text", "text": "other"})
    shipper = Shipper()
    shipper.pending("run-1", one)
    shipper.pending("run-2", two)
    writes = store.writes
    assert shipper.ship(store) == 2
    assert store.writes == writes + 1  # one transaction for both runs
    here, there = Source(worker, "run-1", None, store), Source(town, "run-1", None, store)
    assert there.read_lines(0) == here.read_lines(0)
    assert there.tail(5) == here.tail(5)
    assert there.exists() and not there.path.exists()

    assert shipper.ship(store) == 0 and store.writes == writes + 1  # nothing grew
    write(worker, "run-1", tail='xt", "text": "done"}\n')
    shipper.pending("run-1", one)
    assert shipper.ship(store) == 1  # the finished line, now whole
    write(worker, "run-1", {"kind": "tool_call", "tool": "shell"})
    shipper.pending("run-1", one)
    assert shipper.ship(store) == 1
    assert there.read_lines(0) == here.read_lines(0)
    assert [e.get("text") for e in there.tail(2)[0]] == ["done", None]
    assert Source(town, "run-2", None, store).read(0)[0] == [{"kind": "text", "text": "other"}]
    assert Source(town, "run-2", None, None).read(0) == ([], 0)  # the file alone: nothing


def test_a_follower_without_the_file_picks_up_chunks_as_they_ship(
    store: Store, tmp_path: Path
) -> None:
    """Given a reader following a run from a town folder without its file, when the worker
    ships more, then each read gives what was shipped since, and once the run has failed the
    reader ends, as the file does, with the town's verdict, once."""
    worker, town = tmp_path / "worker", tmp_path / "town"
    path = write(worker, "run-1", {"kind": "text", "text": "first"})
    shipper = Shipper()
    follower = Source(town, "run-1", relative_path("run-1"), store)
    assert follower.read(0) == ([], 0)  # nothing shipped yet
    shipper.pending("run-1", path)
    shipper.ship(store)
    events, offset = follower.read(0)
    assert [e["text"] for e in events] == ["first"]
    assert follower.read(offset) == ([], offset)
    write(worker, "run-1", {"kind": "text", "text": "second"})
    shipper.pending("run-1", path)
    shipper.ship(store)
    events, offset = follower.read(offset)
    assert [e["text"] for e in events] == ["second"] and offset == path.stat().st_size

    fail(store, "run-1")
    append_outcome(path, at(9), RUN_FAILED, "its host was lost")  # as the file ends
    events, after = follower.read(offset)
    assert events == Source(worker, "run-1", None, None).read(offset)[0]
    assert after == path.stat().st_size and follower.read(after) == ([], after)
    assert follower.tail(2) == Source(worker, "run-1", None, None).tail(2)


def test_shipping_for_a_run_that_has_ended_is_refused(store: Store, tmp_path: Path) -> None:
    """Given two runs shipping, when one has ended (its host declared lost) and both grew,
    then the other's lines are kept and the ended one's refused: it is forgotten, and noting
    it again reads nothing."""
    worker = tmp_path / "worker"
    one = write(worker, "run-1", {"kind": "text", "text": "before"})
    two = write(worker, "run-2", {"kind": "text", "text": "kept"})
    shipper = Shipper()
    shipper.pending("run-1", one)
    assert shipper.ship(store) == 1
    fail(store, "run-1")
    write(worker, "run-1", {"kind": "text", "text": "too late"})
    shipper.pending("run-1", one)
    shipper.pending("run-2", two)
    assert shipper.ship(store) == 1
    assert shipper.refused == {"run-1"}
    with store.reader() as tx:
        assert transcripts.lines_after(tx, "run-1", 0)[0] == ['{"kind": "text", "text": "before"}']
        assert transcripts.lines_after(tx, "run-2", 0)[0] == ['{"kind": "text", "text": "kept"}']
    writes = store.writes
    shipper.pending("run-1", one)
    assert shipper.ship(store) == 0 and store.writes == writes


def test_a_restarted_shipper_carries_on_where_the_ledger_ends(store: Store, tmp_path: Path) -> None:
    """Given a transcript partly shipped, when a new shipper (the host's process restarted)
    ships it, then it carries on from where the ledger ends, keeping each line once; a file
    longer than one read ships in bounded pieces."""
    worker, town = tmp_path / "worker", tmp_path / "town"
    path = write(worker, "run-1", {"kind": "text", "text": "one"})
    first = Shipper()
    first.pending("run-1", path)
    first.ship(store)
    big = "y" * 1000
    count = TAIL_BYTES * 5 // 1000
    write(worker, "run-1", *({"kind": "text", "text": big} for _ in range(count)))
    again = Shipper()
    again.pending("run-1", path)
    shipped = again.ship(store)
    while True:  # what one shipment left is noted for the next
        more = again.ship(store)
        if not more:
            break
        shipped += more
    assert shipped == count
    here, there = Source(worker, "run-1", None, store), Source(town, "run-1", None, store)
    lines: list[str] = []
    offset = 0
    while True:
        found, after = there.read_lines(offset)
        if after == offset:
            break
        lines, offset = lines + found, after
    assert lines == path.read_text().splitlines() and offset == path.stat().st_size
    assert there.tail_lines(3) == here.tail_lines(3)
