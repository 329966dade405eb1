"""The loop that matters, end to end: sling → polecat in its worktree → merge request.

Each test starts the real town process (`gt up -d`) on a town whose rig is a real git
repository, with the `scripted` runtime, and waits (with a deadline, never a timing claim) for
the ledger to show the outcome.
"""

from __future__ import annotations

import json
from pathlib import Path

from gastown.model import ACTIVE_RUN_STATUSES
from gastown.store import Store
from tests.builders import bead_status, script, store, town, until
from tests.conftest import Gt, run_git

__all__ = ["store", "town"]  # the fixtures this module uses, which pytest finds here by name


def test_a_slung_bead_becomes_a_merge_request(town: Gt, town_path: Path, store: Store) -> None:
    town.ok("up", "-d")
    body = script(
        {"text": "Adding the flag"},
        {"write": "flag.txt", "content": "--verbose\n"},
        {"run": "git add flag.txt && git commit -qm 'Add the flag'"},
    )
    bead = town.json("sling", "Add a --verbose flag", "--body", body)["id"]
    until(lambda: bead_status(town, bead) == "in_review", "the bead to reach in_review")

    with store.reader() as tx:
        (run,) = tx.list_runs(bead_id=bead)
        (mr,) = tx.list_merge_requests(bead_id=bead)
    assert run.status == "succeeded" and run.outcome == "merge request"
    assert run.branch == f"gt/{run.polecat}/{bead}" and mr.branch == run.branch
    assert mr.target == "trunk" and mr.status == "open"
    clone = town_path / "rigs" / "app"
    log = run_git("log", "--format=%an|%s", f"{mr.base_commit}..{mr.head_commit}", cwd=clone)
    assert log.strip() == f"app/polecat/{run.polecat}|Add the flag"
    transcript = (town_path / str(run.transcript)).read_text().splitlines()
    kinds = [json.loads(line)["kind"] for line in transcript]
    assert kinds[0] == "start" and "tool_call" in kinds and kinds[-1] == "end"
    assert (town_path / "logs" / "runs" / run.id / "prompt.md").read_text().count(bead) >= 1
    events = [e["kind"] for e in town.json("events", "--bead", bead, "--limit", "0")]
    for kind in (
        "bead.created",
        "bead.dispatched",
        "run.queued",
        "run.started",
        "run.ended",
        "mr.created",
    ):
        assert kind in events
    polecat = town.json("bead", "show", bead)["assignee"]
    assert polecat == run.polecat


def test_leftover_changes_are_committed_and_no_changes_fail(
    town: Gt, town_path: Path, store: Store
) -> None:
    town.ok("config", "set", "max_dispatch_attempts", "1")
    town.ok("up", "-d")
    forgetful = town.json(
        "sling",
        "Forgets to commit",
        "--body",
        script({"write": "left.txt", "content": "uncommitted\n"}),
    )["id"]
    idle = town.json("sling", "Does nothing", "--body", script({"text": "Nothing to do"}))["id"]
    until(lambda: bead_status(town, forgetful) == "in_review", "the forgetful bead in review")
    until(lambda: bead_status(town, idle) == "failed", "the idle bead to fail")
    with store.reader() as tx:
        (ok,) = tx.list_runs(bead_id=forgetful)
        (bad,) = tx.list_runs(bead_id=idle)
        escalations = tx.list_escalations()
    assert ok.outcome == "merge request" and bad.outcome == "no changes"
    assert any(e.bead_id == idle for e in escalations)
    clone = town_path / "rigs" / "app"
    assert "left.txt" in run_git("show", "--name-only", "--format=", ok.branch, cwd=clone)


def test_a_crashing_agent_is_retried_then_failed(town: Gt, store: Store) -> None:
    town.ok("config", "set", "max_dispatch_attempts", "2")
    town.ok("up", "-d")
    bead = town.json("sling", "Crashes", "--body", script({"text": "oops"}, {"exit": 3}))["id"]
    until(
        lambda: (
            bead_status(town, bead) == "open"
            and town.json("events", "--bead", bead, "--kind", "run.ended")
        ),
        "the first failed run",
    )
    with store.reader() as tx:
        (first,) = tx.list_runs(bead_id=bead)
        attempts = tx.get_dispatch(bead)
    assert first.status == "failed" and first.outcome == "exit 3" and first.exit_code == 3
    assert attempts is not None and attempts[0] == 1  # the retry waits out its backoff


def test_capacity_is_never_exceeded(town: Gt, store: Store) -> None:
    town.ok("config", "set", "max_polecats_per_rig", "2")
    town.ok("up", "-d")
    slow = script({"run": "sleep 0.3"}, {"write": "x.txt", "content": "x"})
    ids = [town.json("sling", f"Bead {i}", "--body", slow)["id"] for i in range(6)]
    most = 0

    def all_in_review() -> bool:
        nonlocal most
        with store.reader() as tx:
            active = tx.list_runs(statuses=ACTIVE_RUN_STATUSES)
            most = max(most, len(active))
        return all(bead_status(town, b) == "in_review" for b in ids)

    until(all_in_review, "all six beads in review")
    assert 1 <= most <= 2
    with store.reader() as tx:
        polecats = {r.polecat for b in ids for r in tx.list_runs(bead_id=b)}
    assert len(polecats) <= 2  # idle polecats are reused, not renamed


def test_a_missing_runtime_holds_the_bead_without_spending_attempts(town: Gt, store: Store) -> None:
    town.ok("config", "set", "runtime", "gemini")  # not installed here
    town.ok("up", "-d")
    bead = town.json("sling", "Needs gemini")["id"]
    until(lambda: town.json("bead", "show", bead)["held"], "the bead to be held")
    with store.reader() as tx:
        attempts = tx.get_dispatch(bead)
        escalations = [e for e in tx.list_escalations() if e.bead_id == bead]
    assert attempts is not None and attempts[0] == 0
    assert escalations and "runtime" in escalations[0].message
    assert bead_status(town, bead) == "open"
    status = town.json("status")
    assert status["open_escalations"] >= 1 and status["active_runs"] == 0
    assert "open escalations: 1" in town.ok("status").out


def test_a_stalled_agent_is_stopped(town: Gt, store: Store) -> None:
    town.ok("config", "set", "polecat.stall_timeout_seconds", "1")
    town.ok("config", "set", "max_dispatch_attempts", "1")
    town.ok("up", "-d")
    bead = town.json("sling", "Hangs", "--body", script({"text": "thinking"}, {"hang": True}))["id"]
    until(lambda: bead_status(town, bead) == "failed", "the hung bead to fail")
    with store.reader() as tx:
        (run,) = tx.list_runs(bead_id=bead)
    assert run.status == "failed" and run.outcome is not None and "stalled" in run.outcome


def test_agents_runs_and_peek_show_the_story(town: Gt) -> None:
    town.ok("up", "-d")
    body = script(
        {"text": "Looking at the code"},
        {"write": "a.txt", "content": "a"},
        {"usage": {"input": 120, "output": 30}, "model": "claude-sonnet-4-5"},
    )
    bead = town.json("sling", "Tell a story", "--body", body)["id"]
    until(lambda: bead_status(town, bead) == "in_review", "the bead in review")
    (agent,) = town.json("agents")
    assert agent["state"] == "idle" and agent["run"]["bead_id"] == bead
    assert agent["run"]["tokens_in"] == 120 and agent["run"]["tokens_out"] == 30
    assert agent["run"]["cost_usd"] > 0  # priced from the table
    (run,) = town.json("runs", "--bead", bead)
    assert run["status"] == "succeeded"
    text = town.ok("peek", agent["name"]).out
    assert "Looking at the code" in text and "→ write" in text and "ended (ok, exit 0)" in text
    last = town.ok("peek", run["id"], "-n", "1").out.splitlines()
    assert len(last) == 2 and "ended (ok, exit 0)" in last[1]  # a header, then one event
    events = [json.loads(line) for line in town.ok("peek", run["id"], "--json").out.splitlines()]
    assert events[-1]["kind"] == "end"
    missing = town("peek", "nobody")
    assert missing.code == 1 and "no polecat or run 'nobody'" in missing.err


def test_demo_runs_from_nothing(tmp_path: Path) -> None:
    """`gt demo` in a fresh folder, with no town and no keys, ends with its convoy merged on
    the sample repository's main: reviewed, gated, landed, the dependent bead after its
    blocker; and with the forge loop closed on the fake GitHub: the issue's bead fixed through
    a pull request saying `Fixes #1`, reviewed there by the town, merged, the issue closed."""
    result = Gt(tmp_path).json("demo", "demo")
    assert [b["status"] for b in result["beads"]] == ["closed"] * 4
    assert [m["status"] for m in result["merge_requests"]] == ["merged"] * 4
    assert all(m["verdict"] == "approve" for m in result["merge_requests"])
    assert all(r["status"] == "succeeded" for r in result["runs"])
    sample = tmp_path / "demo" / "sample-app"
    assert "verbose mode" in (sample / "app.py").read_text()  # main's files, updated
    assert (sample / "CHANGELOG.md").exists()
    assert len(result["main"]) >= 4 and result["main"][-1].endswith("A sample app")
    loop = result["forge_loop"]
    assert loop["issue"]["state"] == "closed"
    assert any(loop["bead"]["id"] in comment for comment in loop["issue"]["comments"])
    pull = loop["pull_request"]
    assert pull["merged"] and "Fixes #1" in pull["body"]
    assert [(r["user"], r["state"]) for r in loop["reviews"]] == [("gastown", "COMMENTED")]
    bare = tmp_path / "demo" / "github" / "greeter.git"
    assert "Hello, {name}!" in run_git("show", "main:greeter.py", cwd=bare)
    assert pull["merge_commit_sha"] == run_git("rev-parse", "main", cwd=bare).strip()
    again = Gt(tmp_path)("demo", "demo")
    assert again.code == 1 and "already exists" in again.err


def test_people_stop_reset_and_nudge_agents(town: Gt, store: Store) -> None:
    town.ok("up", "-d")
    bead = town.json(
        "sling", "Takes forever", "--body", script({"text": "working"}, {"hang": True})
    )["id"]
    polecat = until(
        lambda: (
            town.json("bead", "show", bead)["assignee"]
            if bead_status(town, bead) == "in_progress"
            else None
        ),
        "the bead to be dispatched",
    )
    until(lambda: town.json("runs", "--bead", bead)[0]["status"] == "running", "it to run")
    nudged = town.json("nudge", polecat, "Please wrap up")
    assert nudged["delivered"] == "mail"
    stopped = town.json("agent", "stop", polecat)
    assert stopped["stopping"] is True
    until(lambda: town.json("bead", "show", bead)["held"], "the stopped bead to be held")
    (run,) = town.json("runs", "--bead", bead)
    assert run["status"] == "stopped" and "stop by tester" in run["outcome"]
    with store.reader() as tx:
        assert tx.get_dispatch(bead) == (0, None)  # a person's stop costs no attempt
    idle = town("agent", "stop", polecat)
    assert idle.code == 1 and "not working on anything" in idle.err
    assert town("agent", "stop", "nobody").code == 1
    kinds = [e["kind"] for e in town.json("events", "--limit", "0")]
    assert "agent.nudged" in kinds and "agent.stop" in kinds

    town.ok("bead", "update", bead, "--unhold")  # released: dispatched again, then reset
    until(
        lambda: (
            len(town.json("runs", "--bead", bead)) == 2
            and town.json("runs", "--bead", bead)[1]["status"] == "running"
        ),
        "a second run",
    )
    polecat = town.json("bead", "show", bead)["assignee"]
    assert town.json("agent", "reset", polecat)["stopping"] is True
    until(lambda: len(town.json("runs", "--bead", bead)) == 3, "the reset bead to run afresh")
    town.ok("down")


def test_twenty_beads_never_more_than_four_at_once(town: Gt, store: Store) -> None:
    town.ok("config", "set", "max_polecats_per_rig", "4")
    town.ok("up", "-d")
    body = script({"run": "sleep 0.2"}, {"write": "f.txt", "content": "f"})
    ids = [town.json("sling", f"Bead {i}", "--body", body)["id"] for i in range(20)]
    most = 0

    def done() -> bool:
        nonlocal most
        with store.reader() as tx:
            most = max(most, len(tx.list_runs(statuses=ACTIVE_RUN_STATUSES)))
            return all((b := tx.get_bead(i)) is not None and b.status == "in_review" for i in ids)

    until(done, "twenty beads in review")
    assert 1 <= most <= 4


def test_a_killed_town_process_loses_nothing(
    town: Gt, town_path: Path, store: Store, tmp_path: Path
) -> None:
    """SIGKILL the town process mid-run: the agent carries on, the next `gt up` adopts it,
    follows its output from where the transcript stopped, and finishes the run once."""
    import os
    import signal

    from gastown.townrun.state import alive

    marker = tmp_path / "started"
    body = script(
        {"text": "before the crash"},
        {"run": f"touch {marker}; sleep 3"},
        {"text": "after the crash"},
        {"write": "done.txt", "content": "finished by the same run"},
    )
    first = town.json("up", "-d")
    bead = town.json("sling", "Survives a crash", "--body", body)["id"]
    until(marker.exists, "the run to reach its long step")
    (run,) = town.json("runs", "--bead", bead)
    os.kill(first["pid"], signal.SIGKILL)
    until(lambda: not alive(first["pid"]), "the town process to die")
    assert run["pid"] and alive(run["pid"])  # the agent outlived its town

    town.ok("up", "-d")
    until(lambda: bead_status(town, bead) == "in_review", "the bead to finish after restart")
    (again,) = town.json("runs", "--bead", bead)  # the same run: nothing ran twice
    assert again["id"] == run["id"] and again["status"] == "succeeded"
    kinds = [e["kind"] for e in town.json("events", "--bead", bead, "--limit", "0")]
    assert "run.adopted" in kinds and kinds.count("run.started") == 1
    story = town.ok("peek", run["id"]).out
    assert story.count("before the crash") == 1 and "after the crash" in story
    with store.reader() as tx:
        assert tx.get_dispatch(bead) == (1, None)


def test_a_run_whose_agent_died_with_the_town_is_requeued(
    town: Gt, store: Store, tmp_path: Path
) -> None:
    """The agent is gone too: the run ends `lost`, its attempt is given back, and the bead
    runs again."""
    import os
    import signal

    from gastown.townrun.state import alive

    marker = tmp_path / "first-attempt"
    body = script(
        {"run": f"test -f {marker} || (touch {marker}; sleep 60)"},
        {"write": "done.txt", "content": "finished on the second run"},
    )
    first = town.json("up", "-d")
    bead = town.json("sling", "Loses its agent", "--body", body)["id"]
    until(marker.exists, "the first run to start its long step")
    (run,) = town.json("runs", "--bead", bead)
    os.kill(first["pid"], signal.SIGKILL)
    os.killpg(run["pid"], signal.SIGKILL)
    until(lambda: not alive(first["pid"]) and not alive(run["pid"]), "both to die")

    town.ok("up", "-d")
    until(lambda: bead_status(town, bead) == "in_review", "the bead to finish after restart")
    runs = town.json("runs", "--bead", bead)
    assert [r["status"] for r in runs] == ["lost", "succeeded"]
    with store.reader() as tx:
        assert tx.get_dispatch(bead) == (1, None)  # the lost run's attempt was given back


def test_a_convoy_that_lands_whole_works_on_its_feature_branch(
    town: Gt, town_path: Path, store: Store
) -> None:
    town.ok("up", "-d")
    body = script({"write": "part.txt", "content": "one part"})
    convoy = town.json(
        "convoy",
        "create",
        "Verbose Mode!",
        "--task",
        "Part one",
        "--merge-mode",
        "review-then-land",
    )
    (bead,) = [b["id"] for b in convoy["beads"]]
    town.ok("bead", "update", bead, "--body", body)
    until(lambda: bead_status(town, bead) == "in_review", "the convoy bead in review")
    with store.reader() as tx:
        (mr,) = tx.list_merge_requests(bead_id=bead)
    feature = f"convoy/verbose-mode/{convoy['id']}"
    assert mr.target == feature
    clone = town_path / "rigs" / "app"
    assert run_git("rev-parse", feature, cwd=clone).strip() == mr.base_commit
    assert mr.base_commit == run_git("rev-parse", "origin/trunk", cwd=clone).strip()


def test_gt_down_stops_agents_without_spending_attempts(town: Gt, store: Store) -> None:
    town.ok("up", "-d")
    bead = town.json("sling", "Interrupted", "--body", script({"hang": True}))["id"]
    until(
        lambda: (
            town.json("runs", "--bead", bead)
            and town.json("runs", "--bead", bead)[0]["status"] == "running"
        ),
        "the run to start",
    )
    town.ok("down")
    (run,) = town.json("runs", "--bead", bead)
    assert run["status"] == "stopped" and "the town process is stopping" in run["outcome"]
    shown = town.json("bead", "show", bead)
    assert shown["status"] == "open" and not shown["held"]
    with store.reader() as tx:
        assert tx.get_dispatch(bead) == (0, None)


def test_the_loop_runs_on_postgresql_too(tmp_path: Path, git_repo: Path, pg_url: str) -> None:
    Gt(tmp_path).ok("init", "pgtown", "--db", pg_url)
    gt = Gt(tmp_path / "pgtown")
    gt.ok("rig", "add", "app", str(git_repo))
    gt.ok("config", "set", "runtime", "scripted")
    gt.ok("up", "-d")
    try:
        bead = gt.json("sling", "Stored in PostgreSQL")["id"]
        until(lambda: bead_status(gt, bead) == "in_review", "the bead in review")
        (run,) = gt.json("runs", "--bead", bead)
        assert run["outcome"] == "merge request"
    finally:
        gt("down")
