"""Retries are visible: a bead waiting for its next attempt says until when (`gt ready`,
`gt bead show`), a failed run's transcript ends with its failure, and the escalation for a bead
out of attempts lists each of them. A real town process, the scripted runtime, real git."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from gastown.clock import parse_stamp
from gastown.model import Run
from gastown.services import retries
from gastown.store import Store
from tests.builders import bead_status, script, store, town, until
from tests.conftest import Gt

__all__ = ["store", "town"]  # fixtures


def test_a_bead_waiting_for_its_retry_says_until_when(town: Gt, town_path: Path) -> None:
    town.ok("config", "set", "max_dispatch_attempts", "3")
    town.ok("config", "set", "polecat.retry_backoff_seconds", "3600")
    town.ok("up", "-d")
    idle = town.json("sling", "Does nothing", "--body", script({"text": "Nothing to do"}))["id"]
    fresh = town.json("bead", "create", "Not slung yet", "--rig", "app")["id"]
    until(lambda: town.json("events", "--bead", idle, "--kind", "run.ended"), "the failed attempt")
    until(lambda: bead_status(town, idle) == "open", "the bead back to open")

    listed = {b["id"]: b for b in town.json("ready")}
    assert listed[fresh]["retry_at"] is None
    retry_at = parse_stamp(listed[idle]["retry_at"])
    assert retry_at > datetime.now(UTC)
    shown = town("ready").out
    [line] = [ln for ln in shown.splitlines() if ln.startswith(idle)]
    assert f"open (retry at {retries.clock_time(retry_at)} (in " in line
    assert "retry" not in next(ln for ln in shown.splitlines() if ln.startswith(fresh))
    said = town.json("bead", "show", idle)["not_dispatched"]
    assert any(s.startswith("waiting for its next attempt (attempt 2) until") for s in said)

    # The run's transcript ends with the town's verdict, though the agent exited 0.
    (run,) = town.json("runs", "--bead", idle)
    assert run["outcome"] == "no changes"
    events = [
        json.loads(line)
        for line in (town_path / run["transcript"]).read_text().splitlines()
        if line.strip()
    ]
    ends = [e for e in events if e["kind"] == "end"]
    assert ends and ends[-1]["exit_status"] == 0
    assert events[-1]["kind"] == "error" and events[-1]["message"] == "run failed: no changes"
    assert events[-1]["outcome"] == run["outcome"] and events[-1]["status"] == run["status"]
    peeked = town("peek", run["id"]).out.strip().splitlines()
    assert "run failed: no changes" in peeked[-1]


def test_the_escalation_for_a_bead_out_of_attempts_lists_each_one(town: Gt, store: Store) -> None:
    town.ok("config", "set", "max_dispatch_attempts", "2")
    town.ok("config", "set", "polecat.retry_backoff_seconds", "0")
    town.ok("up", "-d")
    bead = town.json("sling", "Crashes", "--body", script({"text": "oops"}, {"exit": 3}))["id"]
    until(lambda: bead_status(town, bead) == "failed", "the bead to fail")
    (esc,) = [e for e in town.json("escalations") if e["bead_id"] == bead]
    first, *lines = esc["message"].splitlines()
    assert first == f"Bead {bead} failed: 2 dispatch attempts failed."
    with store.reader() as tx:
        runs = tx.list_runs(bead_id=bead)
    assert lines[0] == "Its attempts:"
    for run, line in zip(runs, lines[1:], strict=True):
        when = str(run.ended_at)[:19].replace("T", " ")
        assert line == f"  attempt {run.attempt}: failed (exit 3), ended {when} UTC, run {run.id}"
    assert town.json("ready") == []  # failed: no longer ready, nothing to retry


def test_a_long_history_shows_its_latest_attempts_within_an_escalation() -> None:
    runs = [
        Run(f"r-{n}", "gt-a", "p", "app", "scripted", "b", "w", attempt=n, status="failed",
            ended_at=f"2026-03-01T09:{n:02d}:00.000000Z", outcome="x" * 900)
        for n in range(1, 31)
    ]  # fmt: skip
    text = retries.history(runs)
    assert text.splitlines()[1] == "  (20 earlier attempts not shown)"
    assert "attempt 30: failed" in text.splitlines()[-1] and len(text) < 3500
    assert retries.history([]) == ""


def test_the_ledger_says_which_beads_wait_and_ready_json_carries_it(db_url: str) -> None:
    from gastown.clock import FakeClock
    from gastown.model import Rig
    from gastown.services import listing
    from gastown.store import BeadFilter, open_store
    from tests.builders import bead

    day = "2026-03-01"
    store = open_store(db_url)
    try:
        with store.transaction() as tx:
            tx.insert_rig(Rig("app", "/srv/app", "trunk", "rigs/app", day, {}))
            tx.insert_beads([bead("gt-a", rig="app", slung=True), bead("gt-b", rig="app")])
            tx.insert_run(
                Run("r-1", "gt-a", "alder", "app", "scripted", "b", "w", status="failed",
                    created_at=f"{day}T08:59:00.000000Z", ended_at=f"{day}T08:59:50.000000Z")
            )  # fmt: skip
            tx.set_dispatch("gt-a", 1)
        now = FakeClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC)).now()
        with store.reader() as tx:
            waits = retries.waiting(tx, {"polecat.retry_backoff_seconds": 60}, {}, now)
            assert retries.waiting(tx, {}, {}, now, rig="other") == {}
        assert list(waits) == ["gt-a"]
        assert retries.words(waits["gt-a"], now) == "retry at 2026-03-01 09:00 UTC (in 50 s)"
        chunks: list[bytes] = []
        known = {"gt-a": b'"retry_at":"x"'}
        extra = (known, b'"retry_at":null')
        listing.write_json(store, BeadFilter(ready=True), chunks.append, extra)
        rows = {b["id"]: b for b in json.loads(b"".join(chunks))}
        assert rows["gt-a"]["retry_at"] == "x" and rows["gt-b"]["retry_at"] is None
        assert rows["gt-a"]["title"] == "Work on gt-a"
    finally:
        store.close()
