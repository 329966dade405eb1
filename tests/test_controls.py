"""Budgets and the operator's levers against the real town process (`gt up -d`), a real git
rig and the scripted runtime reporting cost; each waits for the ledger with a deadline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gastown.model import ACTIVE_RUN_STATUSES
from gastown.store import Store
from gastown.town import load
from tests.builders import script, until
from tests.conftest import Gt, run_git


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


def runs_of(store: Store, bead: str) -> list[str]:
    with store.reader() as tx:
        return [r.status for r in tx.list_runs(bead_id=bead)]


def events(gt: Gt, kind: str) -> list[dict[str, object]]:
    return list(gt.json("events", "--kind", kind, "--limit", "0"))


SPENDER = script(
    {"cost": 0.85},
    {"write": "work.txt", "content": "half done\n"},
    {"hang": True},
)
"""A run that spends $0.85, leaves work uncommitted and never ends by itself."""


def test_a_run_over_its_beads_budget_is_stopped_its_work_kept_and_raising_lets_it_go_on(
    town: Gt, town_path: Path, store: Store
) -> None:
    """Given a per-bead budget of $1 (on the rig, so it applies at once), when a run reports
    $0.85 the town warns at 80%; when the budget is lowered below it, the running run is
    stopped, its work committed on its branch, the bead not dispatched and escalated with how
    to raise it; `gt bead show` says why; raising the budget dispatches it again."""
    town.ok("config", "set", "--rig", "app", "budget.per_bead_usd", "1")
    town.ok("up", "-d")
    bead = town.json("sling", "Spends money", "--body", SPENDER)["id"]
    until(lambda: events(town, "budget.warning"), "the 80% warning")
    (warning,) = events(town, "budget.warning")
    assert warning["bead_id"] == bead
    assert warning["reason"] == (
        f"Bead {bead} has used 85% of its budget ($0.85 of $1.00, budget.per_bead_usd)."
    )

    town.ok("config", "set", "--rig", "app", "budget.per_bead_usd", "0.5")
    until(lambda: runs_of(store, bead) == ["stopped"], "the run stopped by its budget")
    with store.reader() as tx:
        (run,) = tx.list_runs(bead_id=bead)
        escalations = tx.list_escalations(bead_id=bead)
    assert run.outcome == (
        f"stopped: over budget.per_bead_usd: $0.85 spent of $0.50 for bead {bead}"
    )
    assert run.cost_usd == pytest.approx(0.85)
    clone = town_path / "rigs" / "app"
    assert "work.txt" in run_git("show", "--name-only", "--format=", run.branch, cwd=clone)
    (escalation,) = escalations
    assert escalation.message.startswith(
        f"Budget budget.per_bead_usd is used up for bead {bead}: $0.85 spent of $0.50 ($0.35 over)"
    )
    assert "`gt config set budget.per_bead_usd N`" in escalation.message
    shown = town.json("bead", "show", bead)
    assert shown["status"] == "open" and shown["not_dispatched"] == [
        f"over budget.per_bead_usd: $0.85 spent of $0.50 for bead {bead} "
        "(`gt config set budget.per_bead_usd N` or `gt resume`)"
    ]
    assert "not dispatched: over budget.per_bead_usd" in town.ok("bead", "show", bead).out

    town.ok("config", "set", "--rig", "app", "budget.per_bead_usd", "10")
    until(
        lambda: runs_of(store, bead) in (["stopped", "queued"], ["stopped", "starting"],
                                         ["stopped", "running"]),
        "the bead dispatched again",
    )  # fmt: skip


def test_resume_grants_a_used_up_budget_another_budgets_worth(town: Gt, store: Store) -> None:
    town.ok("config", "set", "--rig", "app", "budget.per_bead_usd", "0.5")
    town.ok("up", "-d")
    bead = town.json("sling", "Spends money", "--body", SPENDER)["id"]
    until(lambda: runs_of(store, bead) == ["stopped"], "the run stopped by its budget")
    done = town.json("resume")
    assert done["lifted"] == [] and [g["budget"] for g in done["budgets_granted"]] == [
        f"bead:{bead}"
    ]
    until(lambda: len(runs_of(store, bead)) == 2, "the bead dispatched again after resume")


def test_pause_stops_new_dispatch_only_and_resume_and_drain(town: Gt, store: Store) -> None:
    """Given a running run, when the town is paused then a new bead waits while the run goes
    on; `gt status` and `gt bead show` say so; resume dispatches it; a drain pauses and waits
    until the running work has ended."""
    town.ok("up", "-d")
    busy = town.json("sling", "Takes a while", "--body", script({"hang": True}))["id"]
    until(lambda: runs_of(store, busy) == ["running"], "the first run to start")
    paused = town.json("pause", "--reason", "deploying")
    assert paused["reason"] == "deploying" and paused["by"] == "tester" and not paused["already"]
    waiting = town.json("sling", "Waits", "--body", script({"text": "hi"}))["id"]
    status = town.ok("status").out
    assert "PAUSED: dispatch is paused by tester since " in status and ": deploying" in status
    assert town.json("status")["dispatch_paused"]["reason"] == "deploying"
    shown = town.ok("bead", "show", waiting).out
    assert "not dispatched: dispatch is paused by tester since" in shown
    assert runs_of(store, waiting) == [] and runs_of(store, busy) == ["running"]

    assert "Resumed dispatch." in town.ok("resume").out
    until(lambda: runs_of(store, waiting), "the waiting bead dispatched after resume")

    stopper = town_stop_later(town, busy)
    drained = town.json("drain", "--timeout", "60")
    assert drained["drained"] and drained["active_runs"] == 0 and stopper
    with store.reader() as tx:
        assert tx.list_runs(statuses=ACTIVE_RUN_STATUSES) == []
    assert town.json("status")["dispatch_paused"]["reason"] == "draining"
    town.ok("resume")


def town_stop_later(town: Gt, bead: str) -> bool:
    """Stop the hanging run of `bead` (through its polecat), so a drain has an end to see."""
    polecat = town.json("bead", "show", bead)["assignee"]
    return town("agent", "stop", polecat).code == 0


def test_a_rig_pause_and_bad_input(town: Gt) -> None:
    result = town("resume")
    assert result.code == 1 and result.err.startswith(
        "gt: Nothing is paused: dispatch is running and no budget is used up."
    )
    result = town("pause", "--rig", "nope")
    assert result.code == 1 and "There is no rig 'nope'." in result.err
    result = town("drain", "--rig", "nope")
    assert result.code == 1 and "There is no rig 'nope'." in result.err
    result = town("drain", "--timeout", "-3")
    assert result.code == 2
    result = town("config", "set", "budget.daily_usd", "-5")
    assert result.code == 2 and "expects an amount of US dollars ≥ 0" in result.err
    town.ok("pause", "--rig", "app", "--reason", "flaky CI")
    data = town.json("status")
    assert data["rigs_paused"]["app"]["reason"] == "flaky CI"
    assert "dispatch on rig app is paused by tester" in town.ok("status").out
    again = town.json("pause", "--rig", "app")
    assert again["already"] and again["reason"] == "flaky CI"
    assert town("resume", "--rig", "app").code == 0
    assert town("resume", "--rig", "app").code == 1
    assert json.loads(town.ok("status", "--json").out)["rigs_paused"] == {}


def test_the_towns_daily_budget_stops_dispatch_until_raised(town: Gt, store: Store) -> None:
    """A daily budget of $0 in town.toml lets nothing be dispatched, and says so in the
    escalation and `gt bead show`; raising it (no restart) dispatches the bead."""
    town.ok("config", "set", "budget.daily_usd", "0")
    town.ok("up", "-d")
    bead = town.json("sling", "Waits for money", "--body", script({"text": "hi"}))["id"]
    until(lambda: events(town, "budget.exceeded"), "the used-up daily budget")
    (escalation,) = town.json("escalations")
    assert escalation["message"].startswith(
        "Budget budget.daily_usd is used up for the town today: $0.00 spent of $0.00"
    )
    assert (
        escalation["bead_id"] is None
        and "`gt config set budget.daily_usd N`" in (escalation["message"])
    )
    assert runs_of(store, bead) == []
    shown = town.json("bead", "show", bead)["not_dispatched"]
    assert shown == [
        "over budget.daily_usd: $0.00 spent of $0.00 for the town today "
        "(`gt config set budget.daily_usd N` or `gt resume`)"
    ]
    town.ok("config", "set", "budget.daily_usd", "5")
    until(lambda: runs_of(store, bead), "the bead dispatched once the budget was raised")
