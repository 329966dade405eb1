"""Retries that remember: a bead's next attempt is told what the earlier ones came to (their
outcome and reason, their last lines, their checkpoint, the gate that failed their work) and
continues on the work they left (`polecat.retry_from = previous`), or starts afresh (`fresh`);
a rework is told what the work it changes was for. A real town process, the scripted runtime,
real git; the ledger on both backends."""

from __future__ import annotations

import json
from pathlib import Path

from gastown.model import MR_REWORK, MergeRequest, Rig, Run
from gastown.polecat.context import load_prompt_context
from gastown.polecat.earlier import retry_branch
from gastown.polecat.prompt import render
from gastown.record import replace
from gastown.runtimes.scripted import script_for
from gastown.store import Store, open_store
from tests.builders import at, bead, bead_status, script, store, town, until
from tests.conftest import Gt, run_git

__all__ = ["store", "town"]  # fixtures

# The first attempt commits half the work, saves a checkpoint, says why it gives up and exits
# 3; an attempt that finds that work finishes it.
HALF_THEN_FINISH = script(
    {"text": "Looking at the parser"},
    {
        "run": "if [ -f first.txt ]; then echo two > second.txt; else "
        'echo one > first.txt && git add -A && git commit -qm "Half the fix ($GT_RUN_ID)" '
        '&& gt checkpoint \'{"step": "first.txt written"}\' >/dev/null '
        "&& echo 'tests/test_parser.py still fails' && exit 3; fi"
    },
    {"text": "Finished the parser fix"},
)


def prompt_of(town_path: Path, run: Run) -> str:
    return (town_path / "logs" / "runs" / run.id / "prompt.md").read_text()


def test_a_retry_is_told_why_the_first_attempt_failed_and_continues_its_work(
    town: Gt, town_path: Path, store: Store
) -> None:
    town.ok("config", "set", "polecat.retry_backoff_seconds", "0")
    town.ok("up", "-d")
    bead_id = town.json("sling", "Fix the parser", "--body", HALF_THEN_FINISH)["id"]
    until(lambda: bead_status(town, bead_id) == "in_review", "the second attempt's merge request")

    with store.reader() as tx:
        first, second = tx.list_runs(bead_id=bead_id)
        (mr,) = tx.list_merge_requests(bead_id=bead_id)
    assert (first.status, first.outcome, first.checkpoint) == (
        "failed",
        "exit 3",
        {"step": "first.txt written"},
    )
    told = prompt_of(town_path, second).split("# Earlier attempts at this bead")[1]
    told = told.split("# How to finish")[0]
    assert f"- Attempt 1 (run {first.id}, {first.polecat}, ended " in told
    assert "UTC): failed, exit 3." in told
    assert "✗ tests/test_parser.py still fails" in told  # its last lines, the reason it gave
    assert '{"step": "first.txt written"}' in told  # its checkpoint
    assert f"your branch {first.branch} already has these commits" in told
    assert f"Half the fix ({first.id})" in told
    assert "# Earlier attempts" not in prompt_of(town_path, first)

    # The second attempt worked on the first one's branch, on top of its commit.
    assert second.branch == first.branch == mr.branch and mr.run_id == second.id
    clone = town_path / "rigs" / "app"
    log = run_git("log", "--format=%s", f"{mr.base_commit}..{mr.head_commit}", cwd=clone)
    assert f"Half the fix ({first.id})" in log.splitlines()
    tree = run_git("ls-tree", "--name-only", mr.head_commit, cwd=clone).split()
    assert {"first.txt", "second.txt"} <= set(tree)


def test_with_retry_from_fresh_a_retry_starts_clean_on_a_branch_of_its_own(
    town: Gt, town_path: Path, store: Store
) -> None:
    town.ok("config", "set", "polecat.retry_backoff_seconds", "0")
    town.ok("config", "set", "max_dispatch_attempts", "2")
    town.ok("config", "set", "polecat.retry_from", "fresh")
    town.ok("up", "-d")
    bead_id = town.json("sling", "Fix the parser", "--body", HALF_THEN_FINISH)["id"]
    until(lambda: bead_status(town, bead_id) == "failed", "both attempts to fail")

    with store.reader() as tx:
        first, second = tx.list_runs(bead_id=bead_id)
    assert first.outcome == second.outcome == "exit 3"  # each found no first.txt: a clean start
    assert second.branch != first.branch
    clone = town_path / "rigs" / "app"
    log = run_git("log", "--format=%s", second.branch, cwd=clone)
    assert f"Half the fix ({second.id})" in log and first.id not in log
    told = prompt_of(town_path, second)
    assert "UTC): failed, exit 3." in told
    assert f"You start afresh from trunk on {second.branch}, because this town's " in told


def test_the_branch_a_retry_takes(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.transaction() as tx:
            tx.insert_rig(Rig("app", "/srv/app", "trunk", "rigs/app", at(0), {}))
            tx.insert_beads([bead("gt-a", rig="app"), bead("gt-b", rig="app")])
            assert retry_branch(tx, "gt-a", "alder", "previous") == "gt/alder/gt-a"
            tx.insert_run(ended("r-1", "gt-a", "alder", "gt/alder/gt-a"))
            # Another polecat takes up alder's branch; `fresh` cuts its own, never alder's.
            assert retry_branch(tx, "gt-a", "birch", "previous") == "gt/alder/gt-a"
            assert retry_branch(tx, "gt-a", "birch", "fresh") == "gt/birch/gt-a"
            assert retry_branch(tx, "gt-a", "alder", "fresh") == "gt/alder/attempt-2/gt-a"
            # Work a merge request took (and the refinery turned down) is not continued.
            tx.insert_run(ended("r-2", "gt-b", "alder", "gt/alder/gt-b"))
            tx.insert_merge_request(
                MergeRequest("mr-1", "gt-b", "r-2", "app", "gt/alder/gt-b", "trunk", "a", "b",
                             status="failed")
            )  # fmt: skip
            assert retry_branch(tx, "gt-b", "alder", "previous") == "gt/alder/attempt-2/gt-b"
    finally:
        store.close()


def ended(run_id: str, bead_id: str, polecat: str, branch: str) -> Run:
    return Run(run_id, bead_id, polecat, "app", "scripted", branch, f"worktrees/app/{polecat}",
               status="failed", outcome="exit 1", created_at=at(1), ended_at=at(2))  # fmt: skip


def test_a_rework_prompt_carries_the_original_bead_and_the_comments(db_url: str) -> None:
    original_body = "Make `add` faster.\n\n" + script({"write": "calc.py", "content": "x"})
    comments = "The reviewer asked for changes:\n\ncalc.py:2: this subtracts."
    store = open_store(db_url)
    try:
        with store.transaction() as tx:
            tx.insert_rig(Rig("app", "/srv/app", "trunk", "rigs/app", at(0), {}))
            tx.insert_beads(
                [
                    bead("gt-orig", rig="app", title="Make add faster", body=original_body),
                    bead("gt-fix", rig="app", title="Rework: Make add faster", body=comments),
                ]
            )
            tx.insert_merge_request(
                MergeRequest("mr-1", "gt-orig", None, "app", "gt/alder/gt-orig", "trunk", "a",
                             "b", status=MR_REWORK, rework_bead_id="gt-fix")
            )  # fmt: skip
            run = Run("r-1", "gt-fix", "birch", "app", "scripted", "gt/alder/gt-orig", "w")
            tx.insert_run(run)
        with store.reader() as tx:
            ctx = load_prompt_context(tx, run)
    finally:
        store.close()
    text = render(ctx.prompt("", ""))
    rework = text.split("# This is rework")[1].split("# How to finish")[0]
    assert "calc.py:2: this subtracts." in text.split("# This is rework")[0]  # the comments
    assert "The refinery sent merge request mr-1 back; its work is on your branch." in rework
    assert 'That work is bead gt-orig, "Make add faster", which asked for:' in rework
    assert "> Make `add` faster." in rework
    # Quoted, the original bead's own script is not the one the scripted agent plays.
    assert json.loads(script_for(text))[0]["text"].startswith("Scripted agent")


def test_a_retry_after_turned_down_work_is_told_the_gate_and_review_within_the_budget(
    tmp_path: Path,
) -> None:
    from gastown.polecat.earlier import BUDGET, Attempt, Start, section

    tail = "\n".join(f"line {n}" for n in range(30)) + "\nFAILED tests/test_cli.py::test_verbose"
    gate = {"command": "make test", "ok": False, "exit": 2, "log_tail": tail}
    mr = MergeRequest("mr-1", "gt-a", "r-1", "app", "gt/alder/gt-a", "trunk", "a", "b",
                      status="failed", note="its pull request #4 was closed without merging",
                      verdict="changes", review={"summary": "The flag is never parsed."},
                      gates=[gate])  # fmt: skip
    first = Attempt(ended("r-1", "gt-a", "alder", "gt/alder/gt-a"), mr)
    second = Run("r-2", "gt-a", "alder", "app", "scripted", "gt/alder/attempt-2/gt-a", "w",
                 attempt=2)  # fmt: skip
    told = section(tmp_path, second, [first], Start(second.branch, "trunk", []))
    assert "its merge request mr-1 is failed (its pull request #4 was closed" in told
    assert "The gate `make test` failed its merge request (exit 2)" in told
    assert "    FAILED tests/test_cli.py::test_verbose" in told and "line 17" not in told
    assert "The reviewer asked for changes: The flag is never parsed." in told
    assert "afresh from trunk on gt/alder/attempt-2/gt-a, because a merge request already " in told

    # However long the history, the section stays within its budget.
    many = [
        Attempt(replace(ended(f"r-{n}", "gt-a", "alder", "b"), attempt=n, outcome="x" * 900,
                        checkpoint={"notes": "y" * 5000}))
        for n in range(1, 31)
    ]  # fmt: skip
    told = section(tmp_path, replace(second, attempt=31), many, Start("b", "trunk", ["c"] * 40))
    assert len(told) <= BUDGET and "(20 older attempts not listed.)" in told
    assert section(tmp_path, second, [], Start("b", "trunk", [])) == ""
