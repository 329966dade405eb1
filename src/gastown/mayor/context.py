"""What of the conversation a request carries: the newest earlier turns that fit a budget, and
a summary of the older ones.

The earlier turns sent are the newest that fit `Budget` (a number of messages and of
characters), cut to begin at a user's own words so that no tool result is parted from its call.
When they no longer fit, the oldest are summarised by one model call (the summary before them
and the turns themselves in, a short summary out), down to half the budget, so that a summary
is made only every few turns. The summary is stored as a `summary` message that names the last
message it covers; it goes in the system prompt of every request after it, until more turns
fall out of the window and the next one replaces it. Nothing leaves the record: summaries are
added beside the messages they summarise.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gastown.llm import Client, Reply
from gastown.mayor.secrets import scrub
from gastown.record import Record
from gastown.store.mayor import SUMMARY, MayorMessage

if TYPE_CHECKING:
    from gastown.store.sql import Tx

HEADER = "Summary of the conversation before the messages below (older turns):"
"""What introduces the summary in the system prompt."""

INSTRUCTIONS = """\
You keep the memory of a conversation between a user and the mayor of a Gas Town (the
coordinator of coding agents). Summarise the conversation below for the mayor, who will see
only your summary and the newest turns. Keep what is still useful: what the user wants and
has decided, the rigs, beads, convoys and settings that were created or changed (with their
ids), open questions and promises. Drop greetings and anything already finished and
irrelevant. Write at most 200 words of plain text, no preamble."""

PART_CHARS = 1500
"""Each message's text is cut to this length in what is given to be summarised."""

SUMMARY_INPUT_CHARS = 60_000
"""At most this much of the dropped turns goes into one summary (the newest part)."""

SUMMARY_CHARS = 4000
"""A longer summary is cut: it rides along with every request until the next one."""


class Budget(Record):
    """How much of the earlier turns each request may carry."""

    messages: int = 40
    """Earlier messages, at most."""
    chars: int = 60_000
    """Characters of earlier messages (their JSON), at most: a rough 15,000 tokens."""


class Earlier(Record):
    """The earlier turns a turn sends, and the summary of those before them."""

    summary: str
    """The summary's text; empty when no turn has been summarised yet."""
    messages: list[MayorMessage]
    """The turns' messages after the summary, oldest first."""


def size(m: MayorMessage) -> int:
    """A message's weight against the budget: the length of its content as JSON."""
    return len(m.content) if isinstance(m.content, str) else len(json.dumps(m.content))


def words(m: MayorMessage) -> bool:
    """Whether the message is the user's own words (where a window may begin)."""
    return m.role == "user" and isinstance(m.content, str)


def fit(messages: list[MayorMessage], messages_limit: int, chars_limit: int) -> int:
    """The index where the newest of `messages` that fit the limits begin, moved forward to
    the first user's words; `len(messages)` when none fit."""
    start, used = len(messages), 0
    for i in range(len(messages) - 1, -1, -1):
        used += size(messages[i])
        if len(messages) - i > messages_limit or used > chars_limit:
            break
        start = i
    while start < len(messages) and not words(messages[start]):
        start += 1
    return start


def earlier(tx: Tx, before: int, budget: Budget) -> tuple[MayorMessage | None, list[MayorMessage]]:
    """The newest summary and the messages after it (up to the message `before`)."""
    summary = tx.latest_mayor_summary()
    since = summary.content["through"] + 1 if summary is not None else None
    # Before the first summary, earlier turns are at most a window and one turn long; a longer
    # conversation (kept before summaries were made) is summarised from its last part only.
    last = None if summary is not None else 2 * budget.messages
    return summary, tx.mayor_messages(since=since, before=before, last=last)


def choose(
    messages: list[MayorMessage], budget: Budget
) -> tuple[list[MayorMessage], list[MayorMessage]]:
    """(the messages to summarise, the messages to send): nothing to summarise while all fit
    the budget; else the oldest, keeping only what fits half of it."""
    if fit(messages, budget.messages, budget.chars) == 0:
        return [], messages
    cut = fit(messages, budget.messages // 2, budget.chars // 2)
    return messages[:cut], messages[cut:]


def summarise(
    client: Client, previous: str, dropped: list[MayorMessage], secrets: list[str]
) -> Reply:
    """One model call: the summary so far and the dropped messages in, a new summary out."""
    text = "\n".join(line for m in dropped for line in transcript(m))
    if len(text) > SUMMARY_INPUT_CHARS:
        text = "(earlier lines left out)\n" + text[-SUMMARY_INPUT_CHARS:]
    before = f"The summary so far:\n{previous}\n\n" if previous else ""
    ask = f"{before}The conversation to add to it:\n{text}"
    return client.send(INSTRUCTIONS, [{"role": "user", "content": scrub(ask, secrets)}], [], None)


def transcript(m: MayorMessage) -> list[str]:
    """A message as lines of plain text, each part cut to `PART_CHARS`."""
    if isinstance(m.content, str):
        return [_cut(f"User: {m.content}")]
    lines = []
    for block in m.content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            lines.append(_cut(f"Mayor: {block['text']}"))
        elif kind == "tool_use":
            args = json.dumps(block.get("input"), ensure_ascii=False)
            lines.append(_cut(f"Mayor called {block.get('name')} {args}"))
        elif kind == "tool_result":
            said = "Error" if block.get("is_error") else "Result"
            lines.append(_cut(f"{said}: {_text(block.get('content'))}"))
    return lines


def record(through: int, reply: Reply, cost: float | None, now: str) -> MayorMessage:
    """The summary message to store for `reply`."""
    return MayorMessage(
        id=0,
        role=SUMMARY,
        content={"through": through, "text": _cut(reply.text.strip(), SUMMARY_CHARS)},
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        cost_usd=cost,
        created_at=now,
        cache_tokens=reply.cache_read_tokens + reply.cache_write_tokens,
        model=reply.model or None,
    )


def system_with(system: str, summary: str) -> str:
    """The system prompt with the summary of older turns after it."""
    return f"{system}\n{HEADER}\n{summary}\n" if summary else system


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)


def _cut(line: str, limit: int = PART_CHARS) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"
