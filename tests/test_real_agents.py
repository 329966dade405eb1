"""The real Claude Code and opencode CLIs, driven through our adapters, against the scripted model.

`make install` puts pinned versions of both in .tools/ (see .tools/package.json). Each test runs
the real program as the supervisor would: `build` gives argv, environment and folder; the program
runs in a real git worktree with stdin closed, talks to a `ScriptedModelServer` instead of a
hosted model, calls its own file-writing tool, and our parser reads what it prints. These tests
are what proves the adapters against the programs, not only against recorded streams.

Agent CLIs also send side requests (opencode asks a small model for a session title): the
agent's own replies are tied to its model, and a reply that is never used up answers the rest.
Set GT_SKIP_REAL_AGENTS=1 to skip them on a machine without the CLIs; CI never sets it.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gastown.errors import UserError
from gastown.git import worktree as wt
from gastown.runtimes.base import AgentRuntime, LaunchRequest, write_files
from gastown.runtimes.events import Cost, End, Event, Text, ToolCall, ToolResult, Usage, totals
from gastown.runtimes.registry import runtime
from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from tests.conftest import run_git

TOOLS_BIN = Path(__file__).resolve().parent.parent / ".tools" / "node_modules" / ".bin"
PATH = os.pathsep.join([str(TOOLS_BIN), os.environ.get("PATH", "")])
TIMEOUT = 180  # seconds; generous, since a cold start on a busy CI machine can be slow
CONTENT = "Hello from a real agent CLI.\n"

pytestmark = pytest.mark.skipif(
    os.environ.get("GT_SKIP_REAL_AGENTS") == "1", reason="GT_SKIP_REAL_AGENTS=1 is set"
)


def real_runtime(name: str) -> AgentRuntime:
    """The adapter, once its pinned program is installed; a missing program fails the test.
    Only .tools is searched, so a different version elsewhere on PATH is never tested instead."""
    try:
        return runtime(name, path=str(TOOLS_BIN))
    except UserError:
        pytest.fail(
            f"The real `{name}` CLI is not installed in {TOOLS_BIN}: run `make install`, "
            "which installs the pinned agent CLIs with npm (or set GT_SKIP_REAL_AGENTS=1)."
        )


@pytest.fixture
def worktree(git_repo: Path, tmp_path: Path) -> Path:
    """A polecat worktree on its own branch, as a run gets it."""
    clone = tmp_path / "rig"
    run_git("clone", "-q", str(git_repo), str(clone), cwd=tmp_path)
    path = tmp_path / "polecats" / "nux"
    wt.prepare(clone, path, "gt/nux/gt-e2e", "trunk", wt.polecat_identity("rig", "nux"))
    return path


def script(model: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The agent's two turns (call the write tool, then say it is done), and a catch-all."""
    return {
        "replies": [
            {
                "model": model,
                "text": "I'll create the file.",
                "tool_calls": [{"name": tool, "arguments": arguments}],
                "usage": {"input_tokens": 100, "output_tokens": 10},
            },
            {
                "model": model,
                "text": "Created hello.txt.",
                "usage": {"input_tokens": 120, "output_tokens": 8},
            },
            {"repeat": True, "text": "Create hello.txt"},
        ]
    }


def run_agent(
    agent: AgentRuntime, request: LaunchRequest, home: Path
) -> tuple[list[Event], subprocess.CompletedProcess[str]]:
    """Start the program as the supervisor does and parse everything it printed."""
    spec = agent.build(request)
    write_files(spec)
    home.mkdir()
    town = home.parent / "town"  # the supervisor's own folder, which the agent must not use
    town.mkdir()
    # A home of its own: the CLIs keep sessions and settings there, and must not read ours.
    isolated = {
        "PWD": str(town),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "DISABLE_AUTOUPDATER": "1",  # Claude Code must not replace the pinned program
    }
    done = subprocess.run(
        spec.argv,
        cwd=spec.cwd,
        env={**os.environ, "PATH": PATH, **isolated, **spec.env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    parser = agent.parser(request)
    events = [e for line in done.stdout.splitlines() for e in parser.feed(line)]
    return events + parser.finish(done.returncode), done


def check_run(
    events: list[Event],
    done: subprocess.CompletedProcess[str],
    server: ScriptedModelServer,
    tool: str,
    worktree: Path,
) -> None:
    """The story every real agent must tell: it wrote the file, said so, and counted tokens."""
    out, err = done.stdout[-4000:], done.stderr[-4000:]
    shown = f"exit {done.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    assert (worktree / "hello.txt").read_text() == CONTENT, shown
    end = events[-1]
    assert isinstance(end, End), shown
    assert end.ok and end.exit_status == 0, shown
    assert end.summary == "Created hello.txt."
    assert "I'll create the file." in "".join(e.text for e in events if isinstance(e, Text))
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [c.tool for c in calls] == [tool]
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [r.call_id for r in results] == [calls[0].call_id]
    assert not results[0].is_error
    assert any(isinstance(e, Usage) for e in events)
    spent = totals(events)
    assert (spent.input_tokens, spent.output_tokens) == (220, 18)
    assert spent.cost_usd is not None
    # Both of the agent's turns reached the server, in order, whatever side requests came too.
    answered = [r.reply for r in server.requests if r.reply in (0, 1)]
    assert answered == [0, 1]
    assert server.script.remaining == 1  # only the catch-all is left


def test_claude_code_writes_a_file_through_the_scripted_model(
    worktree: Path, tmp_path: Path
) -> None:
    agent = real_runtime("claude")
    model = "claude-sonnet-4-5"
    arguments = {"file_path": str(worktree / "hello.txt"), "content": CONTENT}
    with ScriptedModelServer(parse(script(model, "Write", arguments))) as server:
        request = LaunchRequest(
            prompt="Create hello.txt with a greeting.",
            worktree=worktree,
            model=model,
            base_url=server.base_url,
            api_key="sk-scripted",
        )
        events, done = run_agent(agent, request, tmp_path / "home")
    check_run(events, done, server, "Write", worktree)
    assert all(r.path.startswith("/v1/messages") for r in server.requests)


def test_opencode_writes_a_file_through_the_scripted_model(worktree: Path, tmp_path: Path) -> None:
    agent = real_runtime("opencode")
    arguments = {"filePath": "hello.txt", "content": CONTENT}  # relative: the worktree's
    with ScriptedModelServer(parse(script("gpt-4.1", "write", arguments))) as server:
        request = LaunchRequest(
            prompt="Create hello.txt with a greeting.",
            worktree=worktree,
            model="openai/gpt-4.1",
            base_url=server.openai_base_url,
            api_key="sk-scripted",
        )
        events, done = run_agent(agent, request, tmp_path / "home")
    check_run(events, done, server, "write", worktree)
    assert not (tmp_path / "town" / "hello.txt").exists()
    # opencode's openai provider speaks the Responses API.
    assert {r.api for r in server.requests} == {"responses"}


def test_gemini_cli_writes_a_file_through_the_scripted_model(
    worktree: Path, tmp_path: Path
) -> None:
    agent = real_runtime("gemini")
    model = "gemini-2.5-pro"
    arguments = {"file_path": str(worktree / "hello.txt"), "content": CONTENT}
    run_dir = tmp_path / "run"
    with ScriptedModelServer(parse(script(model, "write_file", arguments))) as server:
        request = LaunchRequest(
            prompt="Create hello.txt with a greeting.",
            worktree=worktree,
            model=model,
            base_url=server.base_url,  # the base URL alone made Gemini CLI 0.61 exit 41
            api_key="scripted-key",
            run_dir=run_dir,
        )
        events, done = run_agent(agent, request, tmp_path / "home")
    check_run(events, done, server, "write_file", worktree)
    # Gemini reports no cost: it comes from the price table.
    assert [e.source for e in events if isinstance(e, Cost)] == ["table"]
    assert {r.path for r in server.requests} == {f"/v1beta/models/{model}:streamGenerateContent"}
    # Its settings and sessions stay in the run's private folder, not in the user's ~/.gemini.
    assert stat.S_IMODE((run_dir / "gemini").stat().st_mode) == 0o700
    assert not (tmp_path / "home" / ".gemini").exists()
    run_git("add", "hello.txt", cwd=worktree)
    run_git("commit", "-q", "-m", "Add hello.txt", cwd=worktree)
    assert run_git("status", "--porcelain", cwd=worktree).strip() == ""


def test_codex_writes_and_commits_in_its_sandbox_through_the_scripted_model(
    worktree: Path, tmp_path: Path
) -> None:
    agent = real_runtime("codex")
    model = "gpt-5"  # any model Codex has no built-in metadata for gets the plain `tools` list
    # One call of Codex's shell tool writes the file and commits it, as an agent would.
    command = f"printf '{CONTENT.strip()}\\n' > hello.txt && git add hello.txt"
    command += " && git commit -q -m 'Add hello.txt'"
    arguments = {"cmd": command}
    identity = wt.polecat_identity("rig", "nux")
    with ScriptedModelServer(parse(script(model, "exec_command", arguments))) as server:
        request = LaunchRequest(
            prompt="Create hello.txt with a greeting and commit it.",
            worktree=worktree,
            model=model,
            base_url=server.openai_base_url,
            api_key="sk-scripted",
            env_vars=identity.env(),  # the supervisor gives every agent its polecat's identity
            writable=wt.commit_folders(worktree),  # as the town does before each run
        )
        events, done = run_agent(agent, request, tmp_path / "home")
    check_run(events, done, server, "shell", worktree)
    # The sandbox let the agent's own commit through, with its message, on the run's branch.
    log = run_git("log", "-1", "--format=%s|%an", "gt/nux/gt-e2e", cwd=worktree).strip()
    assert log == f"Add hello.txt|{identity.name}"
    assert run_git("status", "--porcelain", cwd=worktree).strip() == ""
    results = [e for e in events if isinstance(e, ToolResult)]
    assert "Read-only file system" not in results[0].output
    assert {r.api for r in server.requests} == {"responses"}
    # ...and that was inside the sandbox, not around it.
    turn = server.requests[0].body["client_metadata"]["x-codex-turn-metadata"]
    assert '"sandbox_mode":"workspace-write"' in turn


def test_kilo_writes_a_file_through_the_scripted_model(worktree: Path, tmp_path: Path) -> None:
    agent = real_runtime("kilo")
    arguments = {"filePath": "hello.txt", "content": CONTENT}  # relative: the worktree's
    with ScriptedModelServer(parse(script("gpt-4.1", "write", arguments))) as server:
        request = LaunchRequest(
            prompt="Create hello.txt with a greeting.",
            worktree=worktree,
            model="openai/gpt-4.1",
            base_url=server.openai_base_url,
            api_key="sk-scripted",
        )
        events, done = run_agent(agent, request, tmp_path / "home")
    check_run(events, done, server, "write", worktree)
    assert not (tmp_path / "town" / "hello.txt").exists()
    # Kilo reports each step's cost itself; its openai provider speaks the Responses API.
    assert {getattr(e, "source", "") for e in events if e.kind == "cost"} == {"cli"}
    assert {r.api for r in server.requests} == {"responses"}
