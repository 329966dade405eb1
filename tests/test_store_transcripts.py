"""The store contract for runs' transcripts kept in the ledger (`store/transcripts.py`): chunks
shipped while a run is active, read with the file's byte offsets, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gastown.model import QUEUED, RUN_FAILED, RUNNING, Rig, Run, run_branch
from gastown.store import Store, open_store, transcripts
from gastown.store.transcripts import TAIL_BYTES
from tests.builders import at, bead


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    with opened.transaction() as tx:
        tx.insert_rig(Rig("app", "file:///srv/app.git", "trunk", "rigs/app", at(0)))
        tx.insert_beads([bead("gt-a", rig="app")])
        run = Run("run-1", "gt-a", "alder", "app", "scripted", run_branch("alder", "gt-a"), "w")
        run.created_at = at(1)
        assert tx.insert_run(run)
    try:
        yield opened
    finally:
        opened.close()


def end_run(store: Store, run_id: str) -> None:
    with store.transaction() as tx:
        run = tx.get_run(run_id)
        assert run is not None
        previous = run.status
        run.status, run.ended_at, run.outcome = RUN_FAILED, at(9), "its host was lost"
        assert tx.update_run(run, previous)


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def test_chunks_read_back_by_the_offsets_of_the_file(store: Store) -> None:
    """Given chunks shipped for an active run (one with text beyond ASCII), when read after
    each offset a reader was given, then each read gives the lines after it and the offset
    past them, as reading the file would; the tail gives the last lines and the end."""
    first = '{"kind":"text","text":"Grüße ✓"}\n{"kind":"tool_call"}\n'
    second = '{"kind":"end"}\n'
    with store.transaction() as tx:
        assert transcripts.ship(tx, "run-1", 0, first)
        assert transcripts.ship(tx, "run-1", nbytes(first), second)
        assert transcripts.ship(tx, "run-1", 0, "ignored\n")  # kept once: the first stays
    end = nbytes(first + second)
    with store.reader() as tx:
        assert transcripts.lines_after(tx, "run-1", 0) == ((first + second).splitlines(), end)
        assert transcripts.lines_after(tx, "run-1", nbytes(first)) == ([second.strip()], end)
        assert transcripts.lines_after(tx, "run-1", end) == ([], end)
        line_two = nbytes(first.splitlines()[0]) + 1  # inside the first chunk, at a line
        assert transcripts.lines_after(tx, "run-1", line_two) == (
            ['{"kind":"tool_call"}', '{"kind":"end"}'],
            end,
        )
        assert transcripts.tail(tx, "run-1", 2) == (['{"kind":"tool_call"}', '{"kind":"end"}'], end)
        assert transcripts.tail(tx, "run-1", 50) == ((first + second).splitlines(), end)
        assert transcripts.end_of(tx, "run-1") == end
        assert transcripts.kept(tx, "run-1")
        assert transcripts.lines_after(tx, "run-2", 0) == ([], 0)
        assert transcripts.tail(tx, "run-2", 5) == ([], 0)
        assert transcripts.end_of(tx, "run-2") == 0 and not transcripts.kept(tx, "run-2")


def test_a_run_that_has_ended_takes_no_more_of_its_transcript(store: Store) -> None:
    """Given a run that took a chunk while queued and one while running, when it ends (its
    host declared lost), then shipping more is refused and nothing is kept; a run that does
    not exist is refused too."""
    with store.transaction() as tx:
        assert transcripts.ship(tx, "run-1", 0, "queued\n")
        run = tx.get_run("run-1")
        assert run is not None
        run.status = RUNNING
        assert tx.update_run(run, QUEUED)
        assert transcripts.ship(tx, "run-1", 7, "running\n")
    end_run(store, "run-1")
    with store.transaction() as tx:
        assert not transcripts.ship(tx, "run-1", 15, "late\n")
        assert not transcripts.ship(tx, "run-9", 0, "nobody's\n")
    with store.reader() as tx:
        assert transcripts.lines_after(tx, "run-1", 0) == (["queued", "running"], 15)
        assert not transcripts.kept(tx, "run-9")


def test_a_long_transcript_is_read_in_bounded_pieces(store: Store) -> None:
    """Given more chunks than one read takes, when a reader follows from 0, then each read
    stays about `TAIL_BYTES` and together they give every line once, in order; the tail of
    a few lines reads only the last chunks."""
    line = "x" * 999 + "\n"
    chunk = line * 20  # 20 kB
    count = (TAIL_BYTES // len(chunk)) * 2 + 3
    with store.transaction() as tx:
        for i in range(count):
            assert transcripts.ship(tx, "run-1", i * len(chunk), chunk)
    seen: list[str] = []
    offset, reads = 0, 0
    with store.reader() as tx:
        while True:
            lines, after = transcripts.lines_after(tx, "run-1", offset)
            if after == offset:
                break
            assert after - offset <= TAIL_BYTES
            seen.extend(lines)
            offset, reads = after, reads + 1
        assert transcripts.tail(tx, "run-1", 3) == (["x" * 999] * 3, count * len(chunk))
    assert seen == ["x" * 999] * (20 * count) and offset == count * len(chunk)
    assert reads >= 3
