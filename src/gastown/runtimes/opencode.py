"""opencode and Kilo CLI (an opencode fork), driven headless.

    opencode run --format json --dir WORKTREE [-m PROVIDER/MODEL] -- PROMPT
    kilo run --auto --format json [-m PROVIDER/MODEL] -- PROMPT

opencode takes its project folder from `$PWD` rather than from the folder it was started in, so a
`PWD` inherited from the town would send its file tools outside the worktree: the adapter passes
`--dir` (opencode) and sets `PWD` to the worktree (both).

Permissions are all granted through a generated config passed in `OPENCODE_CONFIG_CONTENT`
(`KILO_CONFIG_CONTENT` for Kilo, which also gets `--auto`): `{"permission": {"*": "allow", …}}`,
so a run never stops on a question. A base URL from settings goes into the config as the
provider's `options.baseURL`; the key goes in the provider's usual variable
(`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`, `GOOGLE_GENERATIVE_AI_API_KEY`). A model without a
provider prefix gets one from its name (`claude-*` → anthropic, `gemini-*` → google, else openai).

Stream (JSONL `{type, timestamp, sessionID, part}`): `step_start`, `text` (part.text),
`tool_use` (part.tool, part.callID, part.state: status, input, output, error), `step_finish`
(part.cost in USD, part.tokens: input, output, reasoning, cache.read, cache.write), `error`
(error.name, error.data.message). Usage and cost are per step: deltas, added up by the town.
"""

from __future__ import annotations

import json
from typing import Any

from gastown.runtimes.base import JsonLineParser, LaunchRequest, ProcessSpec, as_int, base_env
from gastown.runtimes.events import Event, Start, Text, ToolCall, ToolResult, Usage

KEY_VARS = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "google": "GOOGLE_GENERATIVE_AI_API_KEY",
}
MIN_VERSIONS = {"opencode": (1, 18, 33), "kilo": (7, 7, 7)}
"""The releases the real-CLI tests prove (Kilo 7.8.1 cannot be installed: one of its platform
packages is missing from npm); older ones are refused before a run starts."""
ALLOW_ALL = {
    "*": "allow",
    "edit": "allow",
    "bash": "allow",
    "webfetch": "allow",
    "external_directory": "allow",
    "doom_loop": "allow",
}


def provider_model(model: str) -> tuple[str, str]:
    """`provider/model` split in two, inferring the provider when there is no prefix."""
    if "/" in model:
        provider, name = model.split("/", 1)
        return provider, name
    if model.startswith("claude"):
        return "anthropic", model
    if model.startswith("gemini"):
        return "google", model
    return "openai", model


class OpencodeRuntime:
    """`opencode run`; `OpencodeRuntime("kilo")` is Kilo CLI, which shares its format."""

    model_needed = (
        "without one the CLI picks its own provider and model, which the base URL is not given to."
    )

    def __init__(self, name: str = "opencode") -> None:
        self.name = name
        self.binary = name
        self.min_version = MIN_VERSIONS[name]

    def config(self, request: LaunchRequest) -> dict[str, Any]:
        """The generated config: every permission allowed, the base URL if there is one."""
        config: dict[str, Any] = {"$schema": "https://opencode.ai/config.json"}
        config["permission"] = dict(ALLOW_ALL)
        if request.base_url:
            provider, _ = provider_model(request.model)
            config["provider"] = {provider: {"options": {"baseURL": request.base_url}}}
        return config

    def build(self, request: LaunchRequest) -> ProcessSpec:
        argv = [self.binary, "run"]
        if self.name == "kilo":
            argv.append("--auto")
        argv += ["--format", "json"]
        if self.name == "opencode":
            argv += ["--dir", str(request.worktree)]
        provider = ""
        if request.model:
            provider, name = provider_model(request.model)
            argv += ["-m", f"{provider}/{name}"]
        argv += ["--", request.prompt]
        env = base_env(request)
        env["PWD"] = str(request.worktree)
        env[f"{self.name.upper()}_CONFIG_CONTENT"] = json.dumps(self.config(request))
        if request.api_key:
            env[KEY_VARS.get(provider or "openai", "OPENAI_API_KEY")] = request.api_key
        return ProcessSpec(argv, env, request.worktree)

    def parser(self, request: LaunchRequest) -> OpencodeParser:
        return OpencodeParser(request)


class OpencodeParser(JsonLineParser):
    def on_object(self, data: dict[str, Any]) -> list[Event] | None:
        events = self._event(str(data.get("type")), data)
        session = str(data.get("sessionID") or "")
        if events is not None and session and not self.session_id:
            self.session_id = session
            events.insert(0, Start(session, self.model))
        return events

    def _event(self, kind: str, data: dict[str, Any]) -> list[Event] | None:
        part = data.get("part")
        part = part if isinstance(part, dict) else {}
        if kind == "step_start":
            return []
        if kind == "text":
            self.summary = str(part.get("text", ""))
            return [Text(self.summary)]
        if kind == "tool_use":
            return self._tool(part)
        if kind == "step_finish":
            tokens = part.get("tokens") or {}
            cache = tokens.get("cache") or {}
            usage = Usage(
                input_tokens=as_int(tokens.get("input")),
                output_tokens=as_int(tokens.get("output")) + as_int(tokens.get("reasoning")),
                cache_read_tokens=as_int(cache.get("read")),
                cache_write_tokens=as_int(cache.get("write")),
                model=self.model,
            )
            cost = part.get("cost")
            return self.usage_and_cost(usage, cost if isinstance(cost, int | float) else None)
        if kind == "error":
            error = data.get("error") or {}
            message = (error.get("data") or {}).get("message") or error.get("name") or "error"
            return self.fail(str(message))
        return None

    def _tool(self, part: dict[str, Any]) -> list[Event]:
        state = part.get("state") or {}
        call_id = str(part.get("callID") or part.get("id") or "")
        tool_input = state.get("input")
        call = ToolCall(
            str(part.get("tool", "")),
            tool_input if isinstance(tool_input, dict) else {},
            call_id,
        )
        status = state.get("status")
        if status == "completed":
            return [call, ToolResult(call_id, str(state.get("output", "")))]
        if status == "error":
            return [call, ToolResult(call_id, str(state.get("error", "")), is_error=True)]
        return [call]
