"""The Anthropic Messages API (`POST /v1/messages`), answered from a script.

Non-streamed requests get one `message` object. Streamed ones get the event sequence Claude
Code and the SDKs read: `message_start`, then per content block `content_block_start`,
`content_block_delta` (`text_delta` or `input_json_delta`) and `content_block_stop`, then
`message_delta` (stop reason and usage) and `message_stop`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gastown.scripted.script import Reply, Usage
from gastown.scripted.wire import arguments_json, chunks, sse, text_of


def latest_message(body: dict[str, Any]) -> str:
    """The text of the last user message: its text blocks and tool results."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def usage_json(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }


def blocks(reply: Reply, serial: int) -> list[dict[str, Any]]:
    """The reply's content blocks: its text, then one `tool_use` per tool call."""
    out: list[dict[str, Any]] = []
    if reply.text:
        out.append({"type": "text", "text": reply.text})
    for i, call in enumerate(reply.tool_calls):
        out.append(
            {
                "type": "tool_use",
                "id": call.id or f"toolu_scripted_{serial}_{i}",
                "name": call.name,
                "input": call.arguments,
            }
        )
    return out


def stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool_calls else "end_turn"


def message(reply: Reply, model: str, serial: int) -> dict[str, Any]:
    """The whole `message` object for a non-streamed request."""
    return {
        "id": f"msg_scripted_{serial}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks(reply, serial),
        "stop_reason": stop_reason(reply),
        "stop_sequence": None,
        "usage": usage_json(reply.usage),
    }


def stream(reply: Reply, model: str, serial: int) -> Iterator[str]:
    """The server-sent events of a streamed reply."""
    start = message(reply, model, serial)
    start.update(
        content=[], stop_reason=None, usage={**usage_json(reply.usage), "output_tokens": 0}
    )
    yield sse({"type": "message_start", "message": start}, "message_start")
    for index, block in enumerate(blocks(reply, serial)):
        if block["type"] == "text":
            empty, kind, key, pieces = {**block, "text": ""}, "text_delta", "text", block["text"]
        else:
            empty, kind, key = {**block, "input": {}}, "input_json_delta", "partial_json"
            pieces = arguments_json(block["input"])
        yield sse(
            {"type": "content_block_start", "index": index, "content_block": empty},
            "content_block_start",
        )
        for piece in chunks(pieces):
            delta = {"type": kind, key: piece}
            yield sse(
                {"type": "content_block_delta", "index": index, "delta": delta},
                "content_block_delta",
            )
        yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
    yield sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(reply), "stop_sequence": None},
            "usage": usage_json(reply.usage),
        },
        "message_delta",
    )
    yield sse({"type": "message_stop"}, "message_stop")


def error(message_text: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    """An Anthropic error body."""
    return {"type": "error", "error": {"type": kind, "message": message_text}}
