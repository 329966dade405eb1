"""`gt feed` on a terminal: the view model read from a real town, and the full-screen view
driven headless by Textual's own pilot against a live town process (`gt up -d`) whose agent
is the scripted runtime."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, RichLog

from gastown.cli.app import App
from gastown.clock import stamp
from gastown.model import MR_REWORK, RUNNING, WORKING, MergeRequest, Polecat, Run
from gastown.reconciler.budget import BudgetState
from gastown.services import escalations
from gastown.services.ledger import Ledger
from gastown.store import controls
from gastown.town import load
from gastown.tui.dialogs import Nudge, Peek
from gastown.tui.feed import FeedView
from gastown.tui.steer import Steering
from gastown.tui.view import town_view
from tests.builders import script, until
from tests.conftest import Gt

DEADLINE = 60.0


def test_the_view_model_reads_agents_problems_queue_and_feed(rig_gt: Gt, town_path: Path) -> None:
    working = rig_gt.json("bead", "create", "Add a clap function", "--rig", "app")["id"]
    held = rig_gt.json("bead", "create", "Wait for me", "--rig", "app", "--hold")["id"]
    failed = rig_gt.json("bead", "create", "Broke twice", "--rig", "app")["id"]
    rig_gt.ok("bead", "update", failed, "--status", "failed")
    rig_gt.ok("pause", "--rig", "app", "--reason", "deploying")
    now = datetime.now(UTC)
    town = load(town_path)
    store = town.open_store()
    try:
        with store.transaction() as tx:
            tx.insert_polecat(Polecat("alder", "app", WORKING, working, "run-1"))
            tx.insert_polecat(Polecat("birch", "app"))
            tx.insert_run(
                Run(
                    "run-1",
                    working,
                    "alder",
                    "app",
                    "scripted",
                    "gt/alder",
                    "polecats/alder",
                    attempt=2,
                    status=RUNNING,
                    created_at=stamp(now - timedelta(minutes=12)),
                    started_at=stamp(now - timedelta(minutes=11)),
                    last_heartbeat=stamp(now - timedelta(minutes=6)),
                    cost_usd=0.25,
                    status_text="writing tests",
                )
            )
            tx.insert_merge_request(
                MergeRequest(
                    "mr-1",
                    held,
                    None,
                    "app",
                    "gt/x",
                    "trunk",
                    "a" * 40,
                    "b" * 40,
                    status=MR_REWORK,
                    note="the gates failed",
                    created_at=stamp(now - timedelta(hours=1)),
                )
            )
            controls.set_budget_state(
                tx, BudgetState({f"town:{now.date().isoformat()}": "exceeded"}, {})
            )
        raised = escalations.raise_(
            Ledger(store, prefix=town.prefix, actor="tester"),
            "high",
            "Needs a key",
            bead_id=working,
        )
        with store.reader() as tx:
            view = town_view(tx, now, quiet_after=300)
            quiet = town_view(tx, now, quiet_after=3600, after=10**9)
    finally:
        store.close()

    alder, birch = view.agents
    assert (alder.name, alder.bead_id, alder.bead_title) == (
        "alder",
        working,
        "Add a clap function",
    )
    assert alder.status == RUNNING and alder.cost_usd == 0.25 and alder.says == "writing tests"
    assert alder.elapsed == pytest.approx(660) and alder.quiet == pytest.approx(360)
    assert birch.state == "idle" and birch.elapsed is None and view.working == 1
    kinds = [p.kind for p in view.problems]
    assert kinds == [
        "escalation",
        "stalled",
        "failing",
        "failing",
        "sent back",
        "paused",
        "budget",
        "held",
    ]
    escalation, stalled, retrying, broke, sent, paused, budget, on_hold = view.problems
    assert escalation.escalation_id == raised.id and "Needs a key" in escalation.text
    assert stalled.polecat == "alder" and "no output for 6 min" in stalled.text
    assert retrying.bead_id == working and "attempt 2" in retrying.text
    assert broke.bead_id == failed and "Broke twice" in broke.text
    assert sent.bead_id == held and "sent back: the gates failed" in sent.text
    assert "paused by tester" in paused.text and "deploying" in paused.text
    assert budget.text == "the town's daily budget is used up"
    assert on_hold.bead_id == held
    (mr,) = view.queue
    assert (mr.id, mr.status, mr.title, mr.age) == ("mr-1", MR_REWORK, "Wait for me", 3600)
    assert view.events and view.events[-1].text and "escalation" in view.events[-1].text
    assert [e.id for e in view.events] == sorted(e.id for e in view.events)
    assert quiet.events == [] and "stalled" not in [p.kind for p in quiet.problems]


def test_feed_is_plain_lines_when_piped_or_asked(rig_gt: Gt) -> None:
    since = rig_gt.json("events", "--limit", "1")[-1]["id"]
    rig_gt.ok("bead", "create", "Seen by the feed")
    for extra in ([], ["--plain"]):
        out = rig_gt.ok("feed", *extra, "--since", str(since), "--max-events", "1").out
        assert "Seen by the feed" in out or "bead.created" in out


@pytest.fixture
def live(rig_gt: Gt) -> Iterator[Gt]:
    rig_gt.ok("config", "set", "runtime", "scripted")
    rig_gt.ok("config", "set", "refinery.auto", "false")
    rig_gt.ok("up", "-d")
    yield rig_gt
    rig_gt("down")


async def _until(pilot: Pilot[None], check: Callable[[], Any], what: str) -> Any:
    """Let the view run until `check()` is truthy; fail naming `what` past the deadline."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        await pilot.pause(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _cells(view: FeedView, name: str) -> list[list[str]]:
    table: DataTable[str] = view.query_one(f"#{name}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def test_the_terminal_view_steers_a_live_town(live: Gt, town_path: Path) -> None:
    bead = live.json(
        "sling", "Takes a while", "--body", script({"text": "working on it"}, {"hang": True})
    )["id"]
    until(
        lambda: [r for r in live.json("runs", "--bead", bead) if r["status"] == "running"],
        "it to run",
    )
    polecat = live.json("bead", "show", bead)["assignee"]
    cli = App(argparse.Namespace(town=str(town_path)), environ={"GT_ACTOR": "tester"})
    view = FeedView(Steering(cli), quiet_after=3600, interval=0.2)

    async def scenario() -> None:
        async with view.run_test(size=(180, 50)) as pilot:
            rows = await _until(pilot, lambda: _cells(view, "agents"), "the agent's row")
            assert rows[0][0] == polecat and bead in rows[0][2] and "running" in rows[0][1]
            feed = view.query_one("#feed", RichLog)
            assert feed.lines, "the feed opens with the latest events"

            view.query_one("#agents", DataTable).focus()
            await pilot.press("p")
            assert isinstance(view.screen, Peek)
            peek = view.screen
            await _until(pilot, lambda: any("working on it" in x for x in peek.lines), "peek")
            await pilot.press("escape")
            assert not isinstance(view.screen, Peek)

            await pilot.press("n")
            assert isinstance(view.screen, Nudge)
            view.screen.query_one(Input).value = "Please wrap up"
            await pilot.press("enter")
            await _until(pilot, lambda: _kinds(live, "agent.nudged"), "the nudge")

            raised = escalations.raise_(cli.ledger, "high", "Which database?", bead_id=bead)
            problems = await _until(
                pilot,
                lambda: [r for r in _cells(view, "problems") if "Which database?" in r[1]],
                "the escalation in the problems pane",
            )
            assert problems[0][0] == "escalation"
            view.query_one("#problems", DataTable).focus()
            view.query_one("#problems", DataTable).move_cursor(row=0)
            await pilot.press("a")
            with cli.store.reader() as tx:
                done = tx.get_escalation(raised.id)
            assert done is not None and done.acknowledged_by == "tester"

            view.query_one("#agents", DataTable).focus()
            await pilot.press("s")
            await _until(pilot, lambda: live.json("bead", "show", bead)["held"], "the stop")
            held = await _until(
                pilot,
                lambda: [i for i, r in enumerate(_cells(view, "problems")) if r[0] == "held"],
                "the held bead among the problems",
            )
            view.query_one("#problems", DataTable).focus()
            view.query_one("#problems", DataTable).move_cursor(row=held[0])
            await pilot.press("h")
            assert not live.json("bead", "show", bead)["held"]
            await pilot.press("q")

    try:
        asyncio.run(scenario())
    finally:
        cli.close()
    kinds = _kinds(live, "agent.stop") and _kinds(live, "escalation.acknowledged")
    assert kinds


def _kinds(gt: Gt, kind: str) -> bool:
    return kind in [e["kind"] for e in gt.json("events", "--limit", "0")]
