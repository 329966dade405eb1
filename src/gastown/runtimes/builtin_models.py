"""The built-in agent's two model clients, behind one tiny protocol.

A `Model` holds the conversation in its API's own message format: `ask` sends it (with the tool
definitions) and adds the reply, `tell` adds the results of the reply's tool calls. `anthropic`
speaks the Anthropic Messages API with the official `anthropic` SDK; `openai` speaks OpenAI
Chat Completions with the official `openai` SDK, which covers OpenRouter, Kilo Gateway, Ollama
and vLLM through their base URLs (these end in `/v1`). Each SDK is imported only when its client
is made, so a run loads one of them and the `gt` CLI neither.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from gastown.record import Record, field
from gastown.runtimes.builtin_tools import TOOLS, Call, Outcome, schema
from gastown.runtimes.events import Usage

MAX_TOKENS = 8192
"""The Anthropic API needs a cap on each reply's length; OpenAI servers pick their own."""


class Turn(Record):
    """One reply of the model."""

    text: str = ""
    calls: list[Call] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class ModelError(Exception):
    """The model API failed (unreachable, refused the key, returned an error)."""


class Model(Protocol):
    """A conversation with one model API."""

    def ask(self) -> Turn:
        """Send the conversation; the reply is returned and added to it."""
        ...

    def tell(self, results: list[tuple[Call, Outcome]]) -> None:
        """Add the results of the last reply's tool calls."""
        ...


def api_for(model: str, base_url: str) -> str:
    """`anthropic` for Claude models, an Anthropic URL, or nothing given at all; else `openai`."""
    if "claude" in model.lower() or "anthropic" in base_url.lower():
        return "anthropic"
    return "anthropic" if not model and not base_url else "openai"


def make(api: str, model: str, base_url: str, api_key: str, system: str, prompt: str) -> Model:
    """The client for `api`; an empty base URL or key leaves the SDK's own default in charge."""
    if api == "anthropic":
        return AnthropicModel(model or "claude-sonnet-4-5", base_url, api_key, system, prompt)
    if api == "openai":
        return OpenAIModel(model or "gpt-5-mini", base_url, api_key, system, prompt)
    raise ModelError(f"Unknown API {api!r}: GT_BUILTIN_API is `anthropic` or `openai`.")


class AnthropicModel:
    """The Anthropic Messages API."""

    def __init__(self, model: str, base_url: str, api_key: str, system: str, prompt: str) -> None:
        import anthropic

        self.sdk = anthropic
        self.client = anthropic.Anthropic(api_key=api_key or None, base_url=base_url or None)
        self.model, self.system = model, system
        self.messages: list[Any] = [{"role": "user", "content": prompt}]
        self.tools = [
            {"name": name, "description": tool.description, "input_schema": schema(tool)}
            for name, tool in TOOLS.items()
        ]

    def ask(self) -> Turn:
        try:
            reply = self.client.messages.create(
                model=self.model,
                max_tokens=MAX_TOKENS,
                system=self.system,
                messages=self.messages,
                tools=self.tools,  # type: ignore[arg-type]
            )
        except self.sdk.AnthropicError as exc:
            raise ModelError(f"The Anthropic API failed: {exc}") from exc
        content: list[dict[str, Any]] = []
        turn = Turn()
        for block in reply.content:
            if block.type == "text":
                content.append({"type": "text", "text": block.text})
                turn.text += block.text
            elif block.type == "tool_use":
                content.append(
                    {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
                )
                args = block.input if isinstance(block.input, dict) else {}
                problem = "" if isinstance(block.input, dict) else "The input is not an object."
                turn.calls.append(Call(block.id, block.name, args, problem))
        self.messages.append({"role": "assistant", "content": content})
        u = reply.usage
        turn.usage = Usage(
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cache_read_tokens=u.cache_read_input_tokens or 0,
            cache_write_tokens=u.cache_creation_input_tokens or 0,
            model=reply.model or self.model,
        )
        return turn

    def tell(self, results: list[tuple[Call, Outcome]]) -> None:
        blocks = [
            {
                "type": "tool_result",
                "tool_use_id": c.id,
                "content": o.output,
                "is_error": o.is_error,
            }
            for c, o in results
        ]
        self.messages.append({"role": "user", "content": blocks})


class OpenAIModel:
    """OpenAI Chat Completions, as OpenAI and the OpenAI-compatible servers speak it."""

    def __init__(self, model: str, base_url: str, api_key: str, system: str, prompt: str) -> None:
        import os

        import openai

        self.sdk = openai
        # Local servers (Ollama, vLLM) want no key, but the SDK refuses to start without one.
        key = api_key or os.environ.get("OPENAI_API_KEY") or "none"
        self.client = openai.OpenAI(api_key=key, base_url=base_url or None)
        self.model = model
        self.messages: list[Any] = [
            {"role": "system", "content": system},
            {"role": "user", "content": prompt},
        ]
        self.tools: list[Any] = [
            {
                "type": "function",
                "function": {"name": n, "description": t.description, "parameters": schema(t)},
            }
            for n, t in TOOLS.items()
        ]

    def ask(self) -> Turn:
        try:
            reply = self.client.chat.completions.create(
                model=self.model, messages=self.messages, tools=self.tools
            )
        except self.sdk.OpenAIError as exc:
            raise ModelError(f"The OpenAI-compatible API failed: {exc}") from exc
        if not reply.choices:
            raise ModelError("The OpenAI-compatible API returned no choices.")
        message = reply.choices[0].message
        turn = Turn(text=message.content or "")
        calls: list[dict[str, Any]] = []
        for tc in message.tool_calls or []:
            if tc.type != "function":
                continue
            fn = tc.function
            calls.append(
                {
                    "id": tc.id,
                    "type": "function",
                    "function": {"name": fn.name, "arguments": fn.arguments},
                }
            )
            turn.calls.append(parse_call(tc.id, fn.name, fn.arguments))
        said: dict[str, Any] = {"role": "assistant", "content": message.content}
        self.messages.append({**said, "tool_calls": calls} if calls else said)
        if reply.usage is not None:
            details = reply.usage.prompt_tokens_details
            cached = (details.cached_tokens or 0) if details is not None else 0
            turn.usage = Usage(
                input_tokens=reply.usage.prompt_tokens - cached,
                output_tokens=reply.usage.completion_tokens,
                cache_read_tokens=cached,
                model=reply.model or self.model,
            )
        else:
            turn.usage = Usage(model=reply.model or self.model)
        return turn

    def tell(self, results: list[tuple[Call, Outcome]]) -> None:
        # Chat Completions has no error flag on tool messages: the text says it instead.
        for call, outcome in results:
            text = f"Error: {outcome.output}" if outcome.is_error else outcome.output
            self.messages.append({"role": "tool", "tool_call_id": call.id, "content": text})


def parse_call(call_id: str, name: str, arguments: str) -> Call:
    """A call from OpenAI's JSON-text arguments; unreadable ones become the call's problem."""
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        return Call(call_id, name, problem=f"The arguments of `{name}` are not valid JSON.")
    if not isinstance(args, dict):
        return Call(call_id, name, problem=f"The arguments of `{name}` are not a JSON object.")
    return Call(call_id, name, args)
