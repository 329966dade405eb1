"""The one place that talks to model APIs: the Anthropic Messages API and OpenAI Chat
Completions, each through its official SDK.

    api = api_for(model, base_url)
    client = make(api, model, base_url, api_key, role="mayor")
    reply = client.send(system, messages, tools, on_text)   # text, calls, tokens, model

The conversation is held by the caller in the Anthropic Messages shape, whatever the API (a
user message is a string or a list of `tool_result` blocks; an assistant message is a list of
`text` and `tool_use` blocks, which is what `Reply.content` is). `AnthropicClient` sends it as
it is; `OpenAIClient` translates it with `to_chat` for OpenAI and the OpenAI-compatible servers
(OpenRouter, Kilo Gateway, Ollama, vLLM). Either reply comes back as one `Reply`, and every
failure of either API as one `ModelFailure`, a sentence naming the role that asked. Each SDK is
imported only when its client is made, so the `gt` CLI loads neither.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from gastown.errors import RuntimeFailure
from gastown.record import Record, field

MAX_TOKENS = 4096
"""The Anthropic API needs a cap on each reply's length; OpenAI servers pick their own."""


class Call(Record):
    """One tool call the model asked for."""

    id: str
    """The API's id of the call, to answer it by."""
    name: str
    """The tool called."""
    input: Any
    """The arguments as the model sent them: an object, unless the model erred (then OpenAI's
    text when it is not JSON at all)."""
    problem: str = ""
    """Why `input` is not an object the tool can take; empty when it is."""


class Reply(Record):
    """One reply of the model."""

    content: list[dict[str, Any]]
    """The reply as Anthropic content blocks, ready to be added to the conversation."""
    text: str = ""
    """What the model said, its text blocks joined."""
    calls: list[Call] = field(default_factory=list)
    """The tools it called, in order."""
    input_tokens: int = 0
    """All input tokens, cache reads and writes included."""
    output_tokens: int = 0
    """Output tokens."""
    cache_read_tokens: int = 0
    """The part of `input_tokens` read from the prompt cache."""
    cache_write_tokens: int = 0
    """The part of `input_tokens` written to the prompt cache."""
    model: str = ""
    """The model that answered, as the API names it."""


class ModelFailure(RuntimeFailure):
    """The model API failed: unreachable, refused the key, or answered with an error."""


OnText = Callable[[str], None]
"""Called with each piece of a reply's text as it arrives."""


class Client(Protocol):
    """A model API to send conversations to."""

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


def api_for(model: str, base_url: str, otherwise: str = "anthropic") -> str:
    """The API a model or URL names: `anthropic` for Claude or an Anthropic URL, `openai` for
    GPT, an OpenAI URL, Ollama or a `/v1` URL; for names that give nothing away, `otherwise`
    (`anthropic` when nothing is given at all)."""
    hint = f"{model} {base_url}".lower()
    if "claude" in hint or "anthropic" in hint:
        return "anthropic"
    if any(w in hint for w in ("gpt", "openai", "/v1", "ollama")):
        return "openai"
    return otherwise if model or base_url else "anthropic"


def make(
    api: str,
    model: str,
    base_url: str,
    api_key: str,
    *,
    role: str = "",
    max_tokens: int = MAX_TOKENS,
) -> Client:
    """The client for `api` (`anthropic` or `openai`) and `model`. An empty `base_url` or
    `api_key` leaves the SDK's own default in charge (its environment variable; a local server
    that wants no key gets `none`). `role` ("mayor", "reviewer") names who asks in failures:
    "The mayor's model API failed: …"; without it, they name the API."""
    if api == "openai":
        return OpenAIClient(model, base_url, api_key, role)
    if api == "anthropic":
        return AnthropicClient(model, base_url, api_key, role, max_tokens)
    raise ModelFailure(f"Unknown model API {api!r}: it is `anthropic` or `openai`.")


class _Wording:
    """The sentences of a client's failures, naming its role or else its API."""

    def __init__(self, role: str, api_name: str) -> None:
        self.role, self.api_name = role, api_name
        self.subject = f"The {role}'s model API" if role else f"The {api_name} API"

    def unreachable(self, exc: Exception) -> ModelFailure:
        if self.role:
            return ModelFailure(f"The {self.role} cannot reach its model: {exc}")
        return ModelFailure(f"Cannot reach the {self.api_name} API: {exc}")

    def failed(self, exc: Exception) -> ModelFailure:
        return ModelFailure(f"{self.subject} failed: {exc}")


class AnthropicClient:
    """The Anthropic Messages API through the official SDK."""

    def __init__(
        self, model: str, base_url: str, api_key: str, role: str = "", max_tokens: int = MAX_TOKENS
    ) -> None:
        import anthropic

        self.sdk = anthropic
        self.wording = _Wording(role, "Anthropic")
        try:
            self.client = anthropic.Anthropic(api_key=api_key or None, base_url=base_url or None)
        except anthropic.AnthropicError as exc:
            raise self.wording.unreachable(exc) from exc
        self.model, self.max_tokens = model, max_tokens

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def send(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[Any],
        on_text: OnText | None = None,
    ) -> Reply:
        """One request: the model's reply to `messages`, with `tools` on offer."""
        # A request with no tools leaves the list out: some servers refuse an empty one.
        given: dict[str, Any] = {"tools": tools} if tools else {}
        asked: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": system,
            "messages": messages,
            **given,
        }
        try:
            if on_text is None:
                got = self.client.messages.create(**asked)
            else:
                with self.client.messages.stream(**asked) as stream:
                    for piece in stream.text_stream:
                        on_text(piece)
                    got = stream.get_final_message()
        except self.sdk.AnthropicError as exc:
            raise self.wording.failed(exc) from exc
        reply = Reply(content=[], model=got.model or self.model)
        for block in got.content:
            if block.type == "text":
                reply.content.append({"type": "text", "text": block.text})
                reply.text += block.text
            elif block.type == "tool_use":
                reply.content.append(
                    {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
                )
                reply.calls.append(
                    Call(block.id, block.name, block.input, _not_object(block.name, block.input))
                )
        u = got.usage
        reply.cache_read_tokens = u.cache_read_input_tokens or 0
        reply.cache_write_tokens = u.cache_creation_input_tokens or 0
        reply.input_tokens = u.input_tokens + reply.cache_read_tokens + reply.cache_write_tokens
        reply.output_tokens = u.output_tokens
        return reply


class OpenAIClient:
    """OpenAI Chat Completions through the official SDK, for OpenAI-compatible servers."""

    def __init__(self, model: str, base_url: str, api_key: str, role: str = "") -> None:
        import openai

        self.sdk = openai
        self.wording = _Wording(role, "OpenAI-compatible")
        # Local servers (Ollama, vLLM) want no key, but the SDK refuses to start without one.
        key = api_key or os.environ.get("OPENAI_API_KEY") or "none"
        self.client = openai.OpenAI(api_key=key, base_url=base_url or None)
        self.model = model

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def send(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[Any],
        on_text: OnText | None = None,
    ) -> Reply:
        """One completion; with `on_text`, streamed, its text given to `on_text` as it
        arrives."""
        given: dict[str, Any] = {"tools": chat_tools(tools)} if tools else {}
        sent = [{"role": "system", "content": system}, *to_chat(messages)]
        try:
            if on_text is not None:
                return self._streamed(sent, given, on_text)
            got = self.client.chat.completions.create(
                model=self.model,
                messages=sent,  # type: ignore[arg-type]
                **given,
            )
        except self.sdk.OpenAIError as exc:
            raise self.wording.failed(exc) from exc
        if not got.choices:
            raise ModelFailure(f"{self.wording.subject} returned no choices.")
        message = got.choices[0].message
        calls = [
            (tc.id, tc.function.name, tc.function.arguments)
            for tc in message.tool_calls or []
            if tc.type == "function"
        ]
        return self._reply(message.content or "", calls, got.model, got.usage)

    def _streamed(
        self, sent: list[dict[str, Any]], given: dict[str, Any], on_text: OnText
    ) -> Reply:
        """A streamed completion: text deltas go to `on_text` as they come; tool calls are
        put together from their pieces (by index); usage comes in the last chunk."""
        text: list[str] = []
        pieces: dict[int, list[str]] = {}
        model = ""
        usage = None
        stream = self.client.chat.completions.create(  # type: ignore[call-overload]
            model=self.model,
            messages=sent,
            stream=True,
            stream_options={"include_usage": True},
            **given,
        )
        with stream:
            for chunk in stream:
                model = chunk.model or model
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        on_text(delta.content)
                    for tc in delta.tool_calls or []:
                        at = pieces.setdefault(tc.index, ["", "", ""])
                        at[0] = tc.id or at[0]
                        if tc.function is not None:
                            at[1] = tc.function.name or at[1]
                            at[2] += tc.function.arguments or ""
        calls = [(i, name, args) for _, (i, name, args) in sorted(pieces.items())]
        return self._reply("".join(text), calls, model, usage)

    def _reply(
        self, text: str, calls: Sequence[tuple[str, str, str | None]], model: str, usage: Any
    ) -> Reply:
        """One reply from a completion's parts, streamed or not (`usage` may be None)."""
        reply = Reply(content=[], text=text, model=model or self.model)
        if usage is not None:
            details = usage.prompt_tokens_details
            reply.cache_read_tokens = (details.cached_tokens or 0) if details is not None else 0
            reply.input_tokens = usage.prompt_tokens
            reply.output_tokens = usage.completion_tokens
        if text:
            reply.content.append({"type": "text", "text": text})
        for call_id, name, arguments in calls:
            call = parse_call(call_id, name, arguments)
            reply.content.append(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}
            )
            reply.calls.append(call)
        return reply


def parse_call(call_id: str, name: str, arguments: str | None) -> Call:
    """A call from OpenAI's JSON-text arguments; unreadable ones keep their text as the input
    and say why in the call's `problem`, for the tool to tell the model."""
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        return Call(call_id, name, arguments, f"The arguments of `{name}` are not valid JSON.")
    return Call(call_id, name, args, _not_object(name, args))


def _not_object(name: str, args: Any) -> str:
    return "" if isinstance(args, dict) else f"The arguments of `{name}` are not a JSON object."


def chat_tools(tools: list[Any]) -> list[dict[str, Any]]:
    """Tool definitions (`name`, `description`, `input_schema`) as Chat Completions functions."""
    return [
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


def to_chat(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anthropic-shaped messages as Chat Completions messages. Chat Completions has no error
    flag on tool results: an error's text says so instead."""
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
