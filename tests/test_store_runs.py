"""The store contract for the reconciler's records: polecats, runs, escalations, dispatch state.

Every test takes `db_url` (through `store`), so it runs on SQLite and on PostgreSQL with the
same expectations. The last tests race eight processes to start runs: the store, not the
callers' checks, keeps one active run per bead and per polecat.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gastown.errors import IllegalTransition
from gastown.model import (
    ACTIVE_RUN_STATUSES,
    BLOCKS,
    FAILED_RUN_STATUSES,
    RUNNING,
    SUCCEEDED,
    Dependency,
    Escalation,
    MergeRequest,
    Polecat,
    Rig,
    Run,
    run_branch,
)
from gastown.record import replace
from gastown.store import Store, open_store
from tests.builders import at, bead, convoy
from tests.builders.races import Start, race


def run(run_id: str, bead_id: str, polecat: str, **fields: Any) -> Run:
    """A queued run record with sensible defaults."""
    defaults: dict[str, Any] = {
        "rig": "app",
        "runtime": "scripted",
        "branch": run_branch(polecat, bead_id),
        "worktree": f"polecats/{polecat}/app",
        "created_at": at(1),
    }
    return Run(id=run_id, bead_id=bead_id, polecat=polecat, **{**defaults, **fields})


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    with opened.transaction() as tx:
        tx.insert_rig(Rig("app", "file:///srv/app.git", "trunk", "rigs/app", at(0)))
    try:
        yield opened
    finally:
        opened.close()


def test_merge_requests_and_done_read_back(store: Store) -> None:
    """Given an active run, when its agent says done and a merge request is filed for its
    branch, then both read back as written, and done is refused once the run has ended."""
    with store.transaction() as tx:
        assert tx.insert_run(run("run-mr", "gt-mr", "birch", status=RUNNING))
        assert tx.mark_done("run-mr", "Added the flag", "2026-01-01T00:00:05.000000Z")
        mr = MergeRequest(
            "mr-1",
            "gt-mr",
            "run-mr",
            "app",
            "gt/birch/gt-mr",
            "trunk",
            "a" * 40,
            "b" * 40,
            summary="Added the flag",
            created_at="2026-01-01T00:00:06.000000Z",
            updated_at="2026-01-01T00:00:06.000000Z",
        )
        tx.insert_merge_request(mr)
    with store.reader() as tx:
        got = tx.get_run("run-mr")
        assert got is not None and got.summary == "Added the flag" and got.done_at
        assert tx.list_merge_requests(rig="app", status="open") == [mr]
        assert tx.list_merge_requests(bead_id="gt-other") == []
    with store.transaction() as tx:
        ended = tx.get_run("run-mr")
        assert ended is not None
        ended.status = "succeeded"
        assert tx.update_run(ended, RUNNING)
        assert not tx.mark_done("run-mr", "again", "2026-01-01T00:00:07.000000Z")


def test_runs_polecats_and_escalations_read_back_exactly_as_written(store: Store) -> None:
    """Given a run with every field set, a polecat and an escalation, when written and read
    back, then each is equal, with ints as int and cost as float."""
    full = run(
        "run-1",
        "gt-a",
        "birch",
        attempt=2,
        status=RUNNING,
        pid=4242,
        started_at=at(2),
        last_heartbeat=at(3),
        tokens_in=12_000_000_000,
        tokens_out=345,
        cost_usd=1.25,
        transcript="runs/run-1.jsonl",
    )
    cat = Polecat("birch", "app", "working", "gt-a", "run-1", "polecats/birch/app", at(0), at(1))
    with store.transaction() as tx:
        assert tx.insert_run(full)
        assert tx.insert_polecat(cat)
        first = tx.insert_escalation(Escalation(0, "high", "Bead gt-a failed ✗", at(4), "gt-a"))
        second = tx.insert_escalation(Escalation(0, "low", "fyi", at(5), rig="app"))

    with store.reader() as tx:
        assert tx.get_run("run-1") == full
        assert tx.get_run("nope") is None
        assert tx.get_polecat("birch") == cat
        assert tx.list_polecats(rig="app") == [cat] and tx.list_polecats(rig="web") == []
        escalations = tx.list_escalations()
    assert [e.id for e in escalations] == [first, second] and first < second
    assert escalations[0] == Escalation(first, "high", "Bead gt-a failed ✗", at(4), "gt-a")
    assert type(full.cost_usd) is float


def test_a_bead_and_a_polecat_have_at_most_one_active_run(store: Store) -> None:
    """Given an active run of gt-a by birch, then another active run of gt-a (by anyone) or of
    birch (on any bead) is refused; once the first ends, both are allowed again."""
    with store.transaction() as tx:
        assert tx.insert_run(run("r1", "gt-a", "birch"))
        assert not tx.insert_run(run("r2", "gt-a", "cedar"))
        assert not tx.insert_run(run("r3", "gt-b", "birch", status=RUNNING))
        assert not tx.insert_run(run("r1", "gt-c", "dune"))  # a taken id is refused too
        first = tx.get_run("r1")
        assert first is not None
        assert tx.update_run(replace(first, status="failed", ended_at=at(9)), "queued")
        assert tx.insert_run(run("r2", "gt-a", "cedar", attempt=2))
        assert tx.insert_run(run("r3", "gt-b", "birch"))
        assert tx.insert_run(run("r4", "gt-c", "dune", status=SUCCEEDED))  # ended: no limit
    with store.reader() as tx:
        active = tx.list_runs(statuses=ACTIVE_RUN_STATUSES)
    assert sorted(r.id for r in active) == ["r2", "r3"]


def test_run_updates_are_compare_and_swap_and_only_move_forward(store: Store) -> None:
    """Given a queued run, when it starts, heartbeats and ends, then a write from a stale
    status is refused, an ended run takes no heartbeat and never becomes active again."""
    with store.transaction() as tx:
        tx.insert_run(run("r1", "gt-a", "birch"))
        queued = tx.get_run("r1")
        assert queued is not None
        started = replace(queued, status=RUNNING, pid=7, started_at=at(2))
        assert tx.update_run(started, "queued")
        assert not tx.update_run(replace(queued, status="starting"), "queued")  # stale
        assert tx.heartbeat("r1", at(3))
        ended = replace(started, status="failed", ended_at=at(4), exit_code=1, outcome="exit 1")
        assert tx.update_run(ended, RUNNING)
        assert not tx.heartbeat("r1", at(5))
        with pytest.raises(IllegalTransition):
            tx.update_run(replace(ended, status=RUNNING), "failed")
        final = tx.get_run("r1")
    assert final == replace(ended, last_heartbeat=at(3))


def test_runs_are_listed_by_bead_status_and_end_time(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert_run(run("r1", "gt-a", "birch", status="failed", ended_at=at(10)))
        tx.insert_run(run("r2", "gt-a", "birch", status="lost", ended_at=at(30), created_at=at(2)))
        tx.insert_run(run("r3", "gt-b", "cedar", status=RUNNING, created_at=at(3)))
        tx.insert_run(run("r4", "gt-c", "dune", status=SUCCEEDED, ended_at=at(40)))
    with store.reader() as tx:
        assert [r.id for r in tx.list_runs(bead_id="gt-a")] == ["r1", "r2"]
        recent = tx.list_runs(statuses=FAILED_RUN_STATUSES, ended_since=at(20))
        assert [r.id for r in recent] == ["r2"]
        assert [r.id for r in tx.list_runs(polecat="cedar")] == ["r3"]
        assert tx.list_runs(statuses=[]) == []
        assert [r.id for r in tx.list_runs(limit=1)] == ["r1"]


def test_dispatch_state_lives_on_the_bead_and_survives_bead_updates(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert_beads([bead("gt-a", rig="app")])
        assert tx.get_dispatch("gt-a") == (0, None)
        tx.set_dispatch("gt-a", 3, at(50))
        b = tx.get_bead("gt-a")
        assert b is not None
        b.title = "Renamed"
        assert tx.update_bead(b)
        assert tx.get_dispatch("gt-a") == (3, at(50))
        assert tx.get_dispatch("gt-nope") is None


def test_dispatch_candidates_are_ready_slung_beads_without_an_active_run(store: Store) -> None:
    """Given beads of every kind, then only the ready, slung ones with a rig and no active run
    are candidates, by priority then age, with their attempts and last end."""
    with store.transaction() as tx:
        tx.insert_convoy(convoy("gt-cv", staged=True))
        tx.insert_beads(
            [
                bead("gt-old", rig="app", slung=True, priority=1, created_at=at(1)),
                bead("gt-top", rig="app", slung=True, priority=0, created_at=at(5)),
                bead("gt-new", rig="app", slung=True, priority=1, created_at=at(2)),
                bead("gt-held", rig="app", slung=True, held=True),
                bead("gt-staged", rig="app", slung=True, convoy_id="gt-cv"),
                bead("gt-blocked", rig="app", slung=True),
                bead("gt-unslung", rig="app"),
                bead("gt-norig", slung=True),
                bead("gt-busy", rig="app", slung=True),
                bead("gt-done", rig="app", slung=True, status="closed", closed_at=at(3)),
            ]
        )
        tx.insert_deps([Dependency("gt-blocked", "gt-old", BLOCKS, at(0), "tester")])
        tx.insert_run(run("r1", "gt-busy", "birch"))
        tx.insert_run(run("r0", "gt-new", "cedar", status="failed", ended_at=at(7)))
        tx.set_dispatch("gt-new", 1)
    with store.reader() as tx:
        rows = tx.dispatch_candidates()
    assert [r[0] for r in rows] == ["gt-top", "gt-old", "gt-new"]
    assert rows[2] == ("gt-new", "app", 1, at(2), 1, None, None, None, at(7))


def test_dispatch_pause_is_set_read_and_cleared(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.get_pause() is None
        tx.set_pause({"since": at(1), "reason": "breaker", "by": "breaker"})
        tx.set_pause({"since": at(2), "reason": "manual", "by": "ana"})
    with store.reader() as tx:
        assert tx.get_pause() == {"since": at(2), "reason": "manual", "by": "ana"}
    with store.transaction() as tx:
        tx.set_pause(None)
        assert tx.get_pause() is None


def test_escalations_are_acknowledged_once(store: Store) -> None:
    with store.transaction() as tx:
        one = tx.insert_escalation(Escalation(0, "critical", "disk full", at(1)))
        two = tx.insert_escalation(Escalation(0, "medium", "flaky", at(2), bead_id="gt-a"))
        assert tx.acknowledge_escalation(one, at(3), "ana")
        assert not tx.acknowledge_escalation(one, at(4), "bob")
        assert not tx.acknowledge_escalation(999, at(4), "bob")
    with store.reader() as tx:
        assert [e.id for e in tx.list_escalations(open_only=True)] == [two]
        assert [e.id for e in tx.list_escalations(bead_id="gt-a")] == [two]
        acked = tx.list_escalations()[0]
    assert (acked.acknowledged_at, acked.acknowledged_by) == (at(3), "ana")


# --- races -----------------------------------------------------------------------------------


def start_run(url: str, index: int, start: Start, bead_id: str | None) -> bool:
    """Try to start one run: of `bead_id` by a polecat of our own, or (when None) of a bead of
    our own by the shared polecat `birch`."""
    store = open_store(url)
    start()
    try:
        with store.transaction() as tx:
            target = bead_id or f"gt-{index}"
            polecat = "birch" if bead_id is None else f"polecat-{index}"
            return tx.insert_run(run(f"run-{index}", target, polecat, attempt=index + 1))
    finally:
        store.close()


def test_racing_dispatchers_start_one_active_run_per_bead(db_url: str) -> None:
    """Given eight processes that each start a run of gt-a at once, then exactly one wins."""
    open_store(db_url).close()  # migrate once, before the race
    won = race(start_run, db_url, "gt-a")
    assert won.count(True) == 1
    store = open_store(db_url)
    try:
        with store.reader() as tx:
            assert len(tx.list_runs(bead_id="gt-a", statuses=ACTIVE_RUN_STATUSES)) == 1
    finally:
        store.close()


def test_racing_dispatchers_give_one_polecat_one_active_run(db_url: str) -> None:
    """Given eight processes that each start polecat birch on a different bead, then one wins."""
    open_store(db_url).close()
    won = race(start_run, db_url, None)
    assert won.count(True) == 1
    store = open_store(db_url)
    try:
        with store.reader() as tx:
            assert len(tx.list_runs(polecat="birch")) == 1
    finally:
        store.close()
