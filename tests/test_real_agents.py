"""The five real agent CLIs, driven through our adapters, against the scripted model.

`make install` puts pinned versions of Claude Code, Codex, opencode, Kilo CLI and Gemini CLI in
.tools/ (see .tools/package.json). Each test runs the real program as the supervisor would:
`build` gives argv, environment and folder; the program runs in a real git worktree with stdin
closed, talks to a `ScriptedModelServer` instead of a hosted model, writes hello.txt with its own
file-writing tool, commits it with its own shell tool, and replies; our parser reads what it
prints (tests/real_agent_story.py holds that story and its checks). These tests are what proves
the adapters against the programs, not only against recorded streams.

Set GT_SKIP_REAL_AGENTS=1 to skip them on a machine without the CLIs; CI never sets it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.real_agent_story import COMMIT, CONTENT, Story, check_story, make_worktree, tell

pytestmark = pytest.mark.skipif(
    os.environ.get("GT_SKIP_REAL_AGENTS") == "1", reason="GT_SKIP_REAL_AGENTS=1 is set"
)


@pytest.fixture
def worktree(git_repo: Path, tmp_path: Path) -> Path:
    return make_worktree(git_repo, tmp_path)


def test_claude_code_writes_commits_and_replies(worktree: Path, tmp_path: Path) -> None:
    story = Story(
        model="claude-sonnet-4-5",
        write_tool="Write",
        write_args={"file_path": str(worktree / "hello.txt"), "content": CONTENT},
        shell_tool="Bash",
        shell_args={"command": COMMIT, "description": "Commit hello.txt"},
    )
    server, events, done = tell("claude", story, worktree, tmp_path, "base_url", api_key="sk-s")
    check_story(story, events, done, server, worktree, cost_source="cli")
    assert all(r.path.startswith("/v1/messages") for r in server.requests)


def test_opencode_writes_commits_and_replies(worktree: Path, tmp_path: Path) -> None:
    story = Story(
        model="gpt-4.1",
        launch_model="openai/gpt-4.1",
        write_tool="write",
        write_args={"filePath": "hello.txt", "content": CONTENT},  # relative: the worktree's
        shell_tool="bash",
        shell_args={"command": COMMIT, "description": "Commit hello.txt"},
    )
    server, events, done = tell(
        "opencode", story, worktree, tmp_path, "openai_base_url", api_key="sk-s"
    )
    check_story(story, events, done, server, worktree, cost_source="cli")
    assert not (tmp_path / "town" / "hello.txt").exists()
    assert {r.api for r in server.requests} == {"responses"}  # its openai provider's API


def test_kilo_writes_commits_and_replies(worktree: Path, tmp_path: Path) -> None:
    story = Story(
        model="gpt-4.1",
        launch_model="openai/gpt-4.1",
        write_tool="write",
        write_args={"filePath": "hello.txt", "content": CONTENT},  # relative: the worktree's
        shell_tool="bash",
        shell_args={"command": COMMIT, "description": "Commit hello.txt"},
    )
    server, events, done = tell("kilo", story, worktree, tmp_path, "openai_base_url", api_key="s")
    check_story(story, events, done, server, worktree, cost_source="cli")
    assert not (tmp_path / "town" / "hello.txt").exists()
    assert {r.api for r in server.requests} == {"responses"}


def test_gemini_cli_writes_commits_and_replies(worktree: Path, tmp_path: Path) -> None:
    story = Story(
        model="gemini-2.5-pro",
        write_tool="write_file",
        write_args={"file_path": str(worktree / "hello.txt"), "content": CONTENT},
        shell_tool="run_shell_command",
        shell_args={"command": COMMIT, "description": "Commit hello.txt"},
    )
    run_dir = tmp_path / "run"
    # The base URL alone made Gemini CLI 0.61 exit 41; the adapter selects the API-key sign-in.
    server, events, done = tell(
        "gemini", story, worktree, tmp_path, "base_url", api_key="scripted", run_dir=run_dir
    )
    check_story(story, events, done, server, worktree, cost_source="table")  # tokens only
    path = f"/v1beta/models/{story.model}:streamGenerateContent"
    assert {r.path for r in server.requests} == {path}
    # Its settings and sessions stay in the run's private folder, not in the user's ~/.gemini.
    assert stat.S_IMODE((run_dir / "gemini").stat().st_mode) == 0o700
    assert not (tmp_path / "home" / ".gemini").exists()


def test_codex_writes_and_commits_in_its_sandbox_and_replies(
    worktree: Path, tmp_path: Path
) -> None:
    # Codex sends a model it has no built-in metadata for (here gpt-5) the plain `tools` list,
    # which has no apply_patch: its shell tool, exec_command, is how it writes files too.
    story = Story(
        model="gpt-5",
        write_tool="exec_command",
        write_args={"cmd": f"printf '{CONTENT.strip()}\\n' > hello.txt"},
        shell_tool="exec_command",
        shell_args={"cmd": COMMIT},
        parsed_write="shell",
        parsed_shell="shell",
    )
    server, events, done = tell("codex", story, worktree, tmp_path, "openai_base_url", api_key="s")
    results = check_story(story, events, done, server, worktree, cost_source="table")
    # The sandbox let the agent's own commit through ...
    assert "Read-only file system" not in results[1].output
    assert {r.api for r in server.requests} == {"responses"}
    # ...and that was inside the sandbox, not around it.
    turn = server.requests[0].body["client_metadata"]["x-codex-turn-metadata"]
    assert '"sandbox_mode":"workspace-write"' in turn
