"""The shared SQL for the mayor's conversation (`MayorQueries`, a mixin of `Tx`, like
`RunQueries`). One conversation per town: messages are only ever appended.

Besides the `user` and `assistant` messages, the table keeps the summaries of older turns
(role `summary`, see `gastown.mayor.context`): they are part of the record, with the tokens
and cost of the model call that made them, but never part of the conversation itself."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.record import Record

if TYPE_CHECKING:
    from gastown.store.sql import Executor

MAYOR_COLUMNS = (
    "id, role, content, input_tokens, output_tokens, cost_usd, created_at, cache_tokens, model"
)
SEEN_KEY = "mayor.seen_event"
"""The `meta` key holding the id of the last event the mayor's notes have covered."""
SUMMARY = "summary"
"""The role of a summary of older turns."""
_TALK = "role IN ('user', 'assistant')"


class MayorMessage(Record):
    """One message of the mayor's conversation, in the Anthropic Messages shape."""

    id: int
    """Order of the message in the conversation (the id given on insert is ignored)."""
    role: str
    """`user` (the user's words, or tool results), `assistant` (the model's reply), or
    `summary` (a summary of older turns)."""
    content: Any
    """A string, or a list of content blocks (text, tool_use, tool_result); for a summary,
    `{"through": <id of the last message it covers>, "text": ...}`."""
    input_tokens: int = 0
    """Input tokens of the model reply that produced this message (assistant messages)."""
    output_tokens: int = 0
    """Output tokens of that reply."""
    cost_usd: float | None = None
    """What that reply cost, by the price table; None when unknown."""
    created_at: str = ""
    """When it was said (RFC 3339, UTC)."""
    cache_tokens: int = 0
    """The part of `input_tokens` read from or written to the prompt cache."""
    model: str | None = None
    """The model that gave that reply, as the API named it."""


class MayorUsage(Record):
    """Tokens and cost summed over the whole conversation."""

    messages: int = 0
    """Messages of the conversation (the user's, tool results and the model's replies)."""
    summaries: int = 0
    """Summaries of older turns made along the way (their tokens and cost are included)."""
    input_tokens: int = 0
    """Input tokens of every reply, summaries' included."""
    output_tokens: int = 0
    """Output tokens of every reply, summaries' included."""
    cost_usd: float = 0.0
    """Sum of the known costs; replies of unpriced models count as 0."""


def message_of(row: Sequence[Any]) -> MayorMessage:
    """The message a row of the mayor's conversation holds."""
    return MayorMessage(
        int(row[0]),
        row[1],
        json.loads(row[2]),
        int(row[3]),
        int(row[4]),
        None if row[5] is None else float(row[5]),
        row[6],
        int(row[7]),
        row[8],
    )


class MayorQueries:
    """Appending to and reading the mayor's conversation."""

    db: Executor

    def insert_mayor_message(self, m: MayorMessage) -> int:
        """Append one message; returns its id."""
        row = self.db.execute(
            "INSERT INTO mayor_messages "
            "(role, content, input_tokens, output_tokens, cost_usd, created_at, cache_tokens, "
            "model) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                m.role,
                json.dumps(m.content, ensure_ascii=False),
                m.input_tokens,
                m.output_tokens,
                m.cost_usd,
                m.created_at,
                m.cache_tokens,
                m.model,
            ),
        ).fetchone()
        return int(row[0])

    def mayor_messages(
        self, *, last: int | None = None, since: int | None = None, before: int | None = None
    ) -> list[MayorMessage]:
        """The conversation in order (summaries left out): only ids ≥ `since` and < `before`
        when given, and of those only the `last` few."""
        clauses, params = [_TALK], []
        if since is not None:
            clauses.append("id >= ?")
            params.append(since)
        if before is not None:
            clauses.append("id < ?")
            params.append(before)
        where = " WHERE " + " AND ".join(clauses)
        tail = f" ORDER BY id DESC LIMIT {int(last)}" if last is not None else " ORDER BY id"
        rows = self.db.execute(
            f"SELECT {MAYOR_COLUMNS} FROM mayor_messages{where}{tail}", params
        ).fetchall()
        found = [message_of(r) for r in rows]
        return found[::-1] if last is not None else found

    def latest_mayor_summary(self) -> MayorMessage | None:
        """The newest summary of older turns, if one was made."""
        row = self.db.execute(
            f"SELECT {MAYOR_COLUMNS} FROM mayor_messages WHERE role = ? ORDER BY id DESC LIMIT 1",
            (SUMMARY,),
        ).fetchone()
        return None if row is None else message_of(row)

    def mayor_seen_event(self) -> int:
        """The id of the last event already told to the mayor (0 before its first turn)."""
        return int(self.mayor_meta(SEEN_KEY) or 0)

    def set_mayor_seen_event(self, event_id: int) -> None:
        """Remember that the events up to `event_id` have been told to the mayor."""
        self.set_mayor_meta(SEEN_KEY, str(event_id))

    def mayor_meta(self, key: str) -> str | None:
        """A value the mayor keeps in `meta` (keys begin with `mayor.`), or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_mayor_meta(self, key: str, value: str) -> None:
        """Keep `value` under `key` in `meta`, replacing what was there."""
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def mayor_usage(self) -> MayorUsage:
        """Tokens and cost of the whole conversation, summaries included."""
        row = self.db.execute(
            f"SELECT COALESCE(SUM(CASE WHEN {_TALK} THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN role = ? THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), "
            "COALESCE(SUM(cost_usd), 0) FROM mayor_messages",
            (SUMMARY,),
        ).fetchone()
        return MayorUsage(int(row[0]), int(row[1]), int(row[2]), int(row[3]), float(row[4]))
