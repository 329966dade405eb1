"""The Gemini API (`POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent` and
`:countTokens`), answered from a script.

The model is named in the path, not the body. A reply is one `GenerateContentResponse`: one
candidate whose `content` (role `model`) holds a `text` part, then one `functionCall` part per
tool call (`name`, `args` as an object), with `finishReason` `STOP` and `usageMetadata`.
Streamed (`?alt=sse`), it is a series of such responses as `data:` events: the text in pieces,
then each function call whole (Gemini never splits one), then a last chunk carrying the finish
reason and the usage. Gemini counts cached tokens inside `promptTokenCount`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from gastown.scripted.script import Reply, Usage
from gastown.scripted.wire import chunks, sse, text_of

METHODS = ("generateContent", "streamGenerateContent", "countTokens")
"""The methods served after `models/{model}:`."""


def split_target(target: str) -> tuple[str, str]:
    """`gemini-2.5-pro:generateContent` as its model and method (the method empty if none)."""
    model, _, method = target.rpartition(":")
    return (model, method) if model else (target, "")


def latest_contents(body: dict[str, Any]) -> str:
    """The text of the user turns after the model's last turn: their text parts and function
    responses (a function's result comes back in a `user` turn)."""
    found: list[str] = []
    contents = body.get("contents")
    for turn in reversed(contents if isinstance(contents, list) else []):
        if not isinstance(turn, dict):
            continue
        if turn.get("role") == "model":
            break
        parts = turn.get("parts")
        found += [_part_text(p) for p in reversed(parts if isinstance(parts, list) else [])]
    return "\n".join(t for t in reversed(found) if t)


def _part_text(part: Any) -> str:
    if not isinstance(part, dict):
        return ""
    answer = part.get("functionResponse")
    if isinstance(answer, dict):
        response = answer.get("response")
        return text_of(response) or json.dumps(response, ensure_ascii=False)
    return text_of(part)


def usage_metadata(usage: Usage) -> dict[str, int]:
    prompt = usage.prompt_tokens  # cached tokens included, as Gemini counts them
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": usage.output_tokens,
        "cachedContentTokenCount": usage.cache_read_tokens,
        "totalTokenCount": prompt + usage.output_tokens,
    }


def parts(reply: Reply) -> list[dict[str, Any]]:
    """The reply's parts: its text, then one `functionCall` per tool call. A call's id is sent
    only when the script gives one: the hosted API sends none, and clients make their own."""
    out: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
    for call in reply.tool_calls:
        function: dict[str, Any] = {"name": call.name, "args": call.arguments}
        if call.id:
            function["id"] = call.id
        out.append({"functionCall": function})
    return out


def _response(
    content_parts: list[dict[str, Any]], model: str, serial: int, finish: bool, usage: Usage | None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": content_parts}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    out: dict[str, Any] = {
        "candidates": [candidate],
        "modelVersion": model,
        "responseId": f"scripted-{serial}",
    }
    if usage is not None:
        out["usageMetadata"] = usage_metadata(usage)
    return out


def generate(reply: Reply, model: str, serial: int) -> dict[str, Any]:
    """The whole response for `generateContent`."""
    return _response(parts(reply), model, serial, True, reply.usage)


def stream(reply: Reply, model: str, serial: int) -> Iterator[str]:
    """The server-sent events of `streamGenerateContent?alt=sse`."""
    pieces = [{"text": piece} for piece in chunks(reply.text)]
    pieces += [p for p in parts(reply) if "functionCall" in p]
    # The finish reason and usage ride on the last chunk, as the hosted API sends them.
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        yield sse(_response([piece], model, serial, last, reply.usage if last else None))


def count_tokens(body: bytes) -> dict[str, int]:
    """A rough count; clients use it for display and budgeting only."""
    return {"totalTokens": max(1, len(body) // 4)}


STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND"}


def error(message: str, reason: str = "", code: int = 400) -> dict[str, Any]:
    """A Google API error body; `reason` (such as `script_exhausted`) goes in its details."""
    body: dict[str, Any] = {"code": code, "message": message, "status": STATUS.get(code, "UNKNOWN")}
    if reason:
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return {"error": body}
