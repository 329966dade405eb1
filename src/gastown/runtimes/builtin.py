"""The built-in runtime: our own small agent (`builtin_agent`), for any Anthropic or
OpenAI-compatible model API.

    python -m gastown.runtimes.builtin_agent --prompt-file RUN_DIR/prompt.md

The prompt goes in a file in the run folder (outside the worktree; an argument could be too
long). Settings reach the agent as `GT_BUILTIN_MODEL`, `GT_BUILTIN_BASE_URL` and
`GT_BUILTIN_API_KEY`; `env_vars` may add `GT_BUILTIN_API`, `GT_BUILTIN_MAX_STEPS`,
`GT_BUILTIN_MAX_COST` and `GT_BUILTIN_SHELL_TIMEOUT` (see `builtin_agent`). The agent prints
our own event JSON lines, read back as the scripted runtime's are; its `usage` events are
priced from the table, and a `finish` call's summary is the run's summary.
"""

from __future__ import annotations

import sys

from gastown.runtimes.base import LaunchRequest, ProcessSpec, base_env
from gastown.runtimes.events import Event, ToolCall, Usage
from gastown.runtimes.scripted import ScriptedParser


class BuiltinRuntime:
    name = "builtin"

    def __init__(self, python: str = sys.executable) -> None:
        self.binary = python

    def build(self, request: LaunchRequest) -> ProcessSpec:
        run_dir = request.run_dir or request.worktree.parent / f".{request.worktree.name}-run"
        prompt = run_dir / "prompt.md"
        argv = [self.binary, "-m", "gastown.runtimes.builtin_agent", "--prompt-file", str(prompt)]
        env = base_env(request)
        env["PYTHONUNBUFFERED"] = "1"
        for key, value in (
            ("GT_BUILTIN_MODEL", request.model),
            ("GT_BUILTIN_BASE_URL", request.base_url),
            ("GT_BUILTIN_API_KEY", request.api_key),
        ):
            if value:
                env[key] = value
        return ProcessSpec(argv, env, request.worktree, files={prompt: request.prompt})

    def parser(self, request: LaunchRequest) -> BuiltinParser:
        return BuiltinParser(request)


class BuiltinParser(ScriptedParser):
    """The scripted runtime's parser, plus costs from the table and the `finish` summary."""

    def on_object(self, data: dict[str, object]) -> list[Event] | None:
        events = super().on_object(data)
        if events is None:
            return None
        event = events[0]
        if isinstance(event, Usage):  # its cost from the table, whether or not the base adds it
            return self.usage_and_cost(event)
        if isinstance(event, ToolCall) and event.tool == "finish":
            self.summary = str(event.input.get("summary", ""))
        return events
