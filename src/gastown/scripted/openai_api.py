"""The OpenAI Chat Completions (`POST /v1/chat/completions`) and Responses (`POST /v1/responses`)
APIs, answered from a script.

Chat Completions streams `chat.completion.chunk` objects: the role, text deltas, `tool_calls`
deltas (id and name first, then argument pieces), a chunk with the finish reason, a usage chunk
with empty `choices` when `stream_options.include_usage` is set, and `[DONE]`.

Responses streams what Codex reads: `response.created`, `response.in_progress`, per output item
`response.output_item.added`, its deltas (`response.output_text.delta` within a content part, or
`response.function_call_arguments.delta`), their `.done` events and `response.output_item.done`,
then `response.completed` carrying the whole response with its usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gastown.scripted.script import Reply, Usage
from gastown.scripted.wire import arguments_json, chunks, sse, text_of


def latest_chat_message(body: dict[str, Any]) -> str:
    """The text of the user and tool messages after the assistant's last turn."""
    return _trailing(body.get("messages"), lambda m: m.get("role") in ("user", "tool"))


def latest_responses_input(body: dict[str, Any]) -> str:
    """The text of the user messages and function call outputs after the model's last turn."""
    given = body.get("input")
    if isinstance(given, str):
        return given
    return _trailing(
        given, lambda m: m.get("role") == "user" or m.get("type") == "function_call_output"
    )


def _trailing(items: Any, wanted: Any) -> str:
    found: list[str] = []
    for item in reversed(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        if item.get("role") == "assistant" or item.get("type") in ("function_call", "reasoning"):
            break
        if wanted(item):
            found.append(text_of(item.get("content", item.get("output"))))
    return "\n".join(reversed(found))


def call_id(reply: Reply, index: int, serial: int) -> str:
    return reply.tool_calls[index].id or f"call_scripted_{serial}_{index}"


def error(message: str, code: str = "invalid_request") -> dict[str, Any]:
    """An OpenAI error body."""
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


# --- Chat Completions ------------------------------------------------------------------------


def chat_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.prompt_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
    }


def chat_tool_calls(reply: Reply, serial: int) -> list[dict[str, Any]]:
    return [
        {
            "id": call_id(reply, i, serial),
            "type": "function",
            "function": {"name": call.name, "arguments": arguments_json(call.arguments)},
        }
        for i, call in enumerate(reply.tool_calls)
    ]


def chat_completion(reply: Reply, model: str, serial: int, created: int) -> dict[str, Any]:
    """The whole `chat.completion` object for a non-streamed request."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = chat_tool_calls(reply, serial)
    return {
        "id": f"chatcmpl-scripted-{serial}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": _finish(reply), "logprobs": None}
        ],
        "usage": chat_usage(reply.usage),
    }


def _finish(reply: Reply) -> str:
    return "tool_calls" if reply.tool_calls else "stop"


def chat_stream(
    reply: Reply, model: str, serial: int, created: int, include_usage: bool
) -> Iterator[str]:
    """The server-sent events of a streamed chat completion."""
    head = {
        "id": f"chatcmpl-scripted-{serial}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return sse({**head, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    for piece in chunks(reply.text):
        yield chunk({"content": piece})
    for i, call in enumerate(chat_tool_calls(reply, serial)):
        fn = call["function"]
        start = {**call, "index": i, "function": {"name": fn["name"], "arguments": ""}}
        yield chunk({"tool_calls": [start]})
        for piece in chunks(fn["arguments"]):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    yield chunk({}, _finish(reply))
    if include_usage:
        yield sse({**head, "choices": [], "usage": chat_usage(reply.usage)})
    yield sse("[DONE]")


# --- Responses -------------------------------------------------------------------------------


def responses_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.prompt_tokens + usage.output_tokens,
    }


def output_items(reply: Reply, serial: int) -> list[dict[str, Any]]:
    """The reply as Responses output items: a message with its text, then function calls."""
    items: list[dict[str, Any]] = []
    if reply.text:
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        items.append(
            {
                "type": "message",
                "id": f"msg_scripted_{serial}",
                "status": "completed",
                "role": "assistant",
                "content": [part],
            }
        )
    for i, call in enumerate(reply.tool_calls):
        items.append(
            {
                "type": "function_call",
                "id": f"fc_scripted_{serial}_{i}",
                "call_id": call_id(reply, i, serial),
                "name": call.name,
                "arguments": arguments_json(call.arguments),
                "status": "completed",
            }
        )
    return items


def response(reply: Reply, model: str, serial: int, created: int) -> dict[str, Any]:
    """The whole `response` object for a non-streamed request (and `response.completed`)."""
    return {
        "id": f"resp_scripted_{serial}",
        "object": "response",
        "created_at": created,
        "status": "completed",
        "model": model,
        "output": output_items(reply, serial),
        "usage": responses_usage(reply.usage),
        "error": None,
        "incomplete_details": None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }


def responses_stream(reply: Reply, model: str, serial: int, created: int) -> Iterator[str]:
    """The server-sent events of a streamed response."""
    numbers = iter(range(1_000_000))

    def event(kind: str, **fields: Any) -> str:
        return sse({"type": kind, "sequence_number": next(numbers), **fields}, kind)

    done = response(reply, model, serial, created)
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    yield event("response.created", response=started)
    yield event("response.in_progress", response=started)
    for index, item in enumerate(done["output"]):
        at = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            part = item["content"][0]
            opened = {**item, "status": "in_progress", "content": []}
            yield event("response.output_item.added", output_index=index, item=opened)
            empty = {**part, "text": ""}
            yield event("response.content_part.added", **at, content_index=0, part=empty)
            for piece in chunks(part["text"]):
                yield event(
                    "response.output_text.delta", **at, content_index=0, delta=piece, logprobs=[]
                )
            text = part["text"]
            yield event("response.output_text.done", **at, content_index=0, text=text, logprobs=[])
            yield event("response.content_part.done", **at, content_index=0, part=part)
        else:
            opened = {**item, "status": "in_progress", "arguments": ""}
            yield event("response.output_item.added", output_index=index, item=opened)
            for piece in chunks(item["arguments"]):
                yield event("response.function_call_arguments.delta", **at, delta=piece)
            args = item["arguments"]
            yield event(
                "response.function_call_arguments.done", **at, name=item["name"], arguments=args
            )
        yield event("response.output_item.done", output_index=index, item=item)
    yield event("response.completed", response=done)
