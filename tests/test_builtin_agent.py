"""The built-in runtime, for real: our agent as a subprocess, started from the adapter's
ProcessSpec in a real git worktree, talking to the scripted model server over HTTP with the
official Anthropic and OpenAI SDKs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gastown.runtimes.base import LaunchRequest
from gastown.runtimes.builtin import BuiltinRuntime
from gastown.runtimes.builtin_models import api_for
from gastown.runtimes.builtin_tools import TOOLS, Call, perform
from gastown.runtimes.events import Cost, End, Error, Event, ToolCall, ToolResult, Usage, totals
from gastown.runtimes.registry import REGISTRY, runtime
from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from tests.conftest import run_git

E = TypeVar("E", bound=Event)


def of(events: list[Event], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


@pytest.fixture
def worktree(git_repo: Path, tmp_path: Path) -> Path:
    """A polecat's worktree on its own branch; README.md says `hello`."""
    path = tmp_path / "polecats" / "nux"
    run_git("worktree", "add", "-q", "-b", "gt/nux/gt-7", str(path), cwd=git_repo)
    return path


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def serve(*replies: dict[str, Any]) -> ScriptedModelServer:
    return ScriptedModelServer(parse({"replies": list(replies)}))


def run_agent(
    worktree: Path, tmp_path: Path, base_url: str, api: str, **changes: Any
) -> list[Event]:
    """Build the process through the adapter, run it to its end, parse what it printed."""
    values: dict[str, Any] = {
        "prompt": "Greet the world.",
        "worktree": worktree,
        "model": "claude-sonnet-4-5",
        "base_url": base_url,
        "api_key": "sk-test",
        "env_vars": {"GT_BUILTIN_API": api},
        "run_dir": tmp_path / "run",
    }
    values.update(changes)
    request = LaunchRequest(**values)
    rt = REGISTRY["builtin"]
    spec = rt.build(request)
    parser = rt.parser(request)
    for path, text in spec.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    with subprocess.Popen(
        spec.argv,
        cwd=spec.cwd,
        env={**os.environ, **spec.env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        events = [e for line in proc.stdout for e in parser.feed(line)]
    return events + parser.finish(proc.returncode)


def test_the_adapter_starts_our_agent_with_settings_in_its_environment(tmp_path: Path) -> None:
    request = LaunchRequest(
        "A long prompt " * 10_000,
        tmp_path / "wt",
        model="qwen3-coder",
        base_url="http://127.0.0.1:11434/v1",
        api_key="sk-x",
        env_vars={"GT_BUILTIN_MAX_STEPS": "5"},
        run_dir=tmp_path / "run",
    )
    spec = BuiltinRuntime().build(request)
    prompt = tmp_path / "run" / "prompt.md"
    # The prompt travels in a file: an argument that long would be refused.
    module = "gastown.runtimes.builtin_agent"
    assert spec.argv == [sys.executable, "-m", module, "--prompt-file", str(prompt)]
    assert spec.files == {prompt: request.prompt}
    assert spec.cwd == tmp_path / "wt"
    assert spec.env["GT_BUILTIN_MODEL"] == "qwen3-coder"
    assert spec.env["GT_BUILTIN_BASE_URL"] == "http://127.0.0.1:11434/v1"
    assert spec.env["GT_BUILTIN_API_KEY"] == "sk-x"
    assert spec.env["GT_BUILTIN_MAX_STEPS"] == "5"
    assert runtime("builtin", path=str(tmp_path)) is REGISTRY["builtin"]


def test_the_api_follows_the_model_and_base_url_unless_told() -> None:
    assert api_for("claude-sonnet-4-5", "") == "anthropic"
    assert api_for("anthropic/claude-haiku-4-5", "https://openrouter.ai/api/v1") == "anthropic"
    assert api_for("", "https://api.anthropic.com") == "anthropic"
    assert api_for("", "") == "anthropic"
    assert api_for("qwen3-coder", "http://127.0.0.1:11434/v1") == "openai"
    assert api_for("gpt-5", "") == "openai"


def test_anthropic_the_agent_writes_a_file_runs_a_command_and_answers(
    worktree: Path, tmp_path: Path
) -> None:
    usage = {"input_tokens": 100, "output_tokens": 20}
    server = serve(
        {"text": "Writing it.", "tool_calls": [call("write_file", path="hi.txt", content="hi\n")]},
        {"tool_calls": [call("shell", command="cat hi.txt && echo $GT_DEMO")], "usage": usage},
        {"text": "hi.txt says hi.", "usage": usage},
    )
    with server:
        events = run_agent(
            worktree,
            tmp_path,
            server.base_url,
            "anthropic",
            env_vars={"GT_BUILTIN_API": "anthropic", "GT_DEMO": "demo"},
        )

    assert (worktree / "hi.txt").read_text() == "hi\n"
    assert [e.kind for e in events] == [
        "start",
        *("usage", "cost", "text", "tool_call", "tool_result"),
        *("usage", "cost", "tool_call", "tool_result"),
        *("usage", "cost", "text"),
        "end",
    ]
    calls, results = of(events, ToolCall), of(events, ToolResult)
    assert calls[0].tool == "write_file" and calls[0].input == {"path": "hi.txt", "content": "hi\n"}
    assert [r.call_id for r in results] == [c.call_id for c in calls]
    assert results[1].output == "Exit code 0.\nhi\ndemo\n"
    assert not any(r.is_error for r in results)
    assert len(of(events, Usage)) == 3 and totals(events).input_tokens == 200
    assert totals(events).cost_usd == pytest.approx(2 * (100 * 3 + 20 * 15) / 1e6)
    end = events[-1]
    assert isinstance(end, End) and end.ok and end.exit_status == 0
    assert end.summary == "hi.txt says hi." and end.session_id.startswith("builtin-")

    # What the model was sent: the tools, then each tool result paired with its call.
    first, second, third = (r.body for r in server.requests)
    assert [t["name"] for t in first["tools"]] == list(TOOLS)
    assert first["model"] == "claude-sonnet-4-5" and "worktree" in first["system"]
    assert first["messages"] == [{"role": "user", "content": "Greet the world."}]
    sent = second["messages"][-1]["content"][0]
    assert sent["type"] == "tool_result" and sent["tool_use_id"] == calls[0].call_id
    assert sent["content"].startswith("Wrote hi.txt") and sent["is_error"] is False
    assert second["messages"][1]["content"][1]["type"] == "tool_use"
    assert third["messages"][-1]["content"][0]["content"] == "Exit code 0.\nhi\ndemo\n"


def test_openai_the_agent_edits_an_existing_file_and_finishes(
    worktree: Path, tmp_path: Path
) -> None:
    server = serve(
        {"tool_calls": [call("edit_file", path="README.md", old="hello", new="hello, world")]},
        {"tool_calls": [call("shell", command="cat README.md")]},
        {"text": "All done.", "tool_calls": [call("finish", summary="Greeted the world.")]},
    )
    with server:
        events = run_agent(worktree, tmp_path, server.openai_base_url, "openai", model="scripted")

    assert (worktree / "README.md").read_text() == "hello, world\n"
    assert run_git("status", "--porcelain", cwd=worktree) == " M README.md\n"
    results = of(events, ToolResult)
    assert [r.output for r in results] == [
        "Edited README.md.",
        "Exit code 0.\nhello, world\n",
        "Finished.",
    ]
    assert of(events, Cost) == []  # the scripted model has no price
    end = events[-1]
    assert isinstance(end, End) and end.ok and end.exit_status == 0
    assert end.summary == "Greeted the world."  # the finish call's, not the text before it
    assert all(r.api == "chat" for r in server.requests) and len(server.requests) == 3

    messages = server.requests[2].body["messages"]
    roles = ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert [m["role"] for m in messages] == roles
    assert messages[2]["tool_calls"][0]["function"]["name"] == "edit_file"
    assert messages[3] == {
        "role": "tool",
        "tool_call_id": messages[2]["tool_calls"][0]["id"],
        "content": "Edited README.md.",
    }
    shell = server.requests[0].body["tools"][0]["function"]
    assert shell["name"] == "shell" and shell["parameters"]["required"] == ["command"]


def test_bad_tool_calls_go_back_to_the_model_as_errors_and_the_loop_goes_on(
    worktree: Path, tmp_path: Path
) -> None:
    (worktree / "twice.txt").write_text("a\na\n")
    server = serve(
        {
            "tool_calls": [
                call("edit_file", path="README.md"),
                call("edit_file", path="twice.txt", old="a", new="b"),
                call("edit_file", path="README.md", old="goodbye", new="x"),
                call("read_file", path="missing.txt"),
                call("launch_rockets", count="3"),
                call("shell", command="exit 4"),
            ]
        },
        {"text": "I could not do it."},
    )
    with server:
        events = run_agent(worktree, tmp_path, server.base_url, "anthropic")

    results = of(events, ToolResult)
    assert all(r.is_error for r in results)
    assert [r.output for r in results] == [
        "`edit_file` takes exactly these string arguments: `path`, `old`, `new`.",
        "`old` occurs 2 times in twice.txt; include more lines around it.",
        "`old` does not occur in README.md; read the file and copy it exactly.",
        "There is no file missing.txt.",
        "There is no tool `launch_rockets`; the tools are "
        "shell, read_file, write_file, edit_file, finish.",
        "Exit code 4.\n",
    ]
    assert (worktree / "twice.txt").read_text() == "a\na\n"
    sent = server.requests[1].body["messages"][-1]["content"]
    assert [b["is_error"] for b in sent] == [True] * 6
    assert [b["content"] for b in sent] == [r.output for r in results]
    end = events[-1]
    assert isinstance(end, End) and end.ok and end.summary == "I could not do it."


def test_an_api_error_ends_the_run_non_zero_with_an_error_event(
    worktree: Path, tmp_path: Path
) -> None:
    server = serve({"tool_calls": [call("shell", command="true")]})
    with server:
        events = run_agent(worktree, tmp_path, server.openai_base_url, "openai")

    errors = of(events, Error)
    assert len(errors) == 1 and "no reply left" in errors[0].message
    assert errors[0].message.startswith("The OpenAI-compatible API failed")
    end = events[-1]
    assert isinstance(end, End) and end.exit_status == 1 and not end.ok
    assert len(server.requests) == 2  # a 400 is not retried


def test_the_step_limit_stops_a_model_that_never_finishes(worktree: Path, tmp_path: Path) -> None:
    looping = {"tool_calls": [call("shell", command="echo again >> log.txt")]}
    server = serve(looping, looping, looping)
    with server:
        events = run_agent(
            worktree,
            tmp_path,
            server.base_url,
            "anthropic",
            env_vars={"GT_BUILTIN_API": "anthropic", "GT_BUILTIN_MAX_STEPS": "2"},
        )

    assert (worktree / "log.txt").read_text() == "again\nagain\n"
    assert of(events, Error) == [Error("Stopped: 2 model calls without finishing.")]
    end = events[-1]
    assert isinstance(end, End) and end.exit_status == 1 and not end.ok
    assert len(server.requests) == 2 and server.script.remaining == 1


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keys from the developer's shell must not reach the scripted server's runs."""
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GT_BUILTIN_API", "GT_BUILTIN_MODEL"):
        monkeypatch.delenv(name, raising=False)
    yield


def test_the_cost_limit_stops_a_priced_model(worktree: Path, tmp_path: Path) -> None:
    expensive = {"input_tokens": 1_000_000, "output_tokens": 0}  # $3 on claude-sonnet-4-5
    server = serve(
        {"tool_calls": [call("shell", command="true")], "usage": expensive},
        {"text": "never asked"},
    )
    with server:
        events = run_agent(
            worktree,
            tmp_path,
            server.base_url,
            "anthropic",
            env_vars={"GT_BUILTIN_MAX_COST": "1"},
        )

    assert of(events, Error) == [Error("Stopped: the run cost $3.00, over its $1.")]
    end = events[-1]
    assert isinstance(end, End) and not end.ok and len(server.requests) == 1


def test_a_shell_command_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    # The background child keeps the output pipe open: only killing the group ends the wait.
    slow = Call("c1", "shell", {"command": "echo started; sleep 60 & sleep 60"})
    outcome = perform(slow, tmp_path, shell_timeout=0.5)
    assert outcome.is_error
    assert outcome.output == "Timed out after 0.5 s and was killed.\nstarted\n"
