"""The loop with a real agent: `gt up -d`, `gt sling`, and Claude Code does the work.

Claude Code (pinned, installed into .tools by `make install`) runs as a polecat in its own
worktree, talking to the scripted model server through the settings `model_base_url` and
`model_api_key`; the bead reaches `in_review` with a branch holding its commit, and `gt agents`,
`gt peek` and `gt events` tell the story.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from tests.builders import bead_status, until
from tests.conftest import run_git
from tests.real_agent_story import polecats_on, real_cli_town, real_runtime

MODEL = "claude-sonnet-4-5"

pytestmark = pytest.mark.skipif(
    os.environ.get("GT_SKIP_REAL_AGENTS") == "1", reason="GT_SKIP_REAL_AGENTS=1 is set"
)


@pytest.fixture
def server() -> Iterator[ScriptedModelServer]:
    script = parse(
        {
            "replies": [
                {
                    "model": MODEL,
                    "text": "I'll add the greeting file.",
                    "tool_calls": [
                        {
                            "name": "Write",
                            "arguments": {
                                "file_path": "GREETING.md",
                                "content": "Hello from a polecat.\n",
                            },
                        }
                    ],
                    "usage": {"input_tokens": 900, "output_tokens": 40},
                },
                {
                    "model": MODEL,
                    "text": "Added GREETING.md.",
                    "usage": {"input_tokens": 950, "output_tokens": 12},
                },
                {"repeat": True, "text": "ok"},
            ]
        },
        source="the test script",
    )
    with ScriptedModelServer(script) as running:
        yield running


def test_claude_code_works_a_slung_bead(
    tmp_path: Path, git_repo: Path, server: ScriptedModelServer
) -> None:
    real_runtime("claude")  # fails with "run make install" if the pinned CLI is missing
    gt = real_cli_town(tmp_path, git_repo)
    town_path = gt.cwd
    polecats_on(gt, "claude", server, MODEL)
    gt.ok("up", "-d")
    try:
        bead = gt.json("sling", "Add a greeting file", "--rig", "app")["id"]
        until(lambda: bead_status(gt, bead) in ("in_review", "failed"), "the bead to finish")
        assert bead_status(gt, bead) == "in_review", gt.ok("events", "--bead", bead).out
        (run,) = gt.json("runs", "--bead", bead)
        assert run["runtime"] == "claude" and run["outcome"] == "merge request"
        assert run["tokens_out"] == 52 and run["cost_usd"] > 0
        clone = town_path / "rigs" / "app"
        files = run_git("show", "--name-only", "--format=%an", run["branch"], cwd=clone)
        assert f"app/polecat/{run['polecat']}" in files and "GREETING.md" in files
        worktree = town_path / "worktrees" / "app" / run["polecat"]
        assert (worktree / "GREETING.md").read_text() == "Hello from a polecat.\n"
        (agent,) = gt.json("agents")
        assert agent["name"] == run["polecat"] and agent["state"] == "idle"
        story = gt.ok("peek", run["polecat"]).out
        assert "→ Write" in story and "Added GREETING.md." in story
        kinds = [e["kind"] for e in gt.json("events", "--bead", bead, "--limit", "0")]
        assert kinds[-2:] == ["mr.created", "bead.status_changed"]
        assert any(r.path.endswith("/messages") for r in server.requests)
    finally:
        gt("down")
