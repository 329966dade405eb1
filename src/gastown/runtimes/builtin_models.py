"""The built-in agent's conversation with its model, behind one tiny protocol.

A `Model` keeps the conversation: `ask` sends it (with the tool definitions) and adds the
reply, `tell` adds the results of the reply's tool calls. `Conversation` is the one kind there
is: it keeps the messages in the Anthropic shape and sends them through a `gastown.llm`
client, which speaks the Anthropic Messages API, or OpenAI Chat Completions for OpenAI and the
OpenAI-compatible servers (OpenRouter, Kilo Gateway, Ollama, vLLM, through their base URLs). The
client imports its SDK only when it is made, so a run loads one of them and the `gt` CLI neither.
"""

from __future__ import annotations

from typing import Any, Protocol

from gastown import llm
from gastown.llm import ModelFailure
from gastown.record import Record, field
from gastown.runtimes.builtin_tools import TOOLS, Call, Outcome, schema
from gastown.runtimes.events import Usage

MAX_TOKENS = 8192
"""The Anthropic API needs a cap on each reply's length; OpenAI servers pick their own."""

DEFAULT_MODELS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-5-mini"}
"""The model each API gets when `GT_BUILTIN_MODEL` names none."""


class Turn(Record):
    """One reply of the model."""

    text: str = ""
    """What the model said."""
    calls: list[Call] = field(default_factory=list)
    """The tools it called, in order."""
    usage: Usage = field(default_factory=Usage)
    """What the reply cost in tokens."""


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
    return llm.api_for(model, base_url, otherwise="openai")


def make(api: str, model: str, base_url: str, api_key: str, system: str, prompt: str) -> Model:
    """The conversation over `api`; an empty base URL or key leaves the SDK's default in charge."""
    if api not in DEFAULT_MODELS:
        raise ModelFailure(f"Unknown API {api!r}: GT_BUILTIN_API is `anthropic` or `openai`.")
    name = model or DEFAULT_MODELS[api]
    client = llm.make(api, name, base_url, api_key, max_tokens=MAX_TOKENS)
    return Conversation(client, system, prompt)


class Conversation:
    """The conversation, in the Anthropic shape, sent through one `gastown.llm` client."""

    def __init__(self, client: llm.Client, system: str, prompt: str) -> None:
        self.client, self.system = client, system
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        self.tools = [
            {"name": name, "description": tool.description, "input_schema": schema(tool)}
            for name, tool in TOOLS.items()
        ]

    def ask(self) -> Turn:
        """The model's next reply to the conversation so far (kept in it)."""
        reply = self.client.send(self.system, self.messages, self.tools)
        self.messages.append({"role": "assistant", "content": reply.content})
        cached = reply.cache_read_tokens + reply.cache_write_tokens
        usage = Usage(
            input_tokens=reply.input_tokens - cached,
            output_tokens=reply.output_tokens,
            cache_read_tokens=reply.cache_read_tokens,
            cache_write_tokens=reply.cache_write_tokens,
            model=reply.model,
        )
        calls = [Call(c.id, c.name, {} if c.problem else c.input, c.problem) for c in reply.calls]
        return Turn(reply.text, calls, usage)

    def tell(self, results: list[tuple[Call, Outcome]]) -> None:
        """Give the model what its tool calls returned."""
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
