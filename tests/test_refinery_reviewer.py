"""The reviewer as an agent (`refinery.reviewer = agent`): the rig's runtime reads the change in
a worktree of its own and ends with its verdict as one JSON object.

The scripted runtime takes its script from the review instructions (`custom_instructions.
refinery` carries a `gt-script` block), so each test says what the reviewer does and the story
is the refinery's. The built-in agent and Claude Code review against the scripted model server.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gastown.refinery.review_agent import AgentReviewer, last_verdict
from gastown.refinery.step import Seams
from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from tests.builders import CALC, Yard, remote, yard
from tests.builders.programs import program
from tests.conftest import run_git
from tests.real_agent_story import PATH, real_runtime

__all__ = ["remote", "yard"]  # the Yard's fixtures, which pytest finds here by name

MUL = CALC + "\ndef mul(a, b):\n    return a * b\n"
CHANGES = {
    "decision": "request_changes",
    "summary": "mul has no test",
    "comments": [{"path": "calc.py", "line": 4, "body": "Add a test for mul."}],
}
APPROVE = {"decision": "approve", "summary": "Tested now.", "comments": []}


def said(verdict: dict[str, Any]) -> str:
    """A reviewer's last message: a line of prose, then the verdict."""
    return "I read calc.py and the diff.\n" + json.dumps(verdict)


def review_by(yard: Yard, *steps: dict[str, Any]) -> None:
    """The scripted runtime reviews, doing `steps` (the instructions carry its script)."""
    script = json.dumps(list(steps))
    yard.gt.ok("config", "set", "custom_instructions.refinery", f"```gt-script\n{script}\n```")


@pytest.fixture
def agent_review(yard: Yard) -> Yard:
    yard.gt.ok("config", "set", "refinery.code_review", "true")
    yard.gt.ok("config", "set", "refinery.reviewer", "agent")
    yard.gt.ok("config", "set", "runtime", "scripted")
    return yard


def reviews(yard: Yard, mr: str) -> list[Path]:
    """The folders the reviewer agent's runs of `mr` left under the steps' logs, oldest first."""
    return sorted(
        (yard.path / "logs" / "refinery" / "app").glob(f"*/{mr}"), key=lambda p: p.parent.name
    )


def review_worktrees(yard: Yard) -> list[str]:
    listed = run_git("worktree", "list", "--porcelain", cwd=yard.clone)
    return [line for line in listed.splitlines() if "gt-review-" in line]


def reviewed_events(yard: Yard, bead: str) -> list[dict[str, Any]]:
    return [e for e in yard.gt.json("events", "--bead", bead) if e["kind"] == "mr.reviewed"]


def test_the_agent_asks_for_changes_then_approves_and_it_lands(agent_review: Yard) -> None:
    yard = agent_review
    usage = {"usage": {"input": 300, "output": 40}, "model": "claude-haiku-4-5"}
    review_by(yard, {"run": "grep -q 'def mul' calc.py"}, usage, {"text": said(CHANGES)})
    bead, mr = yard.submit("Add mul", {"calc.py": MUL})
    done = yard.drain()
    assert done.reworked == [mr]
    got = yard.mr(mr)
    assert got.verdict == "changes" and got.review_cycles == 1
    assert got.review is not None and got.review["summary"] == "mul has no test"
    rework = yard.bead(str(got.rework_bead_id))
    assert "calc.py:4: Add a test for mul." in rework["body"]
    (first,) = reviews(yard, mr)
    prompt = (first / "prompt.md").read_text()
    assert "Add mul" in prompt and "+def mul" in prompt  # the bead and the diff
    assert "Change no file" in prompt and '"decision"' in prompt
    transcript = (first / "transcript.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in transcript][-2:] == ["text", "end"]
    assert review_worktrees(yard) == []  # the reviewer's checkout is gone

    yard.rework(mr, {"test_calc.py": "import calc\nassert calc.mul(2, 3) == 6\n"})
    review_by(yard, {"run": "test -f test_calc.py"}, usage, {"text": said(APPROVE)})
    assert yard.drain().landed == [mr]
    got = yard.mr(mr)
    assert got.verdict == "approve" and got.review is not None
    assert got.review["head"] == got.head_commit and got.review["summary"] == "Tested now."
    assert yard.bead(bead)["status"] == "closed"
    assert yard.remote_file("test_calc.py").startswith("import calc")
    (approved,) = reviewed_events(yard, bead)
    assert approved["after"]["input_tokens"] == 300 and approved["after"]["output_tokens"] == 40
    assert len(reviews(yard, mr)) == 2 and review_worktrees(yard) == []


APPROVED = {"text": said(APPROVE)}


@pytest.mark.parametrize(
    ("steps", "why"),
    [
        ([{"text": "Looks fine to me."}], "ended without a verdict: 'Looks fine to me.'"),
        ([APPROVED, {"exit": 3}], "failed (exit 3)"),
        ([{"hang": True}], "took longer than 1 s and was stopped"),
        (
            [{"write": "calc.py", "content": "def add(a, b):\n    return 0\n"}, APPROVED],
            "changed the worktree it was to read: calc.py",
        ),
        (
            [
                {"run": "git -c user.name=R -c user.email=r@x commit -q --allow-empty -m Mine"},
                APPROVED,
            ],
            "changed the worktree it was to read: a new commit",
        ),
    ],
    ids=["no verdict", "non-zero exit", "timeout", "edits a file", "commits"],
)
def test_a_reviewer_agent_without_a_usable_verdict_is_held_after_a_few_tries(
    agent_review: Yard, steps: list[dict[str, Any]], why: str
) -> None:
    yard = agent_review
    if steps == [{"hang": True}]:
        yard.gt.ok("config", "set", "refinery.gate_timeout_seconds", "1")
    review_by(yard, *steps)
    _, mr = yard.submit("Add mul", {"calc.py": MUL})
    head = yard.mr(mr).head_commit
    yard.drain()
    got = yard.mr(mr)
    assert got.status == "held" and got.attempts == 3 and got.verdict is None
    assert why in str(got.note)
    assert yard.remote_log() == ["first"]
    assert run_git("rev-parse", got.branch, cwd=yard.clone).strip() == head
    assert len(reviews(yard, mr)) == 3 and review_worktrees(yard) == []


def test_a_review_without_a_usable_verdict_still_counts_what_it_spent(agent_review: Yard) -> None:
    """Each failed try is kept as the reviewer's spend on the bead, with its tokens."""
    yard = agent_review
    usage = {"usage": {"input": 300, "output": 40}, "model": "claude-haiku-4-5"}
    review_by(yard, usage, {"text": "Looks fine to me."})
    bead, mr = yard.submit("Add mul", {"calc.py": MUL})
    yard.drain()
    assert yard.mr(mr).status == "held"
    (reviewer,) = yard.gt.json("costs", "--by", "agent", "--rig", "app")["rows"]
    assert reviewer["key"] == "reviewer" and reviewer["calls"] == 3
    assert (reviewer["tokens_in"], reviewer["tokens_out"]) == (900, 120)
    assert yard.gt.json("bead", "show", bead)["spend"]["calls"] == 3


def test_the_builtin_agent_reads_the_change_and_approves_it(agent_review: Yard) -> None:
    yard = agent_review
    read = {"name": "read_file", "arguments": {"path": "calc.py"}}
    verdict = {"decision": "approve", "summary": "mul is right."}
    script = {
        "replies": [
            {"tool_calls": [read], "usage": {"input_tokens": 500, "output_tokens": 30}},
            {
                "text": f"Fine.\n\n```json\n{json.dumps(verdict)}\n```",
                "usage": {"input_tokens": 700, "output_tokens": 50},
            },
        ]
    }
    with ScriptedModelServer(parse(script, source="the review script")) as server:
        for key, value in (
            ("runtime", "builtin"),
            ("role_models.refinery", "claude-haiku-4-5"),
            ("model_base_url", server.base_url),
            ("model_api_key", "sk-test"),
        ):
            yard.gt.ok("config", "set", key, value)
        bead, mr = yard.submit("Add mul", {"calc.py": MUL})
        assert yard.drain().landed == [mr]
    got = yard.mr(mr)
    assert got.verdict == "approve" and got.review is not None
    assert got.review["summary"] == "mul is right."
    first, second = (r.body for r in server.requests)
    assert first["model"] == "claude-haiku-4-5"
    assert "Add mul" in first["messages"][0]["content"]
    assert "def mul" in json.dumps(second["messages"][-1])  # it read the change's own calc.py
    (approved,) = reviewed_events(yard, bead)
    assert approved["after"]["input_tokens"] == 1200 and approved["after"]["output_tokens"] == 80
    assert review_worktrees(yard) == []
    reviewer = {r["key"]: r for r in yard.gt.json("costs", "--by", "agent")["rows"]}["reviewer"]
    assert reviewer["tokens_in"] == 1200 and reviewer["usd"] > 0  # its spend is counted


@pytest.mark.skipif(
    os.environ.get("GT_SKIP_REAL_AGENTS") == "1", reason="GT_SKIP_REAL_AGENTS=1 is set"
)
def test_claude_code_reviews_a_change_through_the_scripted_model(agent_review: Yard) -> None:
    yard = agent_review
    real_runtime("claude")  # fails with "run make install" if the pinned CLI is missing
    model = "claude-sonnet-4-5"
    home = yard.tmp / "home"
    home.mkdir()
    script = {
        "replies": [
            {
                "model": model,
                "text": said(CHANGES),
                "usage": {"input_tokens": 900, "output_tokens": 60},
            },
            {"repeat": True, "text": "ok"},
        ]
    }
    environ = {**os.environ, "PATH": PATH, "HOME": str(home), "DISABLE_AUTOUPDATER": "1"}
    seams = Seams(reviewer=lambda settings: AgentReviewer(settings, environ))
    with ScriptedModelServer(parse(script, source="the review script")) as server:
        for key, value in (
            ("runtime", "claude"),
            ("role_models.refinery", model),
            ("model_base_url", server.base_url),
            ("model_api_key", "sk-test"),
        ):
            yard.gt.ok("config", "set", key, value)
        _, mr = yard.submit("Add mul", {"calc.py": MUL})
        done = yard.drain(seams)
    got = yard.mr(mr)
    assert done.reworked == [mr], got.note
    assert got.verdict == "changes" and got.review is not None
    assert got.review["comments"] == [{"path": "calc.py", "line": 4, "body": "Add a test for mul."}]
    asked = [r for r in server.requests if r.reply == 0]
    assert len(asked) == 1 and "Add mul" in json.dumps(asked[0].body["messages"])
    (folder,) = reviews(yard, mr)
    assert '"type":"result"' in (folder / "stdout.log").read_text().replace(" ", "")
    assert review_worktrees(yard) == []


def test_the_verdict_is_the_last_json_object_with_a_decision() -> None:
    text = (
        'First {"decision": "request_changes", "summary": "old"} then {"other": 1}, and\n'
        '```json\n{"decision": "approve", "summary": "s", "comments": [{"body": "b"}]}\n```\n'
        "{not json"
    )
    assert last_verdict(text) == {
        "decision": "approve",
        "summary": "s",
        "comments": [{"body": "b"}],
    }
    assert last_verdict("no object here") is None
    assert last_verdict('{"summary": "no decision"}') is None


def test_a_review_in_progress_ends_at_once_when_the_refinery_stops(agent_review: Yard) -> None:
    """Given a reviewer agent that would run for minutes, when the refinery is told to stop
    while it reviews, then the agent is killed within moments, its checkout is removed, and
    the merge request waits in the queue again with no attempt counted."""
    yard = agent_review
    yard.gt.ok("config", "set", "refinery.gate_timeout_seconds", "600")
    review_by(yard, {"hang": True})
    _, mr = yard.submit("Add mul", {"calc.py": MUL})
    seams = Seams()
    stepping = threading.Thread(target=yard.step, args=(seams,))
    began = time.monotonic()
    stepping.start()
    while not reviews(yard, mr) or not (reviews(yard, mr)[0] / "stdout.log").exists():
        assert time.monotonic() - began < 60, "the reviewer agent never started"
        time.sleep(0.05)
    seams.stop.set()
    stepping.join(timeout=30)
    assert not stepping.is_alive()
    got = yard.mr(mr)
    assert (got.status, got.attempts, got.verdict) == ("open", 0, None)
    assert review_worktrees(yard) == []
    assert yard.remote_log() == ["first"]


def test_a_reviewer_agent_that_cannot_run_on_the_settings_is_never_started(
    agent_review: Yard,
) -> None:
    yard = agent_review
    fake_bin = yard.tmp / "bin"
    program(fake_bin, "codex", "codex-cli 0.171.0")
    environ = {**os.environ, "PATH": os.pathsep.join([str(fake_bin), os.environ["PATH"]])}
    seams = Seams(reviewer=lambda settings: AgentReviewer(settings, environ))
    yard.gt.ok("config", "set", "runtime", "codex")
    with ScriptedModelServer(parse({"replies": [{"text": "unused"}]})) as server:
        yard.gt.ok("config", "set", "model_base_url", server.openai_base_url)
        _, mr = yard.submit("Add mul", {"calc.py": MUL})
        yard.drain(seams)
    got = yard.mr(mr)
    assert got.status == "held" and got.verdict is None
    assert "default_model (or role_models.refinery) is empty" in str(got.note)
    assert server.requests == [] and not (fake_bin / "codex.ran").exists()
