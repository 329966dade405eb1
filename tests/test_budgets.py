"""Budgets as the planner sees them: scenarios on hand-built snapshots, then the figures read
from a real store on both backends, and the notices applied to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from gastown import config
from gastown.errors import InvalidValue
from gastown.model import Rig, Run
from gastown.reconciler import Dispatch, Escalate, Policy, ReadyBead, RigView, StopRun, plan
from gastown.reconciler.actions import BudgetNotice
from gastown.reconciler.apply import apply
from gastown.reconciler.budget import Limits, Spend
from gastown.reconciler.snapshot import Pause, load_snapshot
from gastown.services.ledger import Ledger
from gastown.store import Store, controls, open_store
from gastown.store.costs import SpendRow
from tests.builders import bead, convoy
from tests.builders.plans import active_run, snapshot

NOW = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
DAY = "2026-03-01"


def rigs(**limits: Any) -> dict[str, RigView]:
    return {"app": RigView("app", "trunk", limits=Limits(**limits))}


def spend(**fields: Any) -> Spend:
    return Spend(DAY, **{"beads": {}, **fields})


def kinds(actions: list[Any]) -> list[str]:
    return [type(a).__name__ for a in actions]


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["-1", "abc", "nan", "inf", "1e400", "-0.01"])
def test_a_negative_or_non_numeric_budget_is_refused_in_one_sentence(text: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        config.parse("budget.per_bead_usd", text)
    assert caught.value.message == (
        "Setting 'budget.per_bead_usd' expects an amount of US dollars ≥ 0 (e.g. 2.50), or off, "
        f"not '{text}'."
    )


def test_budgets_take_amounts_and_off() -> None:
    assert config.parse("budget.daily_usd", "2.5") == 2.5
    assert config.parse("budget.daily_usd", "$3") == 3.0
    assert config.parse("budget.daily_usd", "off") is None
    assert config.check("budget.per_convoy_usd", 4) == 4
    with pytest.raises(InvalidValue):
        config.check("budget.per_convoy_usd", True)


# --- the planner ------------------------------------------------------------------------------


def test_a_bead_over_its_budget_is_not_dispatched_and_is_escalated_once() -> None:
    """Given a per-bead budget of $1, a bead that has spent $1.20 and one that has spent $0.10,
    then only the cheap one is dispatched, and the used-up budget is announced with which
    budget, by how much and how to raise it; once told, it is not told again."""
    snap = snapshot(
        ReadyBead("gt-rich", "app"),
        ReadyBead("gt-poor", "app"),
        rigs=rigs(per_bead=1.0),
        spend=spend(beads={"gt-rich": 1.2, "gt-poor": 0.1}),
    )
    actions = plan(snap, NOW, Policy())
    assert [a.bead_id for a in actions if isinstance(a, Dispatch)] == ["gt-poor"]
    (notice,) = [a for a in actions if isinstance(a, BudgetNotice)]
    assert notice.key == "bead:gt-rich" and notice.level == "exceeded"
    assert notice.bead_id == "gt-rich" and notice.rig == "app"
    assert notice.message == (
        "Budget budget.per_bead_usd is used up for bead gt-rich: $1.20 spent of $1.00 ($0.20 "
        "over); its work is not dispatched. Raise it with `gt config set budget.per_bead_usd N` "
        "(add --rig app for this rig alone), or let it go on with `gt resume` (another $1.00)."
    )
    told = snap._replace(spend=spend(beads={"gt-rich": 1.2}, told={"bead:gt-rich": "exceeded"}))
    assert not [a for a in plan(told, NOW, Policy()) if isinstance(a, BudgetNotice)]


def test_at_80_percent_a_warning_and_dispatch_goes_on() -> None:
    snap = snapshot(
        ReadyBead("gt-a", "app"), rigs=rigs(per_bead=1.0), spend=spend(beads={"gt-a": 0.85})
    )
    actions = plan(snap, NOW, Policy())
    assert kinds(actions) == ["Dispatch", "BudgetNotice"]
    notice = actions[1]
    assert isinstance(notice, BudgetNotice) and notice.level == "warning"
    assert notice.message == (
        "Bead gt-a has used 85% of its budget ($0.85 of $1.00, budget.per_bead_usd)."
    )


def test_a_convoy_over_its_budget_dispatches_none_of_its_beads() -> None:
    snap = snapshot(
        ReadyBead("gt-c1", "app", convoy_id="cv"),
        ReadyBead("gt-c2", "app", convoy_id="cv"),
        ReadyBead("gt-free", "app"),
        rigs=rigs(per_convoy=2.0),
        spend=spend(beads={"gt-c1": 1.5, "gt-c2": 0.0}, convoys={"cv": 2.5}),
    )
    actions = plan(snap, NOW, Policy())
    assert [a.bead_id for a in actions if isinstance(a, Dispatch)] == ["gt-free"]
    assert [a.key for a in actions if isinstance(a, BudgetNotice)] == ["convoy:cv"]


def test_the_daily_budgets_stop_their_rig_or_the_whole_town() -> None:
    beads = (ReadyBead("gt-a", "app"), ReadyBead("gt-w", "web"))
    views = {"app": RigView("app", "trunk", limits=Limits(daily=5.0)), "web": RigView("web")}
    rig_day = snapshot(*beads, rigs=views, spend=spend(rigs_today={"app": 5.0}, town_today=5.0))
    assert [a.bead_id for a in plan(rig_day, NOW, Policy()) if isinstance(a, Dispatch)] == ["gt-w"]
    town_day = snapshot(
        *beads,
        rigs=views,
        town_daily_usd=3.0,
        spend=spend(rigs_today={"app": 1.0}, town_today=3.5),  # the mayor spent the rest
    )
    actions = plan(town_day, NOW, Policy())
    assert not [a for a in actions if isinstance(a, Dispatch)]
    assert [(a.key, a.level) for a in actions if isinstance(a, BudgetNotice)] == [
        (f"town:{DAY}", "exceeded")
    ]


def test_a_granted_budget_lets_work_go_on_for_another_budgets_worth() -> None:
    """`gt resume` records what was spent: only spend beyond it counts."""
    granted = spend(beads={"gt-a": 1.2}, granted={"bead:gt-a": 1.1})
    snap = snapshot(ReadyBead("gt-a", "app"), rigs=rigs(per_bead=1.0), spend=granted)
    assert kinds(plan(snap, NOW, Policy())) == ["Dispatch"]


def test_a_running_run_over_its_beads_budget_is_stopped_and_its_attempt_given_back() -> None:
    run = active_run("r-1", "gt-a", "alder", NOW, cost_usd=1.5)
    snap = snapshot(rigs=rigs(per_bead=1.0), runs=(run,), spend=spend(beads={"gt-a": 1.5}))
    actions = plan(snap, NOW, Policy())
    stop = actions[0]
    assert isinstance(stop, StopRun) and stop.after == "release"
    assert stop.reason == "over budget.per_bead_usd: $1.50 spent of $1.00 for bead gt-a"


def test_no_budget_set_means_no_figures_and_no_notices() -> None:
    snap = snapshot(ReadyBead("gt-a", "app"))
    assert snap.spend is None and kinds(plan(snap, NOW, Policy())) == ["Dispatch"]


def test_a_paused_rig_gets_nothing_and_the_others_go_on() -> None:
    snap = snapshot(
        ReadyBead("gt-a", "app"),
        ReadyBead("gt-w", "web"),
        rig_pauses={"app": Pause("2026-03-01T08:00:00Z", "deploy", "ann")},
    )
    assert [a.bead_id for a in plan(snap, NOW, Policy()) if isinstance(a, Dispatch)] == ["gt-w"]


# --- a real store -----------------------------------------------------------------------------


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.close()


def test_the_snapshot_reads_every_figure_and_the_notice_is_applied(store: Store) -> None:
    """Given runs of a bead in a convoy (one ended today, one running with its cost so far),
    a reviewer's call on it and the mayor's spend today, then the snapshot's figures add them
    up, and applying the plan's notice records an event and an escalation once."""
    with store.transaction() as tx:
        tx.insert_rig(Rig("app", "/srv/app", "trunk", "rigs/app", DAY, {"budget.daily_usd": 9.0}))
        tx.insert_convoy(convoy("gt-cv"))
        tx.insert_beads([bead("gt-a", rig="app", slung=True, convoy_id="gt-cv")])
        tx.insert_run(
            Run("r-old", "gt-a", "alder", "app", "scripted", "b1", "w", status="failed",
                created_at=f"{DAY}T07:00:00.000000Z", ended_at=f"{DAY}T07:30:00.000000Z",
                cost_usd=0.75)
        )  # fmt: skip
        tx.insert_run(active_run("r-now", "gt-a", "birch", NOW))
        controls.set_live_cost(tx, "r-now", 0.5)
        tx.insert_spend(
            SpendRow(
                f"{DAY}T08:00:00.000000Z",
                "reviewer",
                "api",
                rig="app",
                bead_id="gt-a",
                convoy_id="gt-cv",
                cost_usd=0.25,
            )
        )
    with store.reader() as tx:
        snap = load_snapshot(tx, NOW, {"budget.per_bead_usd": 1.0, "budget.daily_usd": 20.0})
    assert snap.spend is not None
    assert snap.spend.beads == {"gt-a": pytest.approx(1.5)}
    assert snap.spend.convoys == {"gt-cv": pytest.approx(1.5)}
    assert snap.spend.rigs_today == {"app": pytest.approx(1.5)}
    assert snap.rigs["app"].limits == Limits(1.0, None, 9.0)
    assert snap.town_daily_usd == 20.0

    actions = plan(snap, NOW, Policy())
    assert isinstance(actions[0], StopRun) and actions[0].after == "release"
    ledger = Ledger(store)
    for _ in range(2):  # a second pass planned from the same snapshot says nothing more
        apply(ledger, [a for a in actions if isinstance(a, BudgetNotice | Escalate)])
    with store.reader() as tx:
        (escalation,) = tx.list_escalations()
        events = tx.list_events(kind="budget.exceeded")
        state = controls.budget_state(tx)
    assert escalation.bead_id == "gt-a" and "budget.per_bead_usd" in escalation.message
    assert len(events) == 1 and state.told == {"bead:gt-a": "exceeded"}


def test_resume_closes_an_open_breaker_at_once(store: Store) -> None:
    """Given the breaker open after three failures that are still in its window, `resume`
    lifts its pause and the failures no longer count, so the next plan does not open it
    again; a second `resume` has nothing to do and says so."""
    from gastown.clock import FakeClock
    from gastown.errors import Conflict
    from gastown.reconciler import CircuitBreaker
    from gastown.services import controls as levers
    from tests.builders.plans import failed_run

    with store.transaction() as tx:
        tx.insert_rig(Rig("app", "/srv/app", "trunk", "rigs/app", DAY, {}))
        for n in range(3):
            tx.insert_run(failed_run(n, f"{DAY}T08:5{n}:00.000000Z"))
        tx.set_pause(
            {"since": f"{DAY}T08:55:00.000000Z", "reason": "3 runs failed", "by": "breaker"}
        )
    policy = Policy(breaker=CircuitBreaker(threshold=3, window=1800))
    with store.reader() as tx:
        assert len(load_snapshot(tx, NOW, {}).failures) == 3
    ledger = Ledger(store, actor="ann", clock=FakeClock(NOW))
    done = levers.resume(ledger, {}, {})
    assert done.breaker_closed and [p["by"] for p in done.lifted] == ["breaker"]
    assert "Closed the circuit breaker" in done.describe()
    with store.reader() as tx:
        snap = load_snapshot(tx, NOW, {})
    assert snap.paused is None and snap.failures == ()
    assert plan(snap, NOW, policy) == []
    with pytest.raises(Conflict):
        levers.resume(ledger, {}, {})


def test_bead_show_names_the_breaker_the_backoff_and_a_missing_program(store: Store) -> None:
    from gastown.clock import FakeClock
    from gastown.services.holdups import holdups

    with store.transaction() as tx:
        tx.insert_rig(Rig("app", "/srv/app", "trunk", "rigs/app", DAY, {"runtime": "codex"}))
        tx.insert_beads([bead("gt-a", rig="app", slung=True)])
        tx.insert_run(
            Run("r-1", "gt-a", "alder", "app", "scripted", "b", "w", status="failed",
                created_at=f"{DAY}T08:59:00.000000Z", ended_at=f"{DAY}T08:59:50.000000Z")
        )  # fmt: skip
        tx.set_dispatch("gt-a", 1)
        tx.set_pause(
            {"since": f"{DAY}T08:55:00.000000Z", "reason": "20 runs failed", "by": "breaker"}
        )
    ledger = Ledger(store, clock=FakeClock(NOW))
    with store.reader() as tx:
        found = tx.get_bead("gt-a")
    assert found is not None
    said = holdups(ledger, found, {}, {"PATH": "/nonexistent"})
    assert said == [
        "dispatch is paused by the circuit breaker since 2026-03-01 08:55:00 UTC: 20 runs "
        "failed (`gt resume`)",
        "waiting for its next attempt (attempt 2) until 2026-03-01 09:00:20 UTC, in 20 s",
        "runtime codex's program `codex` is not on PATH (install it, or `gt config set runtime "
        "NAME`)",
    ]
