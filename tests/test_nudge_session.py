"""A nudge reaches a running Claude Code session mid-turn.

The town starts Claude Code with `--input-format stream-json`: the prompt is the first message
on its stdin, which stays open while the agent works. The scripted model's first turn runs a
shell command that waits for a gate file; while it waits, `gt nudge` writes into the session,
and the model's second request carries the nudge beside the tool's result (Claude Code's "the
user sent a new message while you were working"). The gate is opened only after the nudge, so
the order is fixed without timing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from gastown.town import load
from tests.builders import bead_status, until
from tests.real_agent_story import polecats_on, real_cli_town, real_runtime

MODEL = "claude-sonnet-4-5"
NUDGE = "NUDGE-7: also mention the gate in NOTE.md"

pytestmark = pytest.mark.skipif(
    os.environ.get("GT_SKIP_REAL_AGENTS") == "1", reason="GT_SKIP_REAL_AGENTS=1 is set"
)


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    return tmp_path / "gate"


@pytest.fixture
def server(gate: Path) -> Iterator[ScriptedModelServer]:
    wait = f"while [ ! -f {gate} ]; do sleep 0.1; done; echo gated > NOTE.md; echo opened"
    script = parse(
        {
            "replies": [
                {
                    "model": MODEL,
                    "text": "Waiting for the gate.",
                    "tool_calls": [
                        {"name": "Bash", "arguments": {"command": wait, "description": "Wait"}}
                    ],
                },
                {"model": MODEL, "match": "NUDGE-7", "text": "Got the nudge mid-turn."},
                {"model": MODEL, "text": "No nudge reached me."},
                {"repeat": True, "text": "ok"},
            ]
        },
        source="the test script",
    )
    with ScriptedModelServer(script) as running:
        yield running


def test_a_nudge_goes_into_a_running_claude_code_session(
    tmp_path: Path, git_repo: Path, server: ScriptedModelServer, gate: Path
) -> None:
    real_runtime("claude")
    gt = real_cli_town(tmp_path, git_repo)
    polecats_on(gt, "claude", server, MODEL)
    gt.ok("up", "-d")
    try:
        bead = gt.json("sling", "Write a note once the gate opens", "--rig", "app")["id"]
        until(lambda: any(r.reply == 0 for r in server.requests), "the first turn")
        polecat = gt.json("bead", "show", bead)["assignee"]
        said = gt.ok("nudge", polecat, NUDGE).out
        assert "delivered into its running session" in said
        gate.write_text("open")
        until(lambda: bead_status(gt, bead) in ("in_review", "failed"), "the bead to finish")
        # The model's second request carried the nudge, beside the shell tool's result.
        answered = [r for r in server.requests if r.reply in (1, 2)]
        assert [r.reply for r in answered] == [1], [r.latest for r in answered]
        assert NUDGE in answered[0].latest and "opened" in answered[0].latest
        assert bead_status(gt, bead) == "in_review"
        (nudged,) = gt.json("events", "--kind", "agent.nudged")
        assert nudged["after"]["delivered"] == "session" and nudged["reason"] == NUDGE
        # Kept as mail, already read: `gt mail check` would not give it a second time.
        store = load(gt.cwd).open_store()
        with store.reader() as tx:
            (kept,) = tx.list_mail(polecat)
        store.close()
        assert kept.text == NUDGE and kept.read_at is not None
        idle = gt("nudge", polecat, "anyone there?")
        assert idle.code == 1 and "not working on anything" in idle.err
    finally:
        gt("down")
