"""Gemini CLI, driven headless.

    gemini -p PROMPT --output-format stream-json --yolo [-m MODEL]

`--yolo` approves every tool call. Environment: `GEMINI_CLI_TRUST_WORKSPACE=true` (a fresh
worktree is not a trusted folder, and headless runs would stop there), `GEMINI_API_KEY` and
`GOOGLE_GEMINI_BASE_URL` when settings give them, `GEMINI_CLI_NO_RELAUNCH=true` (one process
instead of a wrapper that restarts itself with a bigger heap), and `GEMINI_CLI_HOME`: a folder
of the run's own, mode 0700, so the CLI neither reads nor writes the user's `~/.gemini`.

Its `.gemini/settings.json` there selects the API-key sign-in. The CLI must be told: with
`GOOGLE_GEMINI_BASE_URL` set and nothing selected, Gemini CLI 0.61 infers a "gateway" sign-in
that its own check then refuses ("Invalid auth method selected.", exit 41). The same file turns
off usage statistics, telemetry and update checks, which would call Google and npm.

Stream (JSONL): `init` (session_id, model), `message` (role, content, delta: chunks to join),
`tool_use` (tool_name, tool_id, parameters), `tool_result` (tool_id, status, output, error),
`error` (severity, message: non-fatal warnings and errors), `result` (status, error, stats:
input_tokens, output_tokens, cached, total_tokens, duration_ms). Gemini reports tokens, not
cost: cost comes from the price table. Its `input_tokens` include the cached ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gastown.runtimes.base import (
    JsonLineParser,
    LaunchRequest,
    ProcessSpec,
    as_int,
    as_text,
    base_env,
)
from gastown.runtimes.events import Error, Event, Start, Text, ToolCall, ToolResult, Usage

SETTINGS: dict[str, Any] = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
}
"""The CLI's user settings for a run: API-key sign-in, and no calls but to the model."""


def cli_home(request: LaunchRequest) -> Path:
    """The run's own `GEMINI_CLI_HOME`, outside the worktree."""
    run_dir = request.run_dir or request.worktree.parent / f".{request.worktree.name}-run"
    return run_dir / "gemini"


class GeminiRuntime:
    name = "gemini"
    binary = "gemini"
    min_version = (0, 61, 0)  # the release the real-CLI test proves, settings and all
    # With the API-key sign-in it is given, the CLI reads its key from this variable only and
    # exits 41 without one ("you must specify the GEMINI_API_KEY"): the preflight refuses first.
    key_vars = ("GEMINI_API_KEY",)

    def build(self, request: LaunchRequest) -> ProcessSpec:
        argv = [self.binary, "-p", request.prompt, "--output-format", "stream-json", "--yolo"]
        if request.model:
            argv += ["-m", request.model]
        home = cli_home(request)
        env = base_env(request)
        env["GEMINI_CLI_HOME"] = str(home)
        env["GEMINI_CLI_TRUST_WORKSPACE"] = "true"
        env["GEMINI_CLI_NO_RELAUNCH"] = "true"
        if request.base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = request.base_url
        if request.api_key:
            env["GEMINI_API_KEY"] = request.api_key
        settings = {home / ".gemini" / "settings.json": json.dumps(SETTINGS, indent=2) + "\n"}
        return ProcessSpec(
            argv, env, request.worktree, files=settings, private_dirs=[home, home / ".gemini"]
        )

    def parser(self, request: LaunchRequest) -> GeminiParser:
        return GeminiParser(request)


class GeminiParser(JsonLineParser):
    def __init__(self, request: LaunchRequest) -> None:
        super().__init__(request)
        self._reply: list[str] = []

    def on_object(self, data: dict[str, Any]) -> list[Event] | None:
        kind = data.get("type")
        if kind == "init":
            self.session_id = str(data.get("session_id", ""))
            self.model = self.model or str(data.get("model", ""))
            return [Start(self.session_id, str(data.get("model", "")))]
        if kind == "message":
            if data.get("role") != "assistant":
                return []  # the prompt echoed back
            text = str(data.get("content", ""))
            self._reply = [*self._reply, text] if data.get("delta") else [text]
            return [Text(text)]
        if kind == "tool_use":
            params = data.get("parameters")
            args = params if isinstance(params, dict) else {}
            self._reply = []
            return [ToolCall(str(data.get("tool_name", "")), args, str(data.get("tool_id", "")))]
        if kind == "tool_result":
            failed = data.get("status") == "error"
            output = data.get("output")
            if failed and not output:
                error = data.get("error")
                output = error.get("message", error) if isinstance(error, dict) else error
            return [ToolResult(str(data.get("tool_id", "")), as_text(output), is_error=failed)]
        if kind == "error":
            return [Error(str(data.get("message", "error")))]
        if kind == "result":
            return self._result(data)
        return None

    def _result(self, data: dict[str, Any]) -> list[Event]:
        self.summary = "".join(self._reply)
        events: list[Event] = []
        if data.get("status") not in (None, "success"):
            error = data.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else str(error)
            events += self.fail(str(message or f"Gemini ended with {data.get('status')}."))
        stats = data.get("stats") or {}
        cached = as_int(stats.get("cached"))
        usage = Usage(
            input_tokens=max(as_int(stats.get("input_tokens")) - cached, 0),
            output_tokens=as_int(stats.get("output_tokens")),
            cache_read_tokens=cached,
            model=self.model,
        )
        return events + self.usage_and_cost(usage)
