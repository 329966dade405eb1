"""A script of model replies, and the record of every request it answered.

The file format is documented in `gastown.scripted` (the package docstring).
"""

from __future__ import annotations

import json
import threading
import tomllib
from pathlib import Path
from typing import Any

from gastown.errors import UsageError
from gastown.record import Record, field


class Usage(Record):
    """Token counts a reply reports, mapped onto each API's own usage fields."""

    input_tokens: int = 0
    """Input tokens not read from or written to a cache."""
    output_tokens: int = 0
    """Tokens of the reply itself."""
    cache_read_tokens: int = 0
    """Input tokens served from the prompt cache."""
    cache_write_tokens: int = 0
    """Input tokens written to the prompt cache."""

    @property
    def prompt_tokens(self) -> int:
        """All input tokens, cached or not: what OpenAI calls prompt (or input) tokens."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


class ToolCall(Record):
    """One tool the model asks the client to run."""

    name: str
    """The tool's name, as the client declared it."""
    arguments: dict[str, Any] = field(default_factory=dict)
    """The call's arguments; sent as a JSON object (Anthropic) or JSON text (OpenAI)."""
    id: str = ""
    """The call id; one is made up from the reply's position when empty."""


class Reply(Record):
    """One answer of the model: text, tool calls, or both."""

    text: str = ""
    """What the model says; may be empty when it only calls tools."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Tools to call, in order, after the text."""
    usage: Usage = field(default_factory=Usage)
    """Token counts reported with this reply."""
    match: str | None = None
    """When set, this reply answers only a request whose latest user or tool-result message
    contains this text."""
    model: str | None = None
    """When set, this reply answers only a request naming exactly this model (agent CLIs send
    side requests, such as a title for the session, to a smaller model)."""
    repeat: bool = False
    """When true, the reply is never used up: it answers every request it fits, which suits a
    catch-all for side requests."""

    @property
    def specific(self) -> bool:
        """Whether the reply is limited by `match` or `model`, and so wins over a general one."""
        return self.match is not None or self.model is not None

    def fits(self, latest: str, model: str) -> bool:
        """Whether the reply may answer a request with this latest message and model."""
        return (self.match is None or self.match in latest) and (
            self.model is None or self.model == model
        )


class Logged(Record):
    """One request the server received."""

    api: str
    """`anthropic`, `chat` (OpenAI Chat Completions), `responses` (OpenAI Responses) or
    `gemini`."""
    path: str
    """The URL path that was called."""
    body: dict[str, Any]
    """The request body as the client sent it."""
    latest: str
    """The text of the latest user or tool-result message, which `match` looks at."""
    reply: int | None
    """The index of the reply that answered it; None when the script had none left."""

    def to_json(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self.__fields__}


class ScriptExhausted(Exception):
    """No reply is left that can answer a request; the server turns it into an API error."""


class Script:
    """Ordered replies, each used once, and the log of the requests they answered.

    A request gets the first unused reply it fits (`match` in its latest message, `model` its
    model) that has a `match` or a `model`; failing that, the first unused reply with neither.
    Replies with `repeat` are never used up. Safe to call from several threads.
    """

    def __init__(self, replies: list[Reply], *, log_path: Path | None = None) -> None:
        self.replies = replies
        self.log_path = log_path
        self.requests: list[Logged] = []
        self._used = [False] * len(replies)
        self._lock = threading.Lock()

    def answer(
        self, api: str, path: str, body: dict[str, Any], latest: str, *, model: str | None = None
    ) -> Reply:
        """The reply for this request, logged; raises ScriptExhausted when none is left.
        `model` is the model the request names, when not in its body (Gemini's is in the path)."""
        with self._lock:
            named = model if model is not None else str(body.get("model") or "")
            index = self._pick(latest, named)
            entry = Logged(api=api, path=path, body=body, latest=latest, reply=index)
            self.requests.append(entry)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
            if index is None:
                raise ScriptExhausted(self._exhausted_message(latest))
            self._used[index] = not self.replies[index].repeat
            return self.replies[index]

    @property
    def remaining(self) -> int:
        """How many replies have not been used yet."""
        return self._used.count(False)

    def _pick(self, latest: str, model: str) -> int | None:
        fallback = None
        for i, reply in enumerate(self.replies):
            if self._used[i] or not reply.fits(latest, model):
                continue
            if reply.specific:
                return i
            fallback = i if fallback is None else fallback
        return fallback

    def _exhausted_message(self, latest: str) -> str:
        shown = latest if len(latest) <= 80 else latest[:77] + "..."
        if self.remaining == 0:
            why = f"all {len(self.replies)} replies have been used"
        else:
            why = f"none of the {self.remaining} unused replies fits {shown!r}"
        return f"The scripted model has no reply left for this request: {why}."


def load(path: Path, *, log_path: Path | None = None) -> Script:
    """Read a script from a `.toml` or `.json` file; UsageError names what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read the script file {path}: {exc.strerror}.") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"The script file {path} is not valid: {exc}.") from exc
    return parse(data, log_path=log_path, source=str(path))


def parse(data: Any, *, log_path: Path | None = None, source: str = "script") -> Script:
    """A script from already-decoded data: `{"replies": [...]}` or a bare list of replies."""
    items = data.get("replies") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise UsageError(f"The {source} needs a list of replies under `replies`.")
    replies = [_reply(item, f"{source} reply {i + 1}") for i, item in enumerate(items)]
    return Script(replies, log_path=log_path)


def _reply(item: Any, where: str) -> Reply:
    if not isinstance(item, dict):
        raise UsageError(f"The {where} must be a table (an object).")
    unknown = set(item) - {"text", "tool_calls", "usage", "match", "model", "repeat"}
    if unknown:
        raise UsageError(f"The {where} has unknown keys: {', '.join(sorted(unknown))}.")
    text = item.get("text", "")
    match, model, repeat = item.get("match"), item.get("model"), item.get("repeat", False)
    if not isinstance(text, str) or not all(
        v is None or isinstance(v, str) for v in (match, model)
    ):
        raise UsageError(f"The {where} needs `text`, `match` and `model` to be strings.")
    if not isinstance(repeat, bool):
        raise UsageError(f"The {where} needs `repeat` to be true or false.")
    calls = [_tool_call(c, where) for c in item.get("tool_calls", [])]
    if not text and not calls:
        raise UsageError(f"The {where} has neither `text` nor `tool_calls`.")
    usage = item.get("usage", {})
    fields = set(Usage.__fields__)
    if not isinstance(usage, dict) or set(usage) - fields:
        raise UsageError(f"The {where} has a `usage` with keys other than {sorted(fields)}.")
    if not all(isinstance(v, int) and v >= 0 for v in usage.values()):
        raise UsageError(f"The {where} needs `usage` counts to be whole numbers ≥ 0.")
    return Reply(
        text=text,
        tool_calls=calls,
        usage=Usage(**usage),
        match=match,
        model=model,
        repeat=repeat,
    )


def _tool_call(item: Any, where: str) -> ToolCall:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise UsageError(f"The {where} has a tool call without a `name`.")
    arguments = item.get("arguments", {})
    if not isinstance(arguments, dict):
        raise UsageError(f"The {where} has tool call arguments that are not a table.")
    return ToolCall(name=item["name"], arguments=arguments, id=str(item.get("id", "")))
