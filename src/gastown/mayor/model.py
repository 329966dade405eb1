"""The mayor's model clients: one request in, one reply out, conversation kept by the caller.

The conversation is held in the Anthropic Messages shape (a user message is a string or a list
of `tool_result` blocks; an assistant message is a list of `text` and `tool_use` blocks), which
is also how the store keeps it. `AnthropicClient` sends it as it is with the official
`anthropic` SDK; `OpenAIClient` translates it to Chat Completions for OpenAI-compatible servers
(OpenRouter, Kilo Gateway, Ollama, vLLM). Each SDK is imported only when its client is made.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from gastown.errors import RuntimeFailure
from gastown.record import Record, field

MAX_TOKENS = 4096
"""The Anthropic API needs a cap on each reply's length."""


class Call(Record):
    """One tool call the model asked for."""

    id: str
    name: str
    input: Any
    """The arguments as the model sent them (an object, unless the model erred)."""


class Reply(Record):
    """One reply of the model."""

    content: list[dict[str, Any]]
    """The reply as Anthropic content blocks, ready to be stored."""
    text: str = ""
    calls: list[Call] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""


class ModelFailure(RuntimeFailure):
    """The model API failed: unreachable, refused the key, or answered with an error."""


OnText = Callable[[str], None]
"""Called with each piece of a reply's text as it arrives."""


class Client(Protocol):
    """A model API the mayor can talk to."""

    def send(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[Any],
        on_text: OnText | None = None,
    ) -> Reply:
        """Send the conversation with the tool definitions (`name`, `description`,
        `input_schema`); the model's reply comes back. With `on_text`, the reply's text is
        also given to it as it arrives (streamed, where the client can)."""
        ...

    def close(self) -> None:
        """Close the client's connections."""
        ...


def make(api: str, model: str, base_url: str, api_key: str) -> Client:
    """The client for `api` (`anthropic` or `openai`)."""
    if api == "openai":
        return OpenAIClient(model or "gpt-5-mini", base_url, api_key)
    return AnthropicClient(model or "claude-haiku-4-5", base_url, api_key)


def api_for(model: str, base_url: str) -> str:
    """`openai` for a model or URL that names OpenAI-compatible hosting; else `anthropic`."""
    hint = f"{model} {base_url}".lower()
    if "claude" in hint or "anthropic" in hint:
        return "anthropic"
    return "openai" if any(w in hint for w in ("gpt", "openai", "/v1", "ollama")) else "anthropic"


class AnthropicClient:
    """The Anthropic Messages API through the official SDK."""

    def __init__(self, model: str, base_url: str, api_key: str) -> None:
        import anthropic

        self.sdk = anthropic
        try:
            self.client = anthropic.Anthropic(api_key=api_key or None, base_url=base_url or None)
        except anthropic.AnthropicError as exc:  # no key given and none in the environment
            raise ModelFailure(f"The mayor cannot reach its model: {exc}") from exc
        self.model = model

    def close(self) -> None:
        self.client.close()

    def send(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[Any],
        on_text: OnText | None = None,
    ) -> Reply:
        # A request with no tools leaves the list out: some servers refuse an empty one.
        given: dict[str, Any] = {"tools": tools} if tools else {}
        try:
            if on_text is None:
                got = self.client.messages.create(
                    model=self.model,
                    max_tokens=MAX_TOKENS,
                    system=system,
                    messages=messages,  # type: ignore[arg-type]
                    **given,
                )
            else:
                with self.client.messages.stream(
                    model=self.model,
                    max_tokens=MAX_TOKENS,
                    system=system,
                    messages=messages,  # type: ignore[arg-type]
                    **given,
                ) as stream:
                    for piece in stream.text_stream:
                        on_text(piece)
                    got = stream.get_final_message()
        except self.sdk.AnthropicError as exc:
            raise ModelFailure(f"The mayor's model API failed: {exc}") from exc
        reply = Reply(content=[], model=got.model or self.model)
        for block in got.content:
            if block.type == "text":
                reply.content.append({"type": "text", "text": block.text})
                reply.text += block.text
            elif block.type == "tool_use":
                reply.content.append(
                    {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
                )
                reply.calls.append(Call(block.id, block.name, block.input))
        u = got.usage
        reply.input_tokens = (
            u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
        )
        reply.output_tokens = u.output_tokens
        return reply


class OpenAIClient:
    """OpenAI Chat Completions through the official SDK, for OpenAI-compatible servers."""

    def __init__(self, model: str, base_url: str, api_key: str) -> None:
        import openai

        self.sdk = openai
        # Local servers want no key, but the SDK refuses to start without one.
        self.client = openai.OpenAI(api_key=api_key or "none", base_url=base_url or None)
        self.model = model

    def close(self) -> None:
        self.client.close()

    def send(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[Any],
        on_text: OnText | None = None,
    ) -> Reply:
        """One completion; its text goes to `on_text` whole, once it is in (not streamed)."""
        functions = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t["description"],
                    "parameters": t["input_schema"],
                },
            }
            for t in tools
        ]
        given: dict[str, Any] = {"tools": functions} if functions else {}
        try:
            got = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, *to_chat(messages)],  # type: ignore[list-item]
                **given,
            )
        except self.sdk.OpenAIError as exc:
            raise ModelFailure(f"The mayor's model API failed: {exc}") from exc
        if not got.choices:
            raise ModelFailure("The mayor's model API returned no choices.")
        message = got.choices[0].message
        reply = Reply(content=[], text=message.content or "", model=got.model or self.model)
        if reply.text:
            reply.content.append({"type": "text", "text": reply.text})
            if on_text is not None:
                on_text(reply.text)
        for tc in message.tool_calls or []:
            if tc.type != "function":
                continue
            try:
                args: Any = json.loads(tc.function.arguments or "{}")
            except ValueError:
                args = tc.function.arguments  # not JSON: the tool says so to the model
            reply.content.append(
                {"type": "tool_use", "id": tc.id, "name": tc.function.name, "input": args}
            )
            reply.calls.append(Call(tc.id, tc.function.name, args))
        if got.usage is not None:
            reply.input_tokens = got.usage.prompt_tokens
            reply.output_tokens = got.usage.completion_tokens
        return reply


def to_chat(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anthropic-shaped messages as Chat Completions messages."""
    out: list[dict[str, Any]] = []
    for m in messages:
        content = m["content"]
        if isinstance(content, str):
            out.append({"role": m["role"], "content": content})
        elif m["role"] == "assistant":
            text = "".join(b["text"] for b in content if b["type"] == "text")
            calls = [
                {
                    "id": b["id"],
                    "type": "function",
                    "function": {"name": b["name"], "arguments": json.dumps(b["input"])},
                }
                for b in content
                if b["type"] == "tool_use"
            ]
            said: dict[str, Any] = {"role": "assistant", "content": text or None}
            out.append({**said, "tool_calls": calls} if calls else said)
        else:
            for b in content:
                prefix = "Error: " if b.get("is_error") else ""
                out.append(
                    {
                        "role": "tool",
                        "tool_call_id": b["tool_use_id"],
                        "content": prefix + b["content"],
                    }
                )
    return out
