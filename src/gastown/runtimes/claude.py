"""Claude Code, driven headless.

    claude -p --output-format stream-json --verbose --dangerously-skip-permissions
           [--model MODEL] -- PROMPT

A polecat's run asks for `--input-format stream-json` instead of the prompt in argv: stdin stays
open, the prompt is its first user message, and a nudge written there mid-run reaches the model
with the next tool result ("The user sent a new message while you were working"). The town
closes stdin at the first `result`, which ends the CLI.

Environment: `IS_SANDBOX=1` (Claude Code refuses to skip permissions as root unless told it is
in a sandbox), `ANTHROPIC_BASE_URL` and `ANTHROPIC_API_KEY` when settings give them.

Stream (NDJSON): `system` (subtype `init`: session_id, model), `assistant` (message.content:
`text`, `thinking`, `tool_use`), `user` (message.content: `tool_result`), `result` (subtype,
is_error, result, session_id, total_cost_usd, usage with cache tokens). Token usage and cost are
taken from `result` only, which holds the run's totals; per-message usage would count twice.
"""

from __future__ import annotations

import json
from typing import Any

from gastown.runtimes.base import (
    JsonLineParser,
    LaunchRequest,
    ProcessSpec,
    as_int,
    as_text,
    base_env,
)
from gastown.runtimes.events import Event, Start, Text, ToolCall, ToolResult, Unknown, Usage


class ClaudeRuntime:
    name = "claude"
    binary = "claude"
    min_version = (2, 1, 328)  # the release the real-CLI tests prove; older ones are untested

    def build(self, request: LaunchRequest) -> ProcessSpec:
        argv = [self.binary, "-p", "--output-format", "stream-json", "--verbose"]
        argv.append("--dangerously-skip-permissions")
        if request.model:
            argv += ["--model", request.model]
        if request.messages:  # the prompt is the first message on stdin; nudges follow it
            argv += ["--input-format", "stream-json"]
        else:
            argv += ["--", request.prompt]
        env = base_env(request)
        env["IS_SANDBOX"] = "1"
        if request.base_url:
            env["ANTHROPIC_BASE_URL"] = request.base_url
        if request.api_key:
            env["ANTHROPIC_API_KEY"] = request.api_key
        return ProcessSpec(argv, env, request.worktree, messages=request.messages)

    def parser(self, request: LaunchRequest) -> ClaudeParser:
        return ClaudeParser(request)


class ClaudeParser(JsonLineParser):
    def on_object(self, data: dict[str, Any]) -> list[Event] | None:
        kind = data.get("type")
        if kind == "system" and data.get("subtype") == "init":
            self.session_id = str(data.get("session_id", ""))
            self.model = self.model or str(data.get("model", ""))
            return [Start(self.session_id, str(data.get("model", "")))]
        if kind in ("assistant", "user"):
            content = (data.get("message") or {}).get("content")
            if isinstance(content, str):  # a plain user message: the prompt echoed back
                return [] if kind == "user" else [Text(content)]
            if not isinstance(content, list):
                return None
            return [e for block in content for e in self._block(block)]
        if kind == "result":
            return self._result(data)
        return None

    def _block(self, block: Any) -> list[Event]:
        if not isinstance(block, dict):
            return [Unknown(json.dumps(block))]
        sort = block.get("type")
        if sort == "text":
            return [Text(str(block.get("text", "")))]
        if sort == "thinking":
            return [Text(str(block.get("thinking", "")), role="reasoning")]
        if sort == "tool_use":
            tool_input = block.get("input")
            return [
                ToolCall(
                    str(block.get("name", "")),
                    tool_input if isinstance(tool_input, dict) else {"input": tool_input},
                    call_id=str(block.get("id", "")),
                )
            ]
        if sort == "tool_result":
            return [
                ToolResult(
                    str(block.get("tool_use_id", "")),
                    as_text(block.get("content")),
                    is_error=bool(block.get("is_error")),
                )
            ]
        return [Unknown(json.dumps(block, ensure_ascii=False))]

    def _result(self, data: dict[str, Any]) -> list[Event]:
        self.session_id = str(data.get("session_id") or self.session_id)
        self.turn_ended = True
        self.summary = str(data.get("result") or "")
        usage = data.get("usage") or {}
        events: list[Event] = []
        if data.get("is_error") or str(data.get("subtype", "success")) != "success":
            events += self.fail(self.summary or f"Claude Code ended with {data.get('subtype')}.")
        models = data.get("modelUsage")
        model = next(iter(models), "") if isinstance(models, dict) and len(models) == 1 else ""
        tokens = Usage(
            input_tokens=as_int(usage.get("input_tokens")),
            output_tokens=as_int(usage.get("output_tokens")),
            cache_read_tokens=as_int(usage.get("cache_read_input_tokens")),
            cache_write_tokens=as_int(usage.get("cache_creation_input_tokens")),
            model=model or self.model,
        )
        cost = data.get("total_cost_usd")
        return events + self.usage_and_cost(tokens, cost if isinstance(cost, int | float) else None)
