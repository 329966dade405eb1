"""Codex CLI, driven headless.

    codex exec --json --skip-git-repo-check --sandbox workspace-write
               -c approval_policy="never" [--add-dir GIT_FOLDER ...] [-m MODEL]
               [-c model_provider="gastown" -c model_providers.gastown.name="gastown"
                -c model_providers.gastown.base_url="URL"
                -c model_providers.gastown.env_key="OPENAI_API_KEY"
                -c model_providers.gastown.wire_api="responses"] -- PROMPT

`exec` never asks for approval; `--sandbox workspace-write` lets it edit the worktree (its
default is read-only). Tested with Codex 0.171.0, the oldest release `min_version` accepts.

Commits: a worktree's git folder lives in the rig's clone (`.git/worktrees/<polecat>`), outside
the writable root, and the sandbox also shuts every `.git` it can see; `git commit` then fails
with "Unable to create …/index.lock: Read-only file system" and the agent's commit and its
message are lost. So each folder a commit writes (`LaunchRequest.writable`: the worktree's git
folder, the clone's objects, the folders of its branch's ref and reflog) is given as
`--add-dir`. The clone's config and hooks stay read-only: the town's own git runs those
outside any sandbox. `CodexRuntime(sandbox="bypass")` uses
`--dangerously-bypass-approvals-and-sandbox` instead, for machines where the sandbox cannot run.

Model: without `-m`, Codex picks its newest model, whose tools it sends in a form only OpenAI's
own API understands (JavaScript "code mode", not `tools`); through `model_base_url` the model
then gets no tools and every run ends with no changes. Codex on its own login keeps its own
default, but with a base URL a run is refused before it starts unless `default_model` (or
`role_models.*`) names a model, which the gateway must serve; a guessed default could name a
model the gateway does not have. Environment: `OPENAI_API_KEY` (and `CODEX_API_KEY`) when
settings give a key.

Stream (JSONL): `thread.started` (thread_id), `turn.started`, `item.started|updated|completed`
(item.type `agent_message`, `reasoning`, `command_execution`, `file_change`, `mcp_tool_call`,
`web_search`, `todo_list`, `error`), `turn.completed` (usage: input_tokens, cached_input_tokens,
output_tokens), `turn.failed` (error.message), `error` (message). Codex reports tokens, not
cost: cost comes from the price table. Its `input_tokens` include the cached ones.
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
from gastown.runtimes.events import Error, Event, Start, Text, ToolCall, ToolResult, Usage


def _toml(value: str) -> str:
    """A TOML string literal for `-c key=value` (JSON escaping is valid TOML for these)."""
    return json.dumps(value)


class CodexRuntime:
    name = "codex"
    binary = "codex"
    min_version = (0, 171, 0)
    model_needed = (
        "without one Codex picks its newest model, whose tools it sends in a form only OpenAI's "
        "own API reads, and the agent could not change anything."
    )

    def __init__(self, sandbox: str = "workspace-write") -> None:
        self.sandbox = sandbox

    def build(self, request: LaunchRequest) -> ProcessSpec:
        argv = [self.binary, "exec", "--json", "--skip-git-repo-check"]
        if self.sandbox == "bypass":
            argv.append("--dangerously-bypass-approvals-and-sandbox")
        else:
            argv += ["--sandbox", self.sandbox, "-c", 'approval_policy="never"']
            for folder in request.writable:  # so that the agent's own `git commit` works
                argv += ["--add-dir", str(folder)]
        if request.model:
            argv += ["-m", request.model]
        if request.base_url:
            provider = "model_providers.gastown"
            argv += ["-c", 'model_provider="gastown"', "-c", f'{provider}.name="gastown"']
            argv += ["-c", f"{provider}.base_url={_toml(request.base_url)}"]
            argv += ["-c", f'{provider}.env_key="OPENAI_API_KEY"']
            argv += ["-c", f'{provider}.wire_api="responses"']
        argv += ["--", request.prompt]
        env = base_env(request)
        if request.api_key:
            env["OPENAI_API_KEY"] = request.api_key
            env["CODEX_API_KEY"] = request.api_key
        return ProcessSpec(argv, env, request.worktree)

    def parser(self, request: LaunchRequest) -> CodexParser:
        return CodexParser(request)


class CodexParser(JsonLineParser):
    def on_object(self, data: dict[str, Any]) -> list[Event] | None:
        kind = data.get("type")
        if kind == "thread.started":
            self.session_id = str(data.get("thread_id", ""))
            return [Start(self.session_id, self.model)]
        if kind == "turn.started":
            return []
        if kind == "turn.completed":
            usage = data.get("usage") or {}
            cached = as_int(usage.get("cached_input_tokens"))
            tokens = Usage(
                input_tokens=max(as_int(usage.get("input_tokens")) - cached, 0),
                output_tokens=as_int(usage.get("output_tokens")),
                cache_read_tokens=cached,
                model=self.model,
            )
            return self.usage_and_cost(tokens)
        if kind == "turn.failed":
            return self.fail(str((data.get("error") or {}).get("message", "turn failed")))
        if kind == "error":
            return self.fail(str(data.get("message", "error")))
        item = data.get("item")
        if isinstance(kind, str) and kind.startswith("item.") and isinstance(item, dict):
            return self._item(kind.removeprefix("item."), item)
        return None

    def _item(self, phase: str, item: dict[str, Any]) -> list[Event] | None:
        sort = item.get("type")
        call_id = str(item.get("id", ""))
        if sort in ("agent_message", "reasoning"):
            if phase != "completed":
                return []
            role = "assistant" if sort == "agent_message" else "reasoning"
            self.summary = str(item.get("text", "")) if role == "assistant" else self.summary
            return [Text(str(item.get("text", "")), role=role)]
        if sort == "command_execution":
            if phase == "started":
                return [ToolCall("shell", {"command": item.get("command", "")}, call_id)]
            if phase == "completed":
                failed = item.get("status") == "failed" or as_int(item.get("exit_code")) != 0
                output = as_text(item.get("aggregated_output"))
                return [ToolResult(call_id, output, is_error=failed)]
            return []
        if sort == "mcp_tool_call":
            tool = f"{item.get('server', '')}.{item.get('tool', '')}"
            if phase == "started":
                arguments = item.get("arguments")
                args = arguments if isinstance(arguments, dict) else {"arguments": arguments}
                return [ToolCall(tool, args, call_id)]
            if phase == "completed":
                failed = item.get("status") == "failed"
                return [ToolResult(call_id, as_text(item.get("result")), is_error=failed)]
            return []
        if sort in ("file_change", "web_search"):
            if phase != "completed":
                return []
            args = {k: v for k, v in item.items() if k not in ("id", "type", "status")}
            failed = item.get("status") == "failed"
            return [ToolCall(sort, args, call_id), ToolResult(call_id, "", is_error=failed)]
        if sort == "error":  # a non-fatal error: the turn goes on
            return [Error(str(item.get("message", "error")))]
        return None  # todo_list and newer item types are kept as they are
