"""The reconciler's planner as scenarios: given a snapshot of the town at a (fake) time and a
policy, then exactly these actions. The last tests build snapshots from a real store on both
backends and plan on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gastown.clock import FakeClock, stamp
from gastown.model import BLOCKS, IDLE, WORKING, Dependency, Polecat, Rig, Run
from gastown.reconciler import (
    Attempts,
    Capacity,
    CircuitBreaker,
    Dispatch,
    Escalate,
    FailBead,
    Pause,
    PauseDispatch,
    Policy,
    ReadyBead,
    ResumeDispatch,
    RigView,
    StopRun,
    Timeouts,
    load_snapshot,
    plan,
)
from gastown.reconciler.apply import apply
from gastown.services.ledger import Ledger
from gastown.store import Store, open_store
from tests.builders import at, bead, convoy
from tests.builders.plans import T0, active_run, ago, failed_run, numbered, snapshot


def dispatched(actions: list[Any]) -> list[str]:
    return [a.bead_id for a in actions if isinstance(a, Dispatch)]


# --- capacity and order ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capacity", "running", "expected"),
    [
        (4, 0, ["gt-00", "gt-01", "gt-02", "gt-03"]),
        (4, 3, ["gt-00"]),
        (4, 4, []),
        (4, 6, []),  # capacity lowered below what runs: nothing more, nothing stopped
        (1, 0, ["gt-00"]),
    ],
)
def test_never_more_running_than_the_rigs_capacity(
    capacity: int, running: int, expected: list[str]
) -> None:
    """Given 20 ready beads on one rig and some runs under way, then only the free slots are
    filled, oldest first, each by its own new polecat on attempt 1."""
    runs = tuple(active_run(f"r{n}", f"gt-busy{n}", f"busy{n}", T0) for n in range(running))
    actions = plan(snapshot(*numbered(20), runs=runs), T0, Policy(capacity=Capacity(capacity)))
    assert dispatched(actions) == expected
    assert all(isinstance(a, Dispatch) and a.attempt == 1 and a.new_polecat for a in actions)
    assert len({a.polecat for a in actions if isinstance(a, Dispatch)}) == len(expected)


def test_capacity_holds_pass_after_pass() -> None:
    """Given 20 ready beads and capacity 4, when each pass's dispatches become running runs,
    then the second pass dispatches nothing, and each ended run frees exactly one slot."""
    clock = FakeClock(T0)
    waiting = numbered(20)
    runs: list[Run] = []
    for _ in range(6):
        now = clock.now()
        actions = plan(snapshot(*waiting, runs=tuple(runs)), now, Policy())
        for a in actions:
            assert isinstance(a, Dispatch)
            runs.append(active_run(f"run-{a.bead_id}", a.bead_id, a.polecat, now))
            waiting = [b for b in waiting if b.id != a.bead_id]
        assert len(runs) <= 4
        runs = runs[1:]  # one run finishes before the next pass
        clock.advance(5)
    assert len(waiting) == 20 - 4 - 5


def test_a_rig_override_beats_the_policy_and_rigs_fill_separately() -> None:
    rigs = {"app": RigView("app", max_polecats=2), "web": RigView("web")}
    snap = snapshot(*numbered(5, "app"), *numbered(5, "web"), rigs=rigs)
    actions = plan(snap, T0, Policy(capacity=Capacity(3)))
    assert [(a.rig, a.bead_id) for a in actions if isinstance(a, Dispatch)] == [
        ("app", "gt-00"),
        ("app", "gt-01"),
        ("web", "gt-00"),
        ("web", "gt-01"),
        ("web", "gt-02"),
    ]


def test_highest_priority_first_then_oldest() -> None:
    beads = [
        ReadyBead("gt-low", "app", 3, at(1)),
        ReadyBead("gt-new-p0", "app", 0, at(9)),
        ReadyBead("gt-mid", "app", 2, at(2)),
        ReadyBead("gt-old-p0", "app", 0, at(5)),
        ReadyBead("gt-p1", "app", 1, at(0)),
    ]
    actions = plan(snapshot(*beads), T0, Policy(capacity=Capacity(4)))
    assert dispatched(actions) == ["gt-old-p0", "gt-new-p0", "gt-p1", "gt-mid"]


def test_held_beads_and_staged_convoys_are_skipped() -> None:
    beads = [
        ReadyBead("gt-held", "app", 0, at(0), held=True),
        ReadyBead("gt-staged", "app", 0, at(1), convoy_id="gt-cv", staged=True),
        ReadyBead("gt-free", "app", 2, at(2)),
    ]
    assert dispatched(plan(snapshot(*beads), T0, Policy())) == ["gt-free"]


def test_beads_on_a_removed_rig_wait() -> None:
    assert plan(snapshot(*numbered(2, "gone")), T0, Policy()) == []


def test_the_beads_runtime_wins_over_the_rigs() -> None:
    rigs = {"app": RigView("app", runtime="codex")}
    beads = [ReadyBead("gt-a", "app", runtime="claude"), ReadyBead("gt-b", "app", 3)]
    actions = plan(snapshot(*beads, rigs=rigs), T0, Policy())
    assert [(a.bead_id, a.runtime) for a in actions if isinstance(a, Dispatch)] == [
        ("gt-a", "claude"),
        ("gt-b", "codex"),
    ]


# --- polecats ----------------------------------------------------------------------------------


def test_idle_polecats_are_reused_before_new_names() -> None:
    """Given an idle polecat on this rig, one idle on another rig and one working, then the
    first bead goes to the one on this rig, the second to the other idle one, the third to
    the first free name of the pool (not a name in use)."""
    polecats = (
        Polecat("birch", "app", WORKING, "gt-x", "r-x"),
        Polecat("willow", "web", IDLE),
        Polecat("cedar", "app", IDLE),
        Polecat("alder", "app", "stopped"),
    )
    runs = (active_run("r-x", "gt-x", "birch", T0),)
    actions = plan(snapshot(*numbered(3), polecats=polecats, runs=runs), T0, Policy())
    assert [(a.polecat, a.new_polecat) for a in actions if isinstance(a, Dispatch)] == [
        ("cedar", False),
        ("willow", False),
        ("dune", True),
    ]
    assert isinstance(actions[0], Dispatch) and actions[0].branch == "gt/cedar/gt-00"


# --- attempts and backoff -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "waited", "dispatch"),
    [
        (1, 29, False),
        (1, 30, True),
        (2, 59, False),
        (2, 60, True),
        (3, 119, False),
        (3, 120, True),
        (4, 299, False),
        (4, 300, True),
    ],
)
def test_a_failed_bead_waits_out_its_backoff(attempts: int, waited: int, dispatch: bool) -> None:
    b = ReadyBead("gt-a", "app", attempts=attempts, last_ended_at=ago(T0, waited))
    actions = plan(snapshot(b), T0, Policy())
    assert actions == ([Dispatch("gt-a", "app", "alder", attempts + 1, "claude", True)] * dispatch)


def test_a_not_before_on_the_bead_is_respected() -> None:
    b = ReadyBead("gt-a", "app", not_before=ago(T0, -10))
    assert plan(snapshot(b), T0, Policy()) == []
    assert dispatched(plan(snapshot(b), T0 + timedelta(seconds=10), Policy())) == ["gt-a"]


def test_a_bead_that_keeps_failing_is_retried_on_schedule_then_failed_and_escalated() -> None:
    """Given a bead whose every run fails at once, when the planner runs each second, then it
    is dispatched at 0 s and again 30, 60, 120 and 300 s after each failure; after the fifth
    failure it is failed and escalated, once."""
    clock = FakeClock(T0)
    b = ReadyBead("gt-a", "app", 1, at(0))
    gaps: list[float] = []
    last_end: datetime | None = None
    outcome: list[Any] = []
    for _ in range(1000):
        now = clock.now()
        actions = plan(snapshot(b), now, Policy())
        if any(isinstance(a, FailBead) for a in actions):
            outcome = actions
            break
        if actions:
            (action,) = actions
            assert isinstance(action, Dispatch) and action.attempt == b.attempts + 1
            gaps.append(round((now - last_end).total_seconds()) if last_end else 0)
            last_end = now  # the run fails at once
            b = b._replace(attempts=action.attempt, last_ended_at=stamp(now))
        clock.advance(1)
    assert gaps == [0, 30, 60, 120, 300]
    assert outcome == [
        FailBead("gt-a", "5 dispatch attempts failed"),
        Escalate("high", "Bead gt-a failed: 5 dispatch attempts failed.", "gt-a", None, "app"),
    ]


def test_a_rigs_attempt_limit_wins() -> None:
    rigs = {"app": RigView("app", max_attempts=2)}
    b = ReadyBead("gt-a", "app", attempts=2, last_ended_at=ago(T0, 3600))
    actions = plan(snapshot(b, rigs=rigs), T0, Policy(attempts=Attempts(5)))
    assert [type(a) for a in actions] == [FailBead, Escalate]


# --- circuit breaker ------------------------------------------------------------------------


def test_the_breaker_opens_after_n_failures_in_the_window_and_stops_dispatch() -> None:
    policy = Policy(breaker=CircuitBreaker(threshold=3, window=600))
    failures = tuple(failed_run(n, ago(T0, 60 * n)) for n in range(1, 4))  # 1, 2, 3 min ago
    actions = plan(snapshot(*numbered(5), failures=failures), T0, policy)
    why = "3 runs failed in the last 10 min"
    assert actions == [
        PauseDispatch(f"circuit breaker open: {why}"),
        Escalate("high", f"Dispatch paused: {why}. Look at the failed runs."),
    ]


def test_the_breaker_stays_below_threshold_and_counts_only_its_window() -> None:
    policy = Policy(breaker=CircuitBreaker(threshold=3, window=600))
    failures = (failed_run(1, ago(T0, 30)), failed_run(2, ago(T0, 60)), failed_run(3, ago(T0, 601)))
    assert len(dispatched(plan(snapshot(*numbered(5), failures=failures), T0, policy))) == 4


def test_an_open_breaker_escalates_once_and_resumes_when_the_window_is_clear() -> None:
    policy = Policy(breaker=CircuitBreaker(threshold=3, window=600))
    paused = Pause(ago(T0, 100), "circuit breaker open")
    failures = (failed_run(1, ago(T0, 300)),)
    still = plan(snapshot(*numbered(5), failures=failures, paused=paused), T0, policy)
    assert still == []  # no second escalation, no dispatch
    later = T0 + timedelta(seconds=301)
    actions = plan(snapshot(*numbered(5), failures=failures, paused=paused), later, policy)
    assert actions[0] == ResumeDispatch("circuit breaker closed: no recent failures")
    assert len(dispatched(actions)) == 4


def test_a_pause_by_a_person_is_not_lifted_by_the_breaker() -> None:
    paused = Pause(ago(T0, 100), "deploy freeze", by="ana")
    assert plan(snapshot(*numbered(5), paused=paused), T0, Policy()) == []


def test_beads_out_of_attempts_are_failed_even_while_paused() -> None:
    paused = Pause(ago(T0, 100), "deploy freeze", by="ana")
    b = ReadyBead("gt-a", "app", attempts=5, last_ended_at=ago(T0, 10))
    assert [type(a) for a in plan(snapshot(b, paused=paused), T0, Policy())] == [FailBead, Escalate]


# --- timeouts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"last_heartbeat": ago(T0, 14 * 60)}, None),
        ({"last_heartbeat": ago(T0, 15 * 60 + 1)}, "stalled: no output for 15 min"),
        ({"last_heartbeat": None, "started_at": ago(T0, 16 * 60)}, "stalled: no output for 15 min"),
        ({"started_at": ago(T0, 2 * 3600 + 1)}, "ran longer than 2 h"),
        ({"status": "queued", "created_at": ago(T0, 299)}, None),
        ({"status": "starting", "created_at": ago(T0, 301)}, "did not start within 5 min"),
    ],
)
def test_stalled_overlong_and_lost_runs_are_stopped(
    fields: dict[str, Any], reason: str | None
) -> None:
    r = active_run("r1", "gt-a", "birch", T0, **fields)
    actions = plan(snapshot(runs=(r,)), T0, Policy(timeouts=Timeouts()))
    assert actions == ([StopRun("r1", "gt-a", reason)] if reason else [])


def test_a_run_being_stopped_still_holds_its_slot() -> None:
    r = active_run("r1", "gt-a", "birch", T0, last_heartbeat=ago(T0, 3600))
    actions = plan(snapshot(*numbered(3), runs=(r,)), T0, Policy(capacity=Capacity(1)))
    assert actions == [StopRun("r1", "gt-a", "stalled: no output for 15 min")]


# --- load_snapshot on a real store ------------------------------------------------------------


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.close()


def test_load_snapshot_reads_the_town_and_plan_acts_on_it(store: Store) -> None:
    """Given two rigs (app limited to 2 polecats by its own override), ready, held, staged,
    blocked and unslung beads, a running run, an idle polecat, old and recent failures and a
    pause, then the snapshot holds exactly what the planner needs; once the pause is lifted,
    the plan fills app's one free slot with its best bead on the idle polecat."""
    now = datetime(2026, 1, 1, 1, 0, 0, tzinfo=UTC)
    with store.transaction() as tx:
        tx.insert_rig(
            Rig("app", "/srv/app", "trunk", "rigs/app", at(0), {"max_polecats_per_rig": 2})
        )
        tx.insert_rig(Rig("web", "/srv/web", "main", "rigs/web", at(0), {"runtime": "codex"}))
        tx.insert_convoy(convoy("gt-cv", staged=True))
        tx.insert_beads(
            [
                bead("gt-a1", rig="app", slung=True, priority=1, created_at=at(1)),
                bead("gt-a0", rig="app", slung=True, priority=0, created_at=at(2)),
                bead("gt-held", rig="app", slung=True, held=True),
                bead("gt-staged", rig="app", slung=True, convoy_id="gt-cv"),
                bead("gt-blocked", rig="app", slung=True),
                bead("gt-unslung", rig="app"),
                bead("gt-w", rig="web", slung=True, runtime="claude"),
                bead("gt-run", rig="app", slung=True, status="in_progress"),
            ]
        )
        tx.insert_deps([Dependency("gt-blocked", "gt-a1", BLOCKS, at(0), "tester")])
        tx.set_dispatch("gt-a1", 2)
        running = active_run("r-run", "gt-run", "birch", now)
        tx.insert_run(running)
        tx.insert_polecat(Polecat("birch", "app", WORKING, "gt-run", "r-run", None, at(0), at(0)))
        tx.insert_polecat(Polecat("cedar", "app", IDLE, None, None, None, at(0), at(0)))
        recent = failed_run(1, ago(now, 60))
        tx.insert_run(recent)
        tx.insert_run(failed_run(2, ago(now, 7200)))
        tx.set_pause({"since": ago(now, 30), "reason": "breaker tripped", "by": "breaker"})

    with store.reader() as tx:
        snap = load_snapshot(tx, now, {"max_dispatch_attempts": 3})

    assert snap.rigs == {
        "app": RigView("app", "trunk", 2, 3, "claude"),
        "web": RigView("web", "main", 4, 3, "codex"),
    }
    assert {rig: [b.id for b in beads] for rig, beads in snap.ready.items()} == {
        "app": ["gt-a0", "gt-a1"],
        "web": ["gt-w"],
    }
    assert snap.ready["app"][1].attempts == 2
    assert snap.runs == (running,)
    assert [p.name for p in snap.polecats] == ["birch", "cedar"]
    assert snap.failures == (recent,)
    assert snap.paused == Pause(ago(now, 30), "breaker tripped", "breaker")

    policy = Policy(breaker=CircuitBreaker(threshold=3, window=30))
    assert plan(snap, now, policy) == [
        ResumeDispatch("circuit breaker closed: no recent failures"),
        Dispatch("gt-a0", "app", "cedar", 1, "claude", False),
        Dispatch("gt-w", "web", "alder", 1, "claude", True),
    ]


def test_a_dispatch_planned_before_its_bead_was_blocked_does_nothing(store: Store) -> None:
    """Given a plan that dispatches a ready bead, when a blocker is added to the bead before
    the plan is applied, then no run is created and the bead stays open and unassigned."""
    now = datetime(2026, 1, 1, 1, 0, 0, tzinfo=UTC)
    with store.transaction() as tx:
        tx.insert_rig(Rig("app", "/srv/app", "trunk", "rigs/app", at(0)))
        tx.insert_beads([bead("gt-a", rig="app", slung=True), bead("gt-gate", rig="app")])
    with store.reader() as tx:
        snap = load_snapshot(tx, now, {})
    actions = plan(snap, now, Policy())
    assert [a.bead_id for a in actions if isinstance(a, Dispatch)] == ["gt-a"]

    with store.transaction() as tx:
        tx.insert_deps([Dependency("gt-a", "gt-gate", BLOCKS, at(1), "tester")])
    ledger = Ledger(store, prefix="gt", actor="town", clock=FakeClock(now))
    applied = apply(ledger, actions)

    assert applied.launches == []
    with store.reader() as tx:
        found = tx.get_bead("gt-a")
        assert tx.list_runs() == []
    assert found is not None and (found.status, found.assignee) == ("open", None)
