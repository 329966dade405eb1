"""Small pieces shared by the three APIs: server-sent events, text chunks, message text."""

from __future__ import annotations

import json
from typing import Any

CHUNK = 16
"""Streamed text and tool arguments go out in pieces of this many characters, so that
clients see several deltas, as from a real model."""


def chunks(text: str, size: int = CHUNK) -> list[str]:
    """`text` cut into pieces of `size` characters (none for empty text)."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def sse(data: dict[str, Any] | str, event: str | None = None) -> str:
    """One server-sent event; `data` is sent as JSON unless it is already text."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"


def text_of(content: Any) -> str:
    """The plain text in a message's content: a string, or a list of parts holding `text`
    (text, input_text, output_text) or nested content (Anthropic tool_result)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [text_of(part) for part in content]
        return "\n".join(p for p in parts if p)
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            return str(content["text"])
        if "content" in content:
            return text_of(content["content"])
        if "output" in content:
            return text_of(content["output"])
    return ""


def arguments_json(arguments: dict[str, Any]) -> str:
    """Tool arguments as the compact JSON text OpenAI sends."""
    return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
