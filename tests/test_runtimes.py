"""Agent runtimes: the processes each adapter describes, and the streams each one reads.

Recorded streams live in tests/fixtures/runtimes/, written after each CLI's documented format.
The scripted runtime runs for real, as a subprocess in a real git worktree.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gastown.errors import UserError
from gastown.runtimes.base import LaunchRequest, ProcessSpec, StreamParser, write_files
from gastown.runtimes.events import (
    Cost,
    End,
    Error,
    Event,
    Start,
    Text,
    ToolCall,
    ToolResult,
    Unknown,
    Usage,
    loads,
    totals,
)
from gastown.runtimes.prices import cost_of, price_for
from gastown.runtimes.registry import REGISTRY, runtime
from gastown.runtimes.scripted import ScriptedRuntime
from tests.conftest import run_git

FIXTURES = Path(__file__).parent / "fixtures" / "runtimes"


def request(tmp_path: Path, **changes: Any) -> LaunchRequest:
    values: dict[str, Any] = {
        "prompt": "Add hello.txt",
        "worktree": tmp_path / "wt",
        "model": "",
        "base_url": "http://127.0.0.1:8123",
        "api_key": "sk-test",
        "env_vars": {"GT_DEMO": "1"},
    }
    values.update(changes)
    return LaunchRequest(**values)


def replay(parser: StreamParser, name: str, exit_status: int | None = 0) -> list[Event]:
    lines = (FIXTURES / name).read_text().splitlines()
    events = [e for line in lines for e in parser.feed(line)]
    return events + parser.finish(exit_status)


E = TypeVar("E", bound=Event)


def of(events: list[Event], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


# --- processes: unattended, root-safe, settings passed through --------------------------------


def test_claude_runs_headless_without_permission_prompts_even_as_root(tmp_path: Path) -> None:
    req = request(tmp_path, model="claude-sonnet-4-5")
    spec = REGISTRY["claude"].build(req)
    assert spec.argv[:5] == ["claude", "-p", "--output-format", "stream-json", "--verbose"]
    assert "--dangerously-skip-permissions" in spec.argv
    assert spec.argv[-2:] == ["--", "Add hello.txt"]
    assert spec.argv[spec.argv.index("--model") + 1] == "claude-sonnet-4-5"
    assert spec.env["IS_SANDBOX"] == "1"  # lets the skip flag work as root
    assert spec.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8123"
    assert spec.env["ANTHROPIC_API_KEY"] == "sk-test"
    assert spec.env["GT_DEMO"] == "1"
    assert spec.cwd == tmp_path / "wt"
    assert spec.files == {}


def test_claude_leaves_model_and_endpoint_to_the_cli_when_settings_are_empty(
    tmp_path: Path,
) -> None:
    spec = REGISTRY["claude"].build(request(tmp_path, base_url="", api_key="", env_vars={}))
    assert "--model" not in spec.argv
    assert spec.env == {"IS_SANDBOX": "1"}


def test_codex_gets_a_writable_sandbox_and_a_responses_provider(tmp_path: Path) -> None:
    spec = REGISTRY["codex"].build(request(tmp_path, model="gpt-5"))
    argv = spec.argv
    assert argv[:4] == ["codex", "exec", "--json", "--skip-git-repo-check"]
    assert argv[argv.index("--sandbox") + 1] == "workspace-write"
    assert argv[argv.index("-m") + 1] == "gpt-5"
    configs = [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]
    assert 'approval_policy="never"' in configs
    assert 'model_provider="gastown"' in configs
    assert 'model_providers.gastown.base_url="http://127.0.0.1:8123"' in configs
    assert 'model_providers.gastown.wire_api="responses"' in configs
    assert argv[-2:] == ["--", "Add hello.txt"]
    assert spec.env["OPENAI_API_KEY"] == "sk-test"


def test_codex_can_bypass_the_sandbox_where_it_cannot_run(tmp_path: Path) -> None:
    from gastown.runtimes.codex import CodexRuntime

    argv = CodexRuntime(sandbox="bypass").build(request(tmp_path, base_url="")).argv
    assert "--dangerously-bypass-approvals-and-sandbox" in argv
    assert "--sandbox" not in argv
    assert not any("model_provider" in a for a in argv)


@pytest.mark.parametrize("name", ["opencode", "kilo"])
def test_opencode_and_kilo_grant_every_permission_through_config(tmp_path: Path, name: str) -> None:
    spec = REGISTRY[name].build(request(tmp_path, model="claude-sonnet-4-5"))
    assert spec.argv[:2] == [name, "run"]
    assert spec.argv[spec.argv.index("--format") + 1] == "json"
    assert spec.argv[spec.argv.index("-m") + 1] == "anthropic/claude-sonnet-4-5"
    assert ("--auto" in spec.argv) == (name == "kilo")
    config = json.loads(spec.env[f"{name.upper()}_CONFIG_CONTENT"])
    assert config["permission"]["*"] == "allow"
    assert config["permission"]["bash"] == "allow"
    assert config["provider"] == {"anthropic": {"options": {"baseURL": "http://127.0.0.1:8123"}}}
    assert spec.env["ANTHROPIC_API_KEY"] == "sk-test"
    # opencode takes its project folder from $PWD, not from the folder it starts in.
    assert spec.env["PWD"] == str(tmp_path / "wt")
    assert ("--dir" in spec.argv) == (name == "opencode")


def test_opencode_keeps_an_explicit_provider(tmp_path: Path) -> None:
    spec = REGISTRY["opencode"].build(request(tmp_path, model="openrouter/qwen3-coder"))
    assert spec.argv[spec.argv.index("-m") + 1] == "openrouter/qwen3-coder"
    assert "openrouter" in json.loads(spec.env["OPENCODE_CONFIG_CONTENT"])["provider"]


def test_gemini_runs_in_yolo_mode_in_an_untrusted_worktree(tmp_path: Path) -> None:
    spec = REGISTRY["gemini"].build(request(tmp_path, model="gemini-2.5-pro"))
    assert spec.argv[:3] == ["gemini", "-p", "Add hello.txt"]
    assert spec.argv[spec.argv.index("--output-format") + 1] == "stream-json"
    assert "--yolo" in spec.argv
    assert spec.argv[spec.argv.index("-m") + 1] == "gemini-2.5-pro"
    assert spec.env["GEMINI_CLI_TRUST_WORKSPACE"] == "true"
    assert spec.env["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:8123"
    assert spec.env["GEMINI_API_KEY"] == "sk-test"


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8123", ""])
def test_gemini_keeps_its_settings_in_a_private_home_of_the_runs(
    tmp_path: Path, base_url: str
) -> None:
    run_dir = tmp_path / "logs" / "runs" / "r-1"
    spec = REGISTRY["gemini"].build(request(tmp_path, base_url=base_url, run_dir=run_dir))
    home = Path(spec.env["GEMINI_CLI_HOME"])
    assert home == run_dir / "gemini"  # never the user's own ~/.gemini
    assert ("GOOGLE_GEMINI_BASE_URL" in spec.env) == bool(base_url)
    write_files(spec)
    for folder in (home, home / ".gemini"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    settings = json.loads((home / ".gemini" / "settings.json").read_text())
    # Without it, a base URL makes Gemini CLI 0.61 pick a sign-in it then refuses (exit 41).
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["privacy"]["usageStatisticsEnabled"] is False
    assert settings["general"]["enableAutoUpdate"] is False
    # A folder left open by an earlier run is closed again.
    home.chmod(0o755)
    write_files(spec)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


# --- streams: every CLI's output mapped to one event model ------------------------------------


def test_claude_stream_maps_to_events_with_the_clis_own_cost(tmp_path: Path) -> None:
    events = replay(REGISTRY["claude"].parser(request(tmp_path)), "claude.jsonl")
    assert events[0] == Start("9f1c2d3e-0000-4a5b-8c7d-112233445566", "claude-sonnet-4-5-20250929")
    write = ToolCall(
        "Write", {"file_path": "/tmp/wt/hello.txt", "content": "hello\n"}, call_id="toolu_01X"
    )
    assert write in events
    results = of(events, ToolResult)
    assert results[0] == ToolResult("toolu_01X", "File created successfully at: /tmp/wt/hello.txt")
    assert results[1] == ToolResult("toolu_01Y", "Error: exit code 1", is_error=True)
    assert [e.text for e in of(events, Text)] == [
        "I'll add the greeting.",
        "Added hello.txt.",
    ]
    assert of(events, Usage) == [Usage(9, 88, 2400, 1200, "claude-sonnet-4-5-20250929")]
    assert of(events, Cost) == [Cost(0.0123, "cli")]
    assert of(events, Unknown)[0].raw.startswith('{"type":"stream_event"')
    assert events[-1] == End(
        0, ok=True, summary="Added hello.txt.", session_id="9f1c2d3e-0000-4a5b-8c7d-112233445566"
    )


def test_claude_error_result_fails_the_run_even_with_exit_zero(tmp_path: Path) -> None:
    parser = REGISTRY["claude"].parser(request(tmp_path))
    line = json.dumps(
        {"type": "result", "subtype": "error_max_turns", "is_error": True, "session_id": "s1"}
    )
    events = parser.feed(line) + parser.finish(0)
    assert of(events, Error) == [Error("Claude Code ended with error_max_turns.")]
    assert events[-1] == End(0, ok=False, session_id="s1")


def test_codex_stream_maps_to_events_priced_from_the_table(tmp_path: Path) -> None:
    events = replay(REGISTRY["codex"].parser(request(tmp_path, model="gpt-5")), "codex.jsonl")
    assert events[0] == Start("0199a213-81c0-7800-8aa1-bbab2a035a53", "gpt-5")
    assert Text("**Looking for the greeting file**", role="reasoning") in events
    assert ToolCall("shell", {"command": "bash -lc ls"}, "item_1") in events
    assert ToolResult("item_1", "README.md\n") in events
    changes = [{"path": "/tmp/wt/hello.txt", "kind": "add"}]
    assert ToolCall("file_change", {"changes": changes}, "item_2") in events
    assert of(events, Usage) == [Usage(315, 122, 24448, 0, "gpt-5")]
    # 315 × 1.25 + 122 × 10 + 24448 × 0.125 per million tokens
    assert of(events, Cost) == [Cost(0.00466975, "table")]
    assert '"todo_list"' in of(events, Unknown)[0].raw
    assert events[-1] == End(
        0, ok=True, summary="Created hello.txt.", session_id="0199a213-81c0-7800-8aa1-bbab2a035a53"
    )


def test_codex_failed_turn_is_an_error_and_a_failed_run(tmp_path: Path) -> None:
    events = replay(REGISTRY["codex"].parser(request(tmp_path)), "codex_failed.jsonl", 1)
    assert len(of(events, Error)) == 2
    assert isinstance(events[-1], End)
    assert not events[-1].ok
    assert events[-1].exit_status == 1


def test_an_unpriced_model_has_unknown_cost_not_a_guess(tmp_path: Path) -> None:
    events = replay(
        REGISTRY["codex"].parser(request(tmp_path, model="my-local-coder")), "codex.jsonl"
    )
    assert of(events, Usage) and not of(events, Cost)
    assert totals(events).cost_usd is None
    assert totals(events).output_tokens == 122


def test_opencode_stream_adds_up_per_step_usage_and_cost(tmp_path: Path) -> None:
    events = replay(REGISTRY["opencode"].parser(request(tmp_path)), "opencode.jsonl")
    assert events[0] == Start("ses_494719016ffe85dkDMj0FPRbHK", "")
    write = {"filePath": "/tmp/wt/hello.txt", "content": "hello\n"}
    assert ToolCall("write", write, "toolu_01Q") in events
    assert ToolResult("toolu_01R", "Command failed with exit code 1", is_error=True) in events
    assert Text("Created hello.txt.") in events
    assert of(events, Usage) == [Usage(1500, 100, 3000, 400), Usage(200, 10, 4500, 0)]
    spent = totals(events)
    assert (spent.input_tokens, spent.output_tokens, spent.cache_read_tokens) == (1700, 110, 7500)
    assert spent.cost_usd == pytest.approx(0.0052)
    assert '"reasoning"' in of(events, Unknown)[0].raw
    assert events[-1] == End(
        0, ok=True, summary="Created hello.txt.", session_id="ses_494719016ffe85dkDMj0FPRbHK"
    )


def test_kilo_reads_the_same_stream_and_errors_fail_the_run(tmp_path: Path) -> None:
    events = replay(REGISTRY["kilo"].parser(request(tmp_path)), "opencode_error.jsonl", 0)
    assert events == [
        Start("ses_4947error", ""),
        Error("Invalid API key"),
        End(0, ok=False, session_id="ses_4947error"),
    ]


def test_gemini_stream_joins_deltas_and_prices_from_the_table(tmp_path: Path) -> None:
    events = replay(REGISTRY["gemini"].parser(request(tmp_path)), "gemini.jsonl")
    assert events[0] == Start("c3a1b2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "gemini-2.5-pro")
    call_id = "write_file-1767607202000-abc"
    assert (
        ToolCall("write_file", {"file_path": "hello.txt", "content": "hello\n"}, call_id) in events
    )
    failed = ToolResult("run_shell_command-1767607203000-def", "Command exited with code 1", True)
    assert failed in events
    assert Error("Loop detection is approaching its limit") in events
    assert of(events, Unknown) == [Unknown("Loaded cached credentials.")]
    assert of(events, Usage) == [Usage(5000, 100, 8000, 0, "gemini-2.5-pro")]
    assert of(events, Cost) == [Cost(0.00825, "table")]
    assert events[-1] == End(
        0, ok=True, summary="Created hello.txt.", session_id="c3a1b2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    )


@pytest.mark.parametrize(
    ("name", "fixture"),
    [
        ("claude", "claude.jsonl"),
        ("codex", "codex.jsonl"),
        ("opencode", "opencode.jsonl"),
        ("gemini", "gemini.jsonl"),
    ],
)
def test_every_event_survives_a_trip_through_a_transcript(
    tmp_path: Path, name: str, fixture: str
) -> None:
    events = replay(REGISTRY[name].parser(request(tmp_path, model="gpt-5")), fixture)
    assert [loads(e.dumps()) for e in events] == events


def test_prices_accept_provider_prefixes_and_dated_names() -> None:
    assert price_for("anthropic/claude-sonnet-4-5-20250929") == price_for("claude-sonnet-4-5")
    assert price_for("claude-sonnet-4-5") is not None
    assert price_for("claude-sonnet") is None
    cost = cost_of(Usage(1_000_000, 1_000_000), "claude-haiku-4-5")
    assert cost == Cost(6.0, "table")


# --- the registry ------------------------------------------------------------------------------


def test_a_missing_binary_names_the_runtime_setting(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        runtime("claude", path=str(tmp_path))
    assert "runtime setting" in caught.value.message
    assert "`claude`" in caught.value.message
    assert caught.value.hint is not None and "gt config set runtime" in caught.value.hint


def test_a_binary_on_path_is_found_and_unknown_names_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / "codex"
    fake.write_text("#!/bin/sh\necho 'codex-cli 0.171.0'\n")  # new enough for the adapter
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    assert runtime("codex", path=str(tmp_path)) is REGISTRY["codex"]
    with pytest.raises(UserError, match="does not know"):
        runtime("cursor", path=str(tmp_path))


# --- the scripted runtime, for real --------------------------------------------------------------


@pytest.fixture
def worktree(git_repo: Path, tmp_path: Path) -> Path:
    """A polecat's worktree on its own branch, cut from the rig's clone."""
    path = tmp_path / "polecats" / "furiosa"
    run_git("worktree", "add", "-q", "-b", "gt/furiosa/gt-1", str(path), cwd=git_repo)
    return path


def launch(spec: ProcessSpec) -> subprocess.Popen[str]:
    for path, text in spec.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {**os.environ, **spec.env}
    return subprocess.Popen(
        spec.argv,
        cwd=spec.cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )


def run_to_end(spec: ProcessSpec, parser: StreamParser) -> list[Event]:
    """Start the agent, feed every line it prints to the parser, then close with its exit."""
    with launch(spec) as proc:
        assert proc.stdout is not None
        events = [e for line in proc.stdout for e in parser.feed(line)]
    return events + parser.finish(proc.returncode)


def scripted_prompt(steps: list[dict[str, object]]) -> str:
    return "Do the bead.\n\n```gt-script\n" + json.dumps(steps) + "\n```\n"


def test_the_scripted_agent_changes_and_commits_files_in_its_worktree(
    worktree: Path, tmp_path: Path
) -> None:
    steps: list[dict[str, object]] = [
        {"text": "Adding the greeting."},
        {"write": "hello.txt", "content": "hello\n"},
        {"run": "echo $GT_DEMO > env.txt"},
        {"run": "git add -A && git -c user.name=p -c user.email=p@x commit -qm 'Add hello'"},
        {"usage": {"input": 10, "output": 5}, "model": "scripted"},
        {"text": "Done."},
    ]
    req = request(
        tmp_path, worktree=worktree, prompt=scripted_prompt(steps), run_dir=tmp_path / "run"
    )
    rt = REGISTRY["scripted"]
    spec = rt.build(req)
    assert spec.files[tmp_path / "run" / "script.json"].startswith("[{")
    events = run_to_end(spec, rt.parser(req))

    assert (worktree / "hello.txt").read_text() == "hello\n"
    assert (worktree / "env.txt").read_text() == "1\n"  # env_vars reached the agent
    assert run_git("log", "-1", "--format=%s", cwd=worktree).strip() == "Add hello"
    assert run_git("status", "--porcelain", cwd=worktree) == ""
    assert [e.kind for e in events] == [
        "start",
        "text",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "usage",
        "text",
        "end",
    ]
    assert events[-1] == End(0, ok=True, summary="Done.", session_id="scripted")
    assert totals(events).input_tokens == 10


def test_a_failing_command_ends_the_scripted_run_non_zero(worktree: Path, tmp_path: Path) -> None:
    steps: list[dict[str, object]] = [{"run": "exit 3"}, {"write": "never.txt"}]
    req = request(tmp_path, worktree=worktree, prompt=scripted_prompt(steps))
    rt = REGISTRY["scripted"]
    events = run_to_end(rt.build(req), rt.parser(req))
    assert events[-1] == End(3, ok=False, session_id="scripted")
    assert Error("`exit 3` exited with status 3") in events
    assert not (worktree / "never.txt").exists()


def test_a_hanging_scripted_agent_runs_until_killed(worktree: Path, tmp_path: Path) -> None:
    steps: list[dict[str, object]] = [{"text": "thinking forever"}, {"hang": True}]
    req = request(tmp_path, worktree=worktree, prompt=scripted_prompt(steps))
    rt = ScriptedRuntime()
    parser = rt.parser(req)
    with launch(rt.build(req)) as proc:
        assert proc.stdout is not None
        first = [e for _ in range(2) for e in parser.feed(proc.stdout.readline())]
        assert first == [Start("scripted", "scripted"), Text("thinking forever")]
        assert proc.poll() is None  # it printed its last line and is still there
        proc.kill()
    status = proc.returncode
    assert status < 0  # killed by a signal
    assert parser.finish(None) == [
        End(None, ok=False, summary="thinking forever", session_id="scripted")
    ]


def test_without_a_script_the_scripted_agent_writes_a_note(worktree: Path, tmp_path: Path) -> None:
    req = request(tmp_path, worktree=worktree, prompt="Just a bead with no script.")
    with launch(REGISTRY["scripted"].build(req)) as proc:
        proc.communicate()
    assert proc.returncode == 0
    assert (worktree / "scripted" / "note.md").read_text().startswith("Written by the scripted")
