"""The refinery against real git: a bare remote, the town's clone, branches made as polecats
make them, and refinery steps run as the town process runs them (`run_step`).

Merge requests are made here the way a finished run makes them (a branch in the rig's clone,
a bead `in_review`), so each test reads as the refinery's part of the story; the whole loop
with polecats is in tests/test_refinery_town.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from gastown.clock import FakeClock
from gastown.errors import Refused
from gastown.git import merge as gm
from gastown.refinery import queue
from gastown.refinery.step import rig_lock
from gastown.scripted.github import FakeGitHub
from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from gastown.services import status
from tests.builders import CALC, GATE, Yard, commit_all, github_seams, remote, show, verdict, yard
from tests.conftest import run_git

__all__ = ["remote", "yard"]  # the fixtures this module uses, which pytest finds here by name


def test_a_clean_branch_lands_by_fast_forward_and_closes_its_bead(yard: Yard) -> None:
    before = run_git("rev-parse", "trunk", cwd=yard.remote).strip()
    bead, mr = yard.submit("Add mul", {"calc.py": CALC + "\n\ndef mul(a, b):\n    return a * b\n"})
    done = yard.drain()
    assert done.landed == [mr]
    got = yard.mr(mr)
    # A fast-forward: the branch's one commit, made again only to name its bead.
    landed = run_git("rev-parse", "trunk", cwd=yard.remote).strip()
    assert got.status == "merged" and got.merged_commit == landed
    mine, theirs = show(yard.clone, landed), show(yard.clone, got.head_commit)
    assert mine[:3] == theirs[:3] and theirs[1] == before  # tree, parent, author and date
    assert mine[3] == "app/refinery" and mine[4] == f"Add mul\n\nGastown-Bead: {bead}"
    assert yard.remote_log()[0] == "Add mul"
    assert [g["ok"] for g in got.gates] == [True] and got.gates[0]["command"] == GATE
    assert yard.bead(bead)["status"] == "closed"
    kinds = [e["kind"] for e in yard.gt.json("events", "--bead", bead)]
    assert kinds[-3:] == ["mr.testing", "mr.merged", "bead.closed"]


def test_with_fast_forward_off_every_landing_is_a_merge_commit(yard: Yard) -> None:
    yard.gt.ok("config", "set", "refinery.fast_forward", "false")
    _, mr = yard.submit("Add notes", {"NOTES.md": "notes\n"})
    yard.drain()
    got = yard.mr(mr)
    assert got.status == "merged" and got.merged_commit != got.head_commit
    parents = run_git("log", "-1", "--format=%P", "trunk", cwd=yard.remote).split()
    assert len(parents) == 2 and parents[1] == got.head_commit
    assert run_git("log", "-1", "--format=%an", "trunk", cwd=yard.remote).strip() == "app/refinery"


def test_a_conflict_becomes_a_rework_bead_and_lands_once_resolved(yard: Yard) -> None:
    first_bead, first = yard.submit("Say hi", {"README.md": "hi\n"}, priority=1)
    second_bead, second = yard.submit("Say hello there", {"README.md": "hello there\n"})
    done = yard.drain()
    assert done.landed == [first] and done.reworked == [second]
    waiting = yard.mr(second)
    assert waiting.status == "rework" and waiting.rework_bead_id
    rework = yard.bead(waiting.rework_bead_id)
    assert rework["title"] == "Resolve conflicts: Say hello there"
    assert "README.md" in rework["body"] and "git merge origin/trunk" in rework["body"]
    assert rework["status"] == "open" and "conflict" in rework["labels"]
    assert yard.bead(second_bead)["status"] == "in_review"

    yard.rework(second, {"README.md": "hi, and hello there\n"}, merge_target=True)
    assert yard.mr(second).status == "open"
    assert yard.drain().landed == [second]
    assert yard.remote_file("README.md") == "hi, and hello there\n"
    assert yard.bead(second_bead)["status"] == "closed"
    assert yard.bead(first_bead)["status"] == "closed"
    assert yard.bead(waiting.rework_bead_id)["status"] == "closed"


def test_conflicts_escalate_instead_when_auto_resolve_is_off(yard: Yard) -> None:
    yard.gt.ok("config", "set", "refinery.auto_resolve_conflicts", "false")
    yard.submit("Say hi", {"README.md": "hi\n"}, priority=1)
    _, second = yard.submit("Say yo", {"README.md": "yo\n"})
    yard.drain()
    assert yard.mr(second).status == "held"
    (esc,) = yard.gt.json("escalations")
    assert second in esc["message"] and "conflicts with trunk" in esc["message"]
    ledger = yard.ledger()
    try:
        found = status.summary(ledger)  # what gt status and the mayor's town_status tell
    finally:
        ledger.store.close()
    assert [m.id for m in found.stuck] == [second] and found.merge_queue == {"held": 1}
    retried = yard.gt.json("mr", "retry", second)
    assert retried["status"] == "open"


def test_a_failing_gate_is_reworked_with_its_log_then_lands_when_fixed(yard: Yard) -> None:
    bead, mr = yard.submit("Speed up add", {"calc.py": "def add(a, b):\n    return a - b\n"})
    done = yard.drain()
    assert done.reworked == [mr] and done.landed == []
    got = yard.mr(mr)
    assert got.status == "rework" and got.gates[-1]["ok"] is False
    assert "add is broken" in got.gates[-1]["log_tail"]
    rework = yard.bead(str(got.rework_bead_id))
    assert rework["title"] == "Rework: Speed up add" and "add is broken" in rework["body"]
    assert yard.remote_log() == ["first"]  # nothing broken landed

    shown = yard.gt.ok("mr", "show", mr).out
    assert "FAILED" in shown and "add is broken" in shown
    assert "add is broken" in yard.gt.ok("mr", "log", mr).out

    yard.rework(mr, {"calc.py": CALC})
    assert yard.drain().landed == [mr]
    assert yard.bead(bead)["status"] == "closed"


def test_a_gate_failing_on_the_target_too_is_not_blamed(yard: Yard) -> None:
    yard.gt.ok("config", "set", "refinery.gates", json.dumps(["test -f LICENSE", GATE]))
    _, mr = yard.submit("Add docs", {"DOCS.md": "docs\n"})
    assert yard.drain().landed == [mr]
    got = yard.mr(mr)
    assert [g["excused"] for g in got.gates] == [True, False]
    bugs = [b for b in yard.gt.json("bead", "list") if b["title"].startswith("Gate fails on trunk")]
    assert len(bugs) == 1 and bugs[0]["type"] == "bug" and "test -f LICENSE" in bugs[0]["title"]

    yard.gt.ok("config", "set", "refinery.land_on_preexisting_failure", "false")
    _, held = yard.submit("More docs", {"MORE.md": "more\n"})
    yard.drain()
    assert yard.mr(held).status == "held"
    assert len([b for b in yard.gt.json("bead", "list") if b["title"].startswith("Gate")]) == 1


def test_a_batch_of_eight_with_one_bad_lands_seven_and_reworks_one(yard: Yard) -> None:
    yard.gt.ok("config", "set", "refinery.batch_size", "8")
    mrs = []
    for n in range(8):
        broken = n == 5
        text = "def add(a, b):\n    return 0\n" if broken else f"file {n}\n"
        name = "calc.py" if broken else f"f{n}.txt"
        mrs.append(yard.submit(f"Change {n}", {name: text})[1])
    done = yard.drain()
    assert sorted(done.landed) == sorted(m for i, m in enumerate(mrs) if i != 5)
    assert done.reworked == [mrs[5]]
    assert yard.mr(mrs[5]).status == "rework"
    subjects = yard.remote_log()
    assert not any("Change 5" in s for s in subjects)
    assert all(any(f"Change {n}" in s for s in subjects) for n in range(8) if n != 5)
    # Every commit on trunk passes the gate: nothing broken ever landed in between.
    for commit in run_git("rev-list", "--first-parent", "trunk", cwd=yard.remote).split():
        calc = run_git("show", f"{commit}:calc.py", cwd=yard.remote)
        assert "return a + b" in calc


def test_prefix_bisection_finds_the_first_bad_in_log_steps() -> None:
    tested: list[int] = []

    def passes(k: int) -> bool:
        tested.append(k)
        return k < 6

    assert queue.first_bad(8, passes) == 6
    assert len(tested) == 3
    assert queue.first_bad(1, passes) == 1


def test_a_push_the_remote_rejects_is_held_and_escalated(yard: Yard) -> None:
    hook = yard.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'trunk is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    _, mr = yard.submit("Add notes", {"NOTES.md": "notes\n"})
    done = yard.drain()
    assert done.held == [mr]
    got = yard.mr(mr)
    assert got.status == "held" and "trunk is protected" in str(got.note)
    (esc,) = yard.gt.json("escalations")
    assert esc["severity"] == "high" and "rejected" in esc["message"]
    assert yard.remote_log() == ["first"]


def test_pushes_take_only_a_commit_onto_a_branch_the_town_may_move(
    yard: Yard, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = run_git("rev-parse", "trunk", cwd=yard.clone).strip()
    refs = run_git("for-each-ref", cwd=yard.remote)
    to_trunk = f"{sha}:refs/heads/trunk"
    refused: list[tuple[list[str], tuple[str, ...]]] = [
        ([to_trunk], (flag,))
        for flag in ("--force", "--no-verify", "--force-with-lease", "--delete", "--mirror")
    ]
    refused += [
        ([], ()),
        (["--delete", "x"], ()),
        (["--force", "HEAD:main"], ()),
        (["--mirror"], ()),
        (["--force-with-lease", to_trunk], ()),
        (["HEAD:refs/heads/trunk"], ()),
        (["trunk"], ()),
        ([f"+{to_trunk}"], ()),
        ([f"+{sha}:refs/heads/main"], ()),
        ([":refs/heads/trunk"], ()),
        ([f"{sha[:12]}:refs/heads/trunk"], ()),
        ([f"{sha}:refs/tags/x"], ()),
        ([f"{sha}:refs/heads/someone-elses-branch"], ()),
        ([f"{sha}:refs/heads/main"], ()),
        ([f"{sha}:refs/heads/gt/../trunk"], ()),
        ([f"{sha}:refs/heads/gt/nux"], ()),
        ([f"{sha}:trunk"], ()),
        ([to_trunk, f"{sha}:refs/heads/release"], ()),
    ]
    with monkeypatch.context() as no_git:
        no_git.setenv("PATH", "")  # a refusal must come before git runs: git is not there
        for specs, flags in refused:
            with pytest.raises(Refused):
                gm.push(yard.clone, "origin", specs, *flags, target="trunk")
        with pytest.raises(Refused):
            gm.push(yard.clone, "--mirror", [to_trunk], target="trunk")
    assert run_git("for-each-ref", cwd=yard.remote) == refs  # the remote is as it was
    gm.push(yard.clone, "origin", [to_trunk, f"{sha}:refs/heads/gt/nux/gt-abc12"], target="trunk")
    gm.push(yard.clone, "origin", [f"{sha}:refs/heads/convoy/two-notes/gt-cv1"], target="trunk")
    assert run_git(
        "rev-parse", "gt/nux/gt-abc12", "convoy/two-notes/gt-cv1", cwd=yard.remote
    ).split() == [sha, sha]


def test_a_bead_closed_by_a_person_ends_its_merge_request(yard: Yard) -> None:
    bead, mr = yard.submit("Add notes", {"NOTES.md": "notes\n"})
    yard.gt.ok("bead", "close", bead, "--reason", "not wanted")
    yard.drain()
    assert yard.mr(mr).status == "failed"
    assert yard.remote_log() == ["first"]


def test_one_step_at_a_time_holds_a_rig(yard: Yard) -> None:
    with rig_lock(yard.town, "app") as mine:
        assert mine
        assert yard.step().busy
    assert not yard.step().busy


def test_gt_mq_lists_the_queue_in_order_and_gt_refinery_run_drains_it(yard: Yard) -> None:
    _, low = yard.submit("Low", {"low.txt": "low\n"}, priority=3)
    _, high = yard.submit("High", {"high.txt": "high\n"}, priority=0)
    rows = yard.gt.json("mq")
    assert [r["id"] for r in rows] == [high, low]
    assert rows[0]["status"] == "open" and rows[0]["gates"] == "-"
    assert "High" in yard.gt.ok("mq").out
    ran = yard.gt.json("refinery", "run")
    assert sorted(ran["landed"]) == sorted([high, low])
    assert yard.gt.json("mq") == []
    assert {r["status"] for r in yard.gt.json("mq", "--all")} == {"merged"}
    assert yard.gt("mq", "--rig", "nope").code == 1
    assert yard.gt("mr", "show", "mr-nope").code == 1
    assert yard.gt("mr", "retry", high).code == 1  # merged: nothing to retry


# --- review -------------------------------------------------------------------------------


@pytest.fixture
def reviewer(yard: Yard) -> Iterator[ScriptedModelServer]:
    server = ScriptedModelServer(
        parse(
            {
                "replies": [
                    verdict(
                        "request_changes",
                        "mul has no test",
                        [{"path": "calc.py", "line": 4, "body": "Add a test for mul."}],
                    ),
                    verdict("approve", "Tested now."),
                ]
            },
            source="review script",
        )
    )
    server.start()
    yard.gt.ok("config", "set", "refinery.code_review", "true")
    yard.gt.ok("config", "set", "model_base_url", server.base_url)
    yard.gt.ok("config", "set", "model_api_key", "sk-test")
    yard.gt.ok("config", "set", "role_models.refinery", "claude-haiku-4-5")
    yield server
    server.stop()


def test_review_asks_for_changes_then_approves_and_it_lands(
    yard: Yard, reviewer: ScriptedModelServer
) -> None:
    bead, mr = yard.submit("Add mul", {"calc.py": CALC + "\ndef mul(a, b):\n    return a * b\n"})
    done = yard.drain()
    assert done.reworked == [mr]
    got = yard.mr(mr)
    assert got.verdict == "changes" and got.review_cycles == 1
    assert got.review is not None and got.review["comments"][0]["path"] == "calc.py"
    rework = yard.bead(str(got.rework_bead_id))
    assert "calc.py:4: Add a test for mul." in rework["body"]
    sent = reviewer.requests[0].body
    prompt = json.dumps(sent)
    assert "Add mul" in prompt and "def mul" in prompt  # the bead and the diff

    yard.rework(mr, {"test_calc.py": "import calc\nassert calc.mul(2, 3) == 6\n"})
    assert yard.drain().landed == [mr]
    got = yard.mr(mr)
    assert got.verdict == "approve" and got.review is not None
    assert got.review["head"] == got.head_commit
    assert yard.bead(bead)["status"] == "closed"
    assert "mul has no test" in yard.gt.ok("mr", "show", mr).out


def test_too_many_review_rounds_hold_the_merge_request(
    yard: Yard, reviewer: ScriptedModelServer
) -> None:
    yard.gt.ok("config", "set", "refinery.max_review_cycles", "1")
    _, mr = yard.submit("Add mul", {"calc.py": CALC + "\ndef mul(a, b):\n    return a * b\n"})
    yard.drain()
    got = yard.mr(mr)
    assert got.status == "held" and got.review_cycles == 1
    (esc,) = yard.gt.json("escalations")
    assert "asked for changes 1 times" in esc["message"]


def test_a_reviewer_that_cannot_be_reached_holds_after_a_few_tries(yard: Yard) -> None:
    yard.gt.ok("config", "set", "refinery.code_review", "true")
    yard.gt.ok("config", "set", "model_base_url", "http://127.0.0.1:9")
    yard.gt.ok("config", "set", "model_api_key", "sk-test")
    yard.gt.ok("config", "set", "role_models.refinery", "claude-haiku-4-5")
    _, mr = yard.submit("Add notes", {"NOTES.md": "notes\n"})
    yard.drain()
    got = yard.mr(mr)
    assert got.status == "held" and got.attempts == 3
    assert "reviewer" in str(got.note)


# --- convoys that land together -----------------------------------------------------------


def test_a_review_then_land_convoy_lands_its_feature_branch_as_a_whole(yard: Yard) -> None:
    made = yard.gt.json(
        "convoy", "create", "Two notes", "--rig", "app", "--task", "Note A", "--task", "Note B"
    )
    convoy = made["id"]
    view = yard.gt.json("convoy", "show", convoy)
    ids = [b["id"] for b in view["beads"]]
    store = yard.town.open_store()
    with store.reader() as tx:
        record = tx.get_convoy(convoy)
    store.close()
    assert record is not None and record.merge_mode == "review-then-land"
    from gastown.services.convoys import feature_branch

    feature = feature_branch(record)
    _, a = yard.submit("Note A", {"a.txt": "a\n"}, target=feature, convoy=convoy, bead_id=ids[0])
    _, b = yard.submit("Note B", {"b.txt": "b\n"}, target=feature, convoy=convoy, bead_id=ids[1])
    done = yard.drain()
    assert a in done.landed and b in done.landed and len(done.landed) == 3
    assert run_git("show", f"{feature}:a.txt", cwd=yard.remote) == "a\n"
    landing = [m for m in yard.gt.json("mq", "--all") if m["kind"] == "landing"]
    assert len(landing) == 1 and landing[0]["status"] == "merged"
    assert landing[0]["branch"] == feature and landing[0]["target"] == "trunk"
    assert yard.remote_file("a.txt") == "a\n" and yard.remote_file("b.txt") == "b\n"
    assert yard.gt.json("convoy", "show", convoy)["status"] == "landed"


def test_a_review_and_merge_convoy_lands_each_bead_on_the_target(yard: Yard) -> None:
    made = yard.gt.json(
        "convoy", "create", "Two notes", "--rig", "app", "--task", "Note A",
        "--merge-mode", "review-and-merge",
    )  # fmt: skip
    convoy = made["id"]
    (bead,) = [b["id"] for b in yard.gt.json("convoy", "show", convoy)["beads"]]
    _, mr = yard.submit("Note A", {"a.txt": "a\n"}, convoy=convoy, bead_id=bead)
    assert yard.drain().landed == [mr]
    assert yard.remote_file("a.txt") == "a\n"
    assert yard.gt.json("convoy", "show", convoy)["status"] == "landed"


# --- pull requests ------------------------------------------------------------------------


def test_the_pr_strategy_opens_follows_fixes_up_and_auto_merges(yard: Yard) -> None:
    yard.gt.ok("config", "set", "merge_strategy", "pr")
    yard.gt.ok("config", "set", "refinery.auto_merge_delay_minutes", "5")
    yard.gt.ok("config", "set", "refinery.pr_poll_seconds", "30")
    clock = FakeClock()
    with FakeGitHub({"acme/app": yard.remote}, token="ghs-test") as fake:
        seams = github_seams(fake, clock)
        bead, mr = yard.submit(
            "Add mul", {"calc.py": CALC + "\ndef mul(a, b):\n    return a * b\n"}
        )
        yard.drain(seams)
        got = yard.mr(mr)
        assert got.status == "pr" and got.pr_number is not None
        assert got.pr_url == f"https://github.test/acme/app/pull/{got.pr_number}"
        assert run_git("rev-parse", got.branch, cwd=yard.remote).strip() == got.head_commit
        assert yard.remote_log() == ["first"]  # nothing lands before the pull request merges

        fake.add_review(
            got.pr_number,
            "COMMENTED",
            comments=[{"path": "calc.py", "line": 4, "body": "Name it multiply."}],
        )
        clock.advance(31)
        assert yard.drain(seams).reworked == [mr]
        fixup = yard.bead(str(yard.mr(mr).rework_bead_id))
        assert fixup["title"] == "Address pull request feedback: Add mul"
        assert "calc.py:4" in fixup["body"] and "Name it multiply." in fixup["body"]

        yard.rework(mr, {"calc.py": CALC + "\ndef multiply(a, b):\n    return a * b\n"})
        yard.drain(seams)
        got = yard.mr(mr)
        assert got.status == "pr" and len(fake.pulls) == 1  # the same pull request, updated
        assert run_git("rev-parse", got.branch, cwd=yard.remote).strip() == got.head_commit

        fake.set_check_run(got.branch, "ci", "completed", "success")
        clock.advance(31)
        yard.drain(seams)
        assert yard.mr(mr).pr_state["green_since"]  # green, waiting out the delay
        clock.advance(6 * 60)
        assert yard.drain(seams).landed == [mr]
        assert yard.bead(bead)["status"] == "closed"
        assert "def multiply" in yard.remote_file("calc.py")
        assert ("PUT", f"/repos/acme/app/pulls/{got.pr_number}/merge") in fake.requests

        other_bead, other = yard.submit("Add notes", {"NOTES.md": "notes\n"})
        yard.drain(seams)
        fake.close(int(yard.mr(other).pr_number or 0))
        clock.advance(31)
        yard.drain(seams)
        assert yard.mr(other).status == "failed"
        assert yard.bead(other_bead)["status"] == "failed"


def test_the_pr_strategy_without_a_token_holds_and_says_why(yard: Yard) -> None:
    yard.gt.ok("config", "set", "merge_strategy", "pr")
    _, mr = yard.submit("Add notes", {"NOTES.md": "notes\n"})
    yard.drain()
    got = yard.mr(mr)
    assert got.status == "held" and "GITHUB_TOKEN" in str(got.note)


def test_a_pull_request_that_stops_merging_cleanly_gets_a_conflict_bead(yard: Yard) -> None:
    yard.gt.ok("config", "set", "merge_strategy", "pr")
    clock = FakeClock()
    with FakeGitHub({"acme/app": yard.remote}, token="ghs-test") as fake:
        seams = github_seams(fake, clock)
        _, mr = yard.submit("Say hi", {"README.md": "hi\n"})
        yard.drain(seams)
        assert yard.mr(mr).status == "pr"
        other = yard.tmp / "someone"  # a person pushes a conflicting change to trunk
        run_git("clone", "-q", str(yard.remote), str(other), cwd=yard.tmp)
        (other / "README.md").write_text("hello, world\n")
        commit_all(other, "Reword the README")
        run_git("push", "-q", "origin", "trunk", cwd=other)
        clock.advance(120)
        assert yard.drain(seams).reworked == [mr]
        got = yard.mr(mr)
        assert got.status == "rework"
        assert yard.bead(str(got.rework_bead_id))["title"] == "Resolve conflicts: Say hi"


def test_a_merge_request_left_testing_by_a_step_that_died_is_taken_again(yard: Yard) -> None:
    _, mr = yard.submit("Add notes", {"NOTES.md": "notes\n"})
    ledger = yard.ledger()
    try:
        with ledger.store.transaction() as tx:
            got = tx.get_merge_request(mr)
            assert got is not None
            got.status = "testing"  # as a step killed mid-way leaves it
            tx.update_merge_request(got)
    finally:
        ledger.store.close()
    assert yard.drain().landed == [mr]
