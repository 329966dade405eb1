"""What the town spends on models: tokens and USD rolled up by bead, convoy, rig, agent,
runtime, model or day, with the spend whose cost is unknown counted apart, never as 0 USD.

`rollup` and `spent` are the questions the CLI, the dashboard and budgets ask; the sums are
made by the database (`store/costs.py`). A run's spend is dated when it ended (an active
run's, when it was made); a day is a UTC day.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from gastown.errors import InvalidValue, NotFound
from gastown.record import Record
from gastown.store.costs import API, BY, MAYOR, SpendRow

if TYPE_CHECKING:
    from datetime import datetime

    from gastown.store import Tx

__all__ = ["API", "BY", "MAYOR", "Spend", "SpendRow", "check_by", "parse_since", "rollup", "spent"]

_DAYS = re.compile(r"(\d{1,5})d")


class Spend(Record):
    """Tokens and USD of one group of model calls (runs, mayor replies, reviews)."""

    key: str | None
    """The bead, convoy, rig, agent, runtime, model or day (YYYY-MM-DD) grouped by; `mayor`
    for the mayor's spend where it has none; None where a polecat's run has none (a bead in
    no convoy, a run whose runtime named no model); `""` for everything together."""
    calls: int = 0
    """Runs and model calls counted."""
    tokens_in: int = 0
    """All input tokens, cache reads and writes included."""
    tokens_out: int = 0
    """All output tokens."""
    tokens_cache: int = 0
    """The part of `tokens_in` read from or written to the prompt cache."""
    usd: float = 0.0
    """The sum of the known costs."""
    unknown: int = 0
    """Calls whose cost is unknown (no cost reported, no price in the table): not in `usd`."""
    unknown_tokens: int = 0
    """Their input and output tokens."""

    def to_json(self) -> dict[str, Any]:
        """The figures as `gt costs --json` prints them (dollars to six places)."""
        out = {name: getattr(self, name) for name in self.__fields__}
        out["usd"] = round(self.usd, 6)
        return out


def check_by(by: str | None) -> str | None:
    """`by` if it is one of `BY` (or None); else an input error."""
    if by is None or by in BY:
        return by
    raise InvalidValue(
        f"Costs cannot be grouped by '{by}'.", hint=f"Use --by with one of: {', '.join(BY)}."
    )


def parse_since(text: str | None, now: datetime) -> str | None:
    """The start of a `--since`: a date (`2026-01-31`, from its start in UTC), an ISO date
    and time (without an offset, UTC), `today`, or `Nd` (the last N days, today included);
    as an RFC 3339 stamp that compares with the ledger's times."""
    if text is None:
        return None
    from datetime import UTC, datetime, timedelta  # only when asked: `gt costs` starts fast

    given = text.strip().lower()
    days = 1 if given == "today" else None
    if (match := _DAYS.fullmatch(given)) is not None:
        days = int(match.group(1))
    if days is not None:
        if days < 1:
            raise InvalidValue("--since 0d covers no day.", hint="Use 1d for today, 7d for a week.")
        start = day_start(now) - timedelta(days=days - 1)
        return _stamp(start)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(
            f"'{text}' is not a date.",
            hint="Use --since with YYYY-MM-DD, an ISO date and time, `today` or a number of "
            "days such as 7d.",
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _stamp(value)


def day_start(now: datetime) -> datetime:
    """Midnight UTC of `now`'s day: where today's spend starts (daily budgets)."""
    from datetime import UTC

    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def rollup(
    tx: Tx,
    by: str | None = None,
    *,
    since: str | None = None,
    rig: str | None = None,
    bead_id: str | None = None,
    convoy_id: str | None = None,
) -> list[Spend]:
    """The spend grouped by `by` (one of `BY`; None: one row, or none if nothing was
    spent), filtered as given. An unknown rig is refused."""
    check_by(by)
    if rig is not None and tx.get_rig(rig) is None:
        raise NotFound(f"There is no rig '{rig}'.", hint="`gt rig list` shows the town's rigs.")
    rows = tx.spend_rollup(by, since=since, rig=rig, bead_id=bead_id, convoy_id=convoy_id)
    return [Spend(*row) for row in rows]


def spent(
    tx: Tx,
    *,
    since: str | None = None,
    rig: str | None = None,
    bead_id: str | None = None,
    convoy_id: str | None = None,
    agent: str | None = None,
) -> Spend:
    """Everything spent on a bead, a convoy, a rig, by an agent and/or since a time, as one
    `Spend` (key `""`): what budgets check. Costs no model call, one indexed query."""
    rows = tx.spend_rollup(
        None, since=since, rig=rig, bead_id=bead_id, convoy_id=convoy_id, agent=agent
    )
    return Spend(*rows[0]) if rows else Spend("")


def per_day(tx: Tx, now: datetime, days: int = 14) -> list[Spend]:
    """The town's spend on each of the last `days` UTC days, today last, a day that spent
    nothing included (as zeros)."""
    from datetime import timedelta

    start = day_start(now) - timedelta(days=days - 1)
    spent_on = {r.key: r for r in rollup(tx, "day", since=_stamp(start))}
    keys = [(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    return [spent_on.get(key) or Spend(key) for key in keys]


def total(rows: list[Spend]) -> Spend:
    """The rows added up (pure)."""
    out = Spend("")
    for r in rows:
        out.calls += r.calls
        out.tokens_in += r.tokens_in
        out.tokens_out += r.tokens_out
        out.tokens_cache += r.tokens_cache
        out.usd += r.usd
        out.unknown += r.unknown
        out.unknown_tokens += r.unknown_tokens
    return out


def describe(s: Spend) -> str:
    """One line for people: `1,200 tokens in (600 cache), 80 out, $0.5000 in 2 calls`, and
    how many of those calls have no known cost (pure)."""
    if not s.calls:
        return "nothing spent yet"
    text = (
        f"{s.tokens_in:,} tokens in ({s.tokens_cache:,} cache), {s.tokens_out:,} out, "
        f"${s.usd:.4f} in {s.calls} call{'s' if s.calls != 1 else ''}"
    )
    if s.unknown:
        text += f"; {s.unknown} of unknown cost ({s.unknown_tokens:,} tokens, not in the USD)"
    return text


def record(tx: Tx, row: SpendRow) -> None:
    """Keep a model call that is not a run (a review, ...) so that it counts."""
    tx.insert_spend(row)


def _stamp(moment: datetime) -> str:
    from datetime import UTC

    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
