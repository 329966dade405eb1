"""The one event model every agent runtime's output is mapped to.

An adapter turns each stdout line of its CLI into zero or more of these; the town stores them in
the run's transcript as JSON lines and adds up `Usage` and `Cost` for the run's tokens and cost.

    start        the agent's own session began (session id, model)
    text         something the agent said (or thought, `role="reasoning"`)
    tool_call    the agent invoked a tool
    tool_result  what the tool returned
    usage        tokens spent since the previous usage event (a delta, never a running total)
    cost         USD spent since the previous cost event, from the CLI or the price table
    error        the agent or its CLI reported a failure
    end          the process ended: exit status, whether it succeeded, summary, session id
    unknown      a line no adapter rule matched, kept verbatim so nothing is lost
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from gastown.record import Record, field


class Event(Record):
    """Base of all events; `kind` names the event in JSON."""

    kind: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: `kind` first, then every field."""
        return {"kind": self.kind, **{name: getattr(self, name) for name in self.__fields__}}

    def dumps(self) -> str:
        """One compact JSON line, as stored in transcripts."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))


class Start(Event):
    kind = "start"
    session_id: str
    """The CLI's own session or thread id (resume with it)."""
    model: str = ""
    """The model the CLI says it uses; empty when it does not say."""


class Text(Event):
    kind = "text"
    text: str
    role: str = "assistant"
    """`assistant` for what the agent says, `reasoning` for its visible thinking."""


class ToolCall(Event):
    kind = "tool_call"
    tool: str
    """The tool's name as the CLI reports it (`Bash`, `shell`, `write_file`, …)."""
    input: dict[str, Any] = field(default_factory=dict)
    """The arguments the agent passed."""
    call_id: str = ""
    """Pairs the call with its `ToolResult`; empty when the CLI gives none."""


class ToolResult(Event):
    kind = "tool_result"
    call_id: str
    output: str = ""
    is_error: bool = False


class Usage(Event):
    kind = "usage"
    input_tokens: int = 0
    """Input tokens read fresh: not counting cache reads and cache writes."""
    output_tokens: int = 0
    """Output tokens, reasoning included."""
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    model: str = ""


class Cost(Event):
    kind = "cost"
    usd: float
    source: str = "cli"
    """`cli` when the agent CLI reported it, `table` when computed from our price table."""


class Error(Event):
    kind = "error"
    message: str


class End(Event):
    kind = "end"
    exit_status: int | None
    """The process's exit status; None when it was killed by a signal or never started."""
    ok: bool = False
    """Exit status 0 and no failure reported by the CLI."""
    summary: str = ""
    """The agent's final message, when the CLI gives one."""
    session_id: str = ""


class Unknown(Event):
    kind = "unknown"
    raw: str
    """The line exactly as the CLI printed it (without its newline)."""


KINDS: dict[str, type[Event]] = {
    cls.kind: cls for cls in (Start, Text, ToolCall, ToolResult, Usage, Cost, Error, End, Unknown)
}


def event_from_json(data: Any) -> Event | None:
    """The event a `to_json` dict describes, or None when it is not one."""
    if not isinstance(data, dict):
        return None
    cls = KINDS.get(data.get("kind", ""))
    if cls is None:
        return None
    values = {k: v for k, v in data.items() if k in cls.__fields__}
    try:
        return cls(**values)
    except TypeError:  # a required field is missing
        return None


def loads(line: str) -> Event:
    """Parse one transcript line; anything that is not an event comes back as `Unknown`."""
    try:
        data = json.loads(line)
    except ValueError:
        return Unknown(line)
    return event_from_json(data) or Unknown(line)


class Totals(Record):
    """What a run spent, added up from its events."""

    input_tokens: int = 0
    """Input tokens read fresh."""
    output_tokens: int = 0
    """Output tokens."""
    cache_read_tokens: int = 0
    """Input tokens read from the prompt cache."""
    cache_write_tokens: int = 0
    """Input tokens written to the prompt cache."""
    cost_usd: float | None = None
    """None when no cost was reported or could be priced: unknown, not zero."""


def totals(events: list[Event]) -> Totals:
    """Sum the usage and cost deltas of a run."""
    out = Totals()
    for event in events:
        if isinstance(event, Usage):
            out.input_tokens += event.input_tokens
            out.output_tokens += event.output_tokens
            out.cache_read_tokens += event.cache_read_tokens
            out.cache_write_tokens += event.cache_write_tokens
        elif isinstance(event, Cost):
            out.cost_usd = (out.cost_usd or 0.0) + event.usd
    return out
