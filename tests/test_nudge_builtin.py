"""A nudge reaches the built-in agent at its next tool call.

The built-in agent asks the town for its polecat's unread mail after each tool call and adds it
to that call's result. The scripted model's first turn runs a shell command that waits for a
gate file; while it waits, `gt nudge` queues the message, and once the gate opens the model's
second request carries it beside the command's output. The gate opens only after the nudge, so
the order is fixed without timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from tests.builders import bead_status, until
from tests.conftest import Gt
from tests.real_agent_story import polecats_on

MODEL = "claude-sonnet-4-5"
NUDGE = "NUDGE-9: also mention the gate in NOTE.md"


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
                    "text": "Waiting for the gate.",
                    "tool_calls": [{"name": "shell", "arguments": {"command": wait}}],
                },
                {
                    "match": "NUDGE-9",
                    "tool_calls": [{"name": "finish", "arguments": {"summary": "Got it."}}],
                },
                {"text": "No nudge reached me."},
                {"repeat": True, "text": "ok"},
            ]
        },
        source="the test script",
    )
    with ScriptedModelServer(script) as running:
        yield running


def test_a_nudge_reaches_the_builtin_agent_with_its_next_tool_result(
    rig_gt: Gt, server: ScriptedModelServer, gate: Path
) -> None:
    gt = rig_gt
    polecats_on(gt, "builtin", server, MODEL)
    gt.ok("up", "-d")
    try:
        bead = gt.json("sling", "Write a note once the gate opens", "--rig", "app")["id"]
        until(lambda: any(r.reply == 0 for r in server.requests), "the first turn")
        polecat = gt.json("bead", "show", bead)["assignee"]
        said = gt.ok("nudge", polecat, NUDGE).out
        assert "delivered at its next tool call" in said
        gate.write_text("open")
        until(lambda: bead_status(gt, bead) in ("in_review", "failed"), "the bead to finish")
        # The model's second request carried the nudge after the shell command's output.
        answered = [r for r in server.requests if r.reply in (1, 2)]
        assert [r.reply for r in answered] == [1], [r.latest for r in answered]
        assert "opened" in answered[0].latest
        assert f": {NUDGE}" in answered[0].latest and "Message from " in answered[0].latest
        assert bead_status(gt, bead) == "in_review"
        (nudged,) = gt.json("events", "--kind", "agent.nudged")
        assert nudged["after"]["delivered"] == "tool" and nudged["reason"] == NUDGE
        # Taken once, as mail: the checks that found nothing wrote nothing.
        (checked,) = gt.json("events", "--kind", "mail.checked")
        assert checked["after"]["ids"] == [nudged["after"]["mail"]]
    finally:
        gt("down")
