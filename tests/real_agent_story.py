"""The one story every real agent CLI is made to tell against the scripted model, and its checks.

Turn 1 the model calls the CLI's own file-writing tool to create hello.txt; turn 2 it calls the
CLI's shell tool to `git add hello.txt && git commit -m "Add hello.txt"`; turn 3 it replies. The
checks then read the worktree (the file, the agent's commit on the run's branch as the polecat,
a clean tree) and what our parser made of the CLI's output (tool calls and their results, text,
the end, usage and cost).

Agent CLIs also send side requests (opencode asks a small model for a session title): the
agent's own replies are tied to its model, and a reply that is never used up answers the rest.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
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
from tests.conftest import Gt, run_git

TOOLS_BIN = Path(__file__).resolve().parent.parent / ".tools" / "node_modules" / ".bin"
PATH = os.pathsep.join([str(TOOLS_BIN), os.environ.get("PATH", "")])
TIMEOUT = 180  # seconds; generous, since a cold start on a busy CI machine can be slow
CONTENT = "Hello from a real agent CLI.\n"
COMMIT = 'git add hello.txt && git commit -m "Add hello.txt"'
BRANCH = "gt/nux/gt-e2e"
IDENTITY = wt.polecat_identity("rig", "nux")
PROMPT = "Create hello.txt with a greeting and commit it."
REPLY = "Created hello.txt and committed it."


@dataclass
class Story:
    """How one CLI tells the story: its model, and its write and shell tools with arguments
    as the CLI's own tool schema names them. `parsed_*` are the names our parser reports when
    they differ from the wire name (Codex's `exec_command` is reported as `shell`)."""

    model: str
    write_tool: str
    write_args: dict[str, Any]
    shell_tool: str
    shell_args: dict[str, Any]
    parsed_write: str = ""
    parsed_shell: str = ""
    launch_model: str = ""  # the model setting, when it differs from the wire name
    usage: list[tuple[int, int]] = field(default_factory=lambda: [(100, 10), (120, 12), (140, 8)])

    def script(self) -> dict[str, Any]:
        (in1, out1), (in2, out2), (in3, out3) = self.usage
        turn = {"model": self.model}
        return {
            "replies": [
                {
                    **turn,
                    "text": "I'll create the file.",
                    "tool_calls": [{"name": self.write_tool, "arguments": self.write_args}],
                    "usage": {"input_tokens": in1, "output_tokens": out1},
                },
                {
                    **turn,
                    "text": "Now I'll commit it.",
                    "tool_calls": [{"name": self.shell_tool, "arguments": self.shell_args}],
                    "usage": {"input_tokens": in2, "output_tokens": out2},
                },
                {**turn, "text": REPLY, "usage": {"input_tokens": in3, "output_tokens": out3}},
                {"repeat": True, "text": "Create hello.txt"},
            ]
        }


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


def make_worktree(git_repo: Path, tmp_path: Path) -> Path:
    """A polecat worktree on its own branch, as a run gets it."""
    clone = tmp_path / "rig"
    run_git("clone", "-q", str(git_repo), str(clone), cwd=tmp_path)
    path = tmp_path / "polecats" / "nux"
    wt.prepare(clone, path, BRANCH, "trunk", IDENTITY)
    return path


def request(worktree: Path, model: str, base_url: str, **more: Any) -> LaunchRequest:
    """The launch as the town makes it: the polecat's identity in the environment, and the
    folders a commit writes given to a sandboxed agent."""
    return LaunchRequest(
        prompt=PROMPT,
        worktree=worktree,
        model=model,
        base_url=base_url,
        env_vars=IDENTITY.env(),
        writable=wt.commit_folders(worktree),
        **more,
    )


def run_agent(
    agent: AgentRuntime, launch: LaunchRequest, home: Path
) -> tuple[list[Event], subprocess.CompletedProcess[str]]:
    """Start the program as the supervisor does and parse everything it printed."""
    spec = agent.build(launch)
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
    parser = agent.parser(launch)
    events = [e for line in done.stdout.splitlines() for e in parser.feed(line)]
    return events + parser.finish(done.returncode), done


def check_story(
    story: Story,
    events: list[Event],
    done: subprocess.CompletedProcess[str],
    server: ScriptedModelServer,
    worktree: Path,
    cost_source: str,
) -> list[ToolResult]:
    """The story told in full; `cost_source` is `cli` when the CLI reports its cost, `table`
    when it comes from our price table. Gives the tool results for CLI-specific checks."""
    out, err = done.stdout[-4000:], done.stderr[-4000:]
    shown = f"exit {done.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    # The worktree: the file, committed by the agent as the polecat, and nothing left over.
    assert (worktree / "hello.txt").read_text() == CONTENT, shown
    log = run_git("log", "-1", "--format=%s|%an|%ae", BRANCH, cwd=worktree).strip()
    assert log == f"Add hello.txt|{IDENTITY.name}|{IDENTITY.email}", shown
    changed = run_git("show", "--name-only", "--format=", BRANCH, cwd=worktree).split()
    assert changed == ["hello.txt"]
    assert run_git("status", "--porcelain", cwd=worktree).strip() == "", shown
    # The events: two tool calls each with its result, the text, and a clean end.
    end = events[-1]
    assert isinstance(end, End), shown
    assert end.ok and end.exit_status == 0, shown
    assert end.summary == REPLY
    said = "".join(e.text for e in events if isinstance(e, Text))
    assert "I'll create the file." in said and "Now I'll commit it." in said
    calls = [e for e in events if isinstance(e, ToolCall)]
    names = [story.parsed_write or story.write_tool, story.parsed_shell or story.shell_tool]
    assert [c.tool for c in calls] == names, shown
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [r.call_id for r in results] == [c.call_id for c in calls]
    assert not any(r.is_error for r in results), [r.output for r in results]
    # Usage and cost: every scripted turn's tokens counted once, and a cost from where we say.
    assert any(isinstance(e, Usage) for e in events)
    spent = totals(events)
    tokens_in, tokens_out = sum(i for i, _ in story.usage), sum(o for _, o in story.usage)
    assert (spent.input_tokens, spent.output_tokens) == (tokens_in, tokens_out)
    assert spent.cost_usd is not None and spent.cost_usd > 0
    assert {e.source for e in events if isinstance(e, Cost)} == {cost_source}
    # All three of the agent's turns reached the server, in order, whatever side requests came.
    answered = [r.reply for r in server.requests if r.reply in (0, 1, 2)]
    assert answered == [0, 1, 2]
    assert server.script.remaining == 1  # only the catch-all is left
    return results


def tell(
    name: str, story: Story, worktree: Path, tmp_path: Path, base_url: str, **more: Any
) -> tuple[ScriptedModelServer, list[Event], subprocess.CompletedProcess[str]]:
    """Run CLI `name` through `story` against a scripted model server; `base_url` picks the
    server's address for the CLI's API (`base_url` or `openai_base_url`)."""
    agent = real_runtime(name)
    with ScriptedModelServer(parse(story.script())) as server:
        model = story.launch_model or story.model
        launch = request(worktree, model, getattr(server, base_url), **more)
        events, done = run_agent(agent, launch, tmp_path / "home")
    return server, events, done


def polecats_on(gt: Gt, runtime_name: str, server: ScriptedModelServer, model: str) -> None:
    """Set the town's polecats to `runtime_name` on `model` at `server`, with the refinery
    left alone so the merge request stays queued for the test to look at."""
    for key, value in (
        ("runtime", runtime_name),
        ("default_model", model),
        ("model_base_url", server.base_url),
        ("model_api_key", "sk-test"),
        ("refinery.auto", "false"),
    ):
        gt.ok("config", "set", key, value)


def real_cli_town(tmp_path: Path, git_repo: Path) -> Gt:
    """A town with rig `app` whose processes find the pinned CLIs in .tools first and keep
    their home (and the CLIs' own settings) in the test's folder."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "GT_ACTOR": "tester",
        "HOME": str(home),
        "DISABLE_AUTOUPDATER": "1",
        "PATH": os.pathsep.join([str(TOOLS_BIN), os.environ.get("PATH", "")]),
    }
    Gt(tmp_path, env).ok("init", "town")
    gt = Gt(tmp_path / "town", env)
    gt.ok("rig", "add", "app", str(git_repo))
    return gt
