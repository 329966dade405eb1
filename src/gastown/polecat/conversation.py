"""A transcript read as a conversation: what the agent said, each tool call on one line with
its result, errors marked, and the tokens and cost spent so far.

The transcript stores one JSON event per line (`gastown.runtimes.events`); a person wants
fewer, fuller lines. `Conversation` folds events into `Line`s as they come, so the same
reading serves a whole transcript, its tail, and a run followed live (`gt peek -f`, the
dashboard's agent page and side panel). A tool call waits for its result to share its line;
a reader following a live run calls `flush()` after each read, so a call still running is
shown at once and its result, when it comes, follows as a line of its own (`result`, with
the call's id so a page can fill in the line it already shows).
"""

from __future__ import annotations

import json
from typing import Any

from gastown.record import Record

ARG_KEYS = ("command", "cmd", "path", "file_path", "filePath", "pattern", "url", "query")
"""The arguments that say most about a tool call, in the order they are looked for."""
ARG_WIDTH = 80
RESULT_WIDTH = 100


class Line(Record):
    """One line of the conversation.

    `kind` is one of: `start`, `say` (the agent's words), `think`, `stderr`, `tool` (a call
    with its result, or still `running`), `result` (the result of a call shown earlier),
    `error`, `spent` (running tokens and cost), `unread` (lines no adapter understood),
    `end`."""

    kind: str
    text: str
    at: str = ""
    """`HH:MM:SS` (UTC) of the read that wrote it; empty when the event had no stamp."""
    failed: bool = False
    running: bool = False
    call_id: str = ""
    count: int = 1
    """For `unread`: how many lines it stands for."""

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__fields__}


def short(text: str, width: int) -> str:
    """One line of at most `width` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def tool_argument(arguments: Any) -> str:
    """The one argument of a call that says what it does (a command, a path, ...)."""
    if not isinstance(arguments, dict) or not arguments:
        return ""
    for key in ARG_KEYS:
        if isinstance(arguments.get(key), str | list):
            value = arguments[key]
            return short(" ".join(map(str, value)) if isinstance(value, list) else value, ARG_WIDTH)
    first = next((v for v in arguments.values() if isinstance(v, str) and v.strip()), None)
    if first is not None:
        return short(first, ARG_WIDTH)
    return short(json.dumps(arguments, ensure_ascii=False), ARG_WIDTH)


def first_line(output: str) -> str:
    """A result's first non-empty line, and how many more it had."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return "(no output)"
    more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    return short(lines[0], RESULT_WIDTH) + more


class Conversation:
    """Folds transcript events (dicts as stored) into lines, keeping running totals."""

    def __init__(self) -> None:
        self.held: list[Line] = []
        """Lines not given out yet: from the first call still waiting for its result on."""
        self.calls: dict[str, tuple[Line, str]] = {}
        """Calls waiting for their result (held, or shown as running): line and tool."""
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost: float | None = None
        self._unnamed = 0

    def feed(self, event: dict[str, Any]) -> list[Line]:
        """The lines that are complete once `event` is read."""
        at = str(event.get("at", ""))[11:19]
        kind = event.get("kind")
        if kind == "tool_call":
            self._call(event, at)
        elif kind == "tool_result":
            self._result(event, at)
        elif kind in ("usage", "cost"):
            self._spend(event, at)
        elif kind == "end":
            return [*self.flush(), _end(event, at)]
        else:
            self._add(_plain(event, at))
        return self._release()

    def feed_all(self, events: list[dict[str, Any]]) -> list[Line]:
        return [line for event in events for line in self.feed(event)]

    def flush(self) -> list[Line]:
        """Everything held: calls without a result yet are shown as running."""
        out, self.held = self.held, []
        for line in out:
            if line.kind == "tool" and line.call_id in self.calls and not line.failed:
                line.running = True
                line.text += " …"
        return out

    def spent(self) -> str:
        """The running totals in words."""
        cost = "cost unknown" if self.cost is None else f"${self.cost:.4f}"
        return f"{self.tokens_in:,} tokens in, {self.tokens_out:,} out, {cost} so far"

    def _add(self, line: Line) -> None:
        last = self.held[-1] if self.held else None
        if line.kind == "unread" and last is not None and last.kind == "unread":
            last.count += 1
            last.text = _unread(last.count)
            return
        self.held.append(line)

    def _release(self) -> list[Line]:
        """Give out held lines up to the first that may still change: a call waiting for its
        result, or a last `spent` or `unread` line that the next event may add to."""
        out: list[Line] = []
        while self.held:
            line = self.held[0]
            waiting = line.kind == "tool" and line.call_id in self.calls and not line.running
            growing = line.kind in ("spent", "unread") and len(self.held) == 1
            if waiting or growing:
                break
            out.append(self.held.pop(0))
        return out

    def _call(self, event: dict[str, Any], at: str) -> None:
        tool = str(event.get("tool", "?"))
        if not (call_id := str(event.get("call_id") or "")):
            self._unnamed += 1
            call_id = f"#{self._unnamed}"
        line = Line("tool", f"→ {tool} {tool_argument(event.get('input'))}".rstrip(), at)
        line.call_id = call_id
        self.calls[call_id] = (line, tool)
        self.held.append(line)

    def _result(self, event: dict[str, Any], at: str) -> None:
        call_id = str(event.get("call_id") or "")
        if not call_id and self.calls:  # a CLI without call ids: the latest call
            call_id = next(reversed(self.calls))
        found = self.calls.pop(call_id, None)
        failed = bool(event.get("is_error"))
        said = ("✗ " if failed else "← ") + first_line(str(event.get("output", "")))
        if found is not None and not found[0].running:
            line = found[0]
            line.text += "  " + said
            line.failed = failed
            return
        tool = found[1] if found else "tool"
        self._add(Line("result", f"{tool} {said}", at, failed=failed, call_id=call_id))

    def _spend(self, event: dict[str, Any], at: str) -> None:
        if event.get("kind") == "usage":
            self.tokens_in += int(event.get("input_tokens") or 0)
            self.tokens_in += int(event.get("cache_read_tokens") or 0)
            self.tokens_in += int(event.get("cache_write_tokens") or 0)
            self.tokens_out += int(event.get("output_tokens") or 0)
        else:
            self.cost = (self.cost or 0.0) + float(event.get("usd") or 0.0)
        last = self.held[-1] if self.held else None
        if last is not None and last.kind == "spent":
            last.text, last.at = "· " + self.spent(), at
        else:
            self.held.append(Line("spent", "· " + self.spent(), at))


def _plain(event: dict[str, Any], at: str) -> Line:
    kind = event.get("kind")
    if kind == "text":
        role = str(event.get("role", "assistant"))
        text = str(event.get("text", "")).strip()
        if role == "reasoning":
            return Line("think", f"(thinking) {text}", at)
        if role == "stderr":
            return Line("stderr", f"(stderr) {text}", at)
        return Line("say", text, at)
    if kind == "error":
        return Line("error", f"✗ error: {event.get('message', '')}", at, failed=True)
    if kind == "start":
        model = f" ({event['model']})" if event.get("model") else ""
        return Line("start", f"started session {event.get('session_id', '')}{model}".strip(), at)
    raw = str(event.get("raw", ""))
    if raw and not raw.lstrip().startswith(("{", "[")):  # plain words the CLI printed
        return Line("stderr", short(raw, 300), at)
    return Line("unread", _unread(1), at)


def _unread(count: int) -> str:
    lines = "a line" if count == 1 else f"{count} lines"
    return f"({lines} of the runtime's output not understood; --raw shows them)"


def _end(event: dict[str, Any], at: str) -> Line:
    ok = bool(event.get("ok"))
    summary = str(event.get("summary") or "").strip()
    text = f"ended ({'ok' if ok else 'failed'}, exit {event.get('exit_status')})"
    return Line("end", text + (f": {short(summary, 300)}" if summary else ""), at, failed=not ok)


def as_text(line: Line) -> str:
    """A line as plain text, its time first."""
    return f"{line.at or '--:--:--'}  {line.text}".rstrip()


def read(events: list[dict[str, Any]]) -> list[str]:
    """A whole stretch of transcript as plain lines, calls still running shown as such."""
    talk = Conversation()
    return [as_text(line) for line in [*talk.feed_all(events), *talk.flush()]]
