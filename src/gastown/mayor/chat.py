"""One turn of the mayor: the user's words in, tool calls run through the town's services, a
reply out, every message kept in the town's one conversation.

    store the user's words, after notes of what happened in the town since the last turn
    take the earlier turns that fit the budget (summarising older ones when they overflow it)
    repeat (at most `max_steps` times):
        send the summary, those turns and this turn to the model, store its reply
        no tool calls: the turn is over
        run each call (an error becomes an error result), record a `mayor.tool_call` event,
        store the results
"""

from __future__ import annotations

from typing import Any

from gastown.llm import Client, OnText, Reply
from gastown.mayor import context, notes, tools
from gastown.mayor.context import Budget
from gastown.mayor.secrets import scrub
from gastown.record import Record, field, replace
from gastown.services.ledger import append
from gastown.store.mayor import MayorMessage

MAX_STEPS = 12
"""Model replies in one turn before the mayor stops, tool calls or not."""

EVENT_RESULT_CHARS = 2000
"""A tool result longer than this is cut in its event (the model still gets all of it)."""


class ToolRecord(Record):
    """One tool call of a turn and what came of it."""

    name: str
    """The tool called."""
    input: Any
    """The arguments it was called with."""
    ok: bool
    """Whether it did what was asked (False: `result` says why not)."""
    result: Any
    """What it gave back to the model."""

    def to_json(self) -> dict[str, Any]:
        """The call as `gt mayor ask --json` prints it."""
        return {"name": self.name, "input": self.input, "ok": self.ok, "result": self.result}


class TurnResult(Record):
    """What one turn produced."""

    reply: str
    """The mayor's answer, in words."""
    tool_calls: list[ToolRecord] = field(default_factory=list)
    """The tools it called on the way, in order."""
    input_tokens: int = 0
    """Input tokens of every request of the turn."""
    output_tokens: int = 0
    """Output tokens of every request of the turn."""
    cost_usd: float | None = None
    """None when the model has no price in the table."""
    stopped: bool = False
    """True when the step limit ended the turn."""
    notes: str = ""
    """The notes block put before the user's words (empty when nothing happened)."""

    def to_json(self) -> dict[str, Any]:
        """The turn as `gt mayor ask --json` prints it."""
        return {
            "reply": self.reply,
            "tool_calls": [c.to_json() for c in self.tool_calls],
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cost_usd": self.cost_usd,
            },
            "notes": self.notes,
        }


class Mayor(Record):
    """The mayor of one town, talking to one model."""

    ctx: tools.Context
    """What its tools act on: the ledger, the town and the environment."""
    client: Client
    """The mayor's model client."""
    system: str
    """Its system prompt."""
    secrets: list[str] = field(default_factory=list)
    """Values never to send or store (from `env_vars` and `model_api_key`)."""
    budget: Budget = field(default_factory=Budget)
    """How much of the earlier turns each request carries; older ones are summarised."""
    max_steps: int = MAX_STEPS
    """Model requests one turn may make before it is ended."""

    def ask(self, text: str, on_text: OnText | None = None) -> TurnResult:
        """Run one turn for the user's `text`; with `on_text`, the text of each model reply
        is given to it as it arrives (replies after the first begin with a blank line)."""
        first, told = self._open_turn(text)
        result = TurnResult(reply="", notes=told)
        before = self._earlier(first.id, result)
        system = scrub(context.system_with(self.system, before.summary), self.secrets)
        sent = _wire(before.messages, self.secrets)
        turn = [first]
        stream = _Stream(on_text) if on_text is not None else None
        for _ in range(self.max_steps):
            reply = self.client.send(
                system,
                sent + _wire(well_formed(turn), self.secrets),
                tools.specs(),
                stream.piece if stream is not None else None,
            )
            if stream is not None:
                stream.fresh = True
            cost = self._count(reply, result)
            turn.append(self._store("assistant", reply.content, reply, cost))
            if reply.text:
                result.reply = reply.text
            if not reply.calls:
                return result
            blocks = [self._call(c.id, c.name, c.input, result) for c in reply.calls]
            turn.append(self._store("user", blocks))
        result.stopped = True
        result.reply = (result.reply + "\n\n" if result.reply else "") + (
            f"(The mayor stopped after {self.max_steps} steps of tool calls.)"
        )
        return result

    def close(self) -> None:
        """Close the model client's connections."""
        self.client.close()

    def _call(self, call_id: str, name: str, args: Any, result: TurnResult) -> dict[str, Any]:
        outcome = tools.perform(self.ctx, name, args)
        text = tools.result_text(outcome)
        result.tool_calls.append(ToolRecord(name, args, outcome.ok, outcome.result))
        ledger = self.ctx.ledger
        shown = text if len(text) <= EVENT_RESULT_CHARS else text[:EVENT_RESULT_CHARS] + "…"
        with ledger.store.transaction() as tx:
            append(
                tx,
                [
                    ledger.event(
                        "mayor.tool_call",
                        after=scrub(
                            {"name": name, "input": args, "ok": outcome.ok, "result": shown},
                            self.secrets,
                        ),
                    )
                ],
            )
        return {
            "type": "tool_result",
            "tool_use_id": call_id,
            "content": text,
            "is_error": not outcome.ok,
        }

    def _earlier(self, before: int, result: TurnResult) -> context.Earlier:
        """The earlier turns this turn sends and the summary of older ones; when they overflow
        the budget, the oldest are summarised first (one model call, counted in `result`)."""
        with self.ctx.ledger.store.reader() as tx:
            summary, messages = context.earlier(tx, before, self.budget)
        text = summary.content["text"] if summary is not None else ""
        dropped, kept = context.choose(messages, self.budget)
        if not dropped:
            return context.Earlier(text, well_formed(kept))
        reply = context.summarise(self.client, text, dropped, self.secrets)
        made = context.record(
            dropped[-1].id, reply, self._count(reply, result), self.ctx.ledger.now()
        )
        made = replace(made, content=scrub(made.content, self.secrets))
        with self.ctx.ledger.store.transaction() as tx:
            tx.insert_mayor_message(made)
        return context.Earlier(made.content["text"], well_formed(kept))

    def _count(self, reply: Reply, result: TurnResult) -> float | None:
        """Add a reply's tokens and cost to the turn's; its cost."""
        cost = _cost(reply)
        result.input_tokens += reply.input_tokens
        result.output_tokens += reply.output_tokens
        if cost is not None:
            result.cost_usd = (result.cost_usd or 0.0) + cost
        return cost

    def _open_turn(self, text: str) -> tuple[MayorMessage, str]:
        """Store the user's words, led by the notes of events since the last turn, in one
        transaction so that each event is told exactly once; the message and the notes."""
        with self.ctx.ledger.store.transaction() as tx:
            told = notes.take(tx)
            content = f"{told}\n\n{text}" if told else text
            message = MayorMessage(
                id=0,
                role="user",
                content=scrub(content, self.secrets),
                created_at=self.ctx.ledger.now(),
            )
            return replace(message, id=tx.insert_mayor_message(message)), told

    def _store(
        self, role: str, content: Any, reply: Reply | None = None, cost: float | None = None
    ) -> MayorMessage:
        message = MayorMessage(
            id=0,
            role=role,
            content=scrub(content, self.secrets),
            input_tokens=reply.input_tokens if reply else 0,
            output_tokens=reply.output_tokens if reply else 0,
            cost_usd=cost,
            created_at=self.ctx.ledger.now(),
            cache_tokens=reply.cache_read_tokens + reply.cache_write_tokens if reply else 0,
            model=reply.model or None if reply else None,
        )
        with self.ctx.ledger.store.transaction() as tx:
            return replace(message, id=tx.insert_mayor_message(message))


class _Stream:
    """Passes the text of a turn's replies on as it arrives, a blank line between replies."""

    def __init__(self, out: OnText) -> None:
        self.out = out
        self.spoken = False
        self.fresh = True
        """No text of the current reply has been passed on yet."""

    def piece(self, text: str) -> None:
        if not text:
            return
        if self.spoken and self.fresh:
            self.out("\n\n")
        self.out(text)
        self.spoken, self.fresh = True, False


def well_formed(messages: list[MayorMessage]) -> list[MayorMessage]:
    """`messages` with tool calls that never got results (a turn cut short by a crash) reduced
    to their text, since the APIs refuse a tool call without its result."""
    out: list[MayorMessage] = []
    for i, message in enumerate(messages):
        m, calls = message, _tool_uses(message)
        if calls:
            after = messages[i + 1] if i + 1 < len(messages) else None
            answered = {
                b.get("tool_use_id")
                for b in (after.content if after and isinstance(after.content, list) else [])
                if isinstance(b, dict) and b.get("type") == "tool_result"
            }
            if not calls <= answered:
                text = [b for b in m.content if b.get("type") == "text"]
                if not text:
                    continue
                m = replace(m, content=text)
        out.append(m)
    return out


def _wire(messages: list[MayorMessage], secrets: list[str]) -> list[dict[str, Any]]:
    """Messages as the API takes them, secrets masked."""
    return scrub([{"role": m.role, "content": m.content} for m in messages], secrets)  # type: ignore[no-any-return]


def _tool_uses(m: MayorMessage) -> set[str]:
    if m.role != "assistant" or not isinstance(m.content, list):
        return set()
    return {b["id"] for b in m.content if isinstance(b, dict) and b.get("type") == "tool_use"}


def _cost(reply: Reply) -> float | None:
    from gastown.runtimes.prices import call_cost

    # cached input is priced at the cache's rate (a tenth of the input's, for Claude)
    return call_cost(
        reply.model,
        reply.input_tokens,
        reply.output_tokens,
        reply.cache_read_tokens,
        reply.cache_write_tokens,
    )
