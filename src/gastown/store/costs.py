"""The shared SQL for what the town spends on models (`CostQueries`, a mixin of `Tx`).

Spend comes from three places, read alike: polecat runs (`runs`), the mayor's replies
(`mayor_messages`) and the model calls that are neither, such as the refinery reviewer's
(`spend`). A roll-up groups each source in the database and adds the groups of the three
together, so a town of 100,000 runs is summed by an index scan, never row by row in Python.

A cost is known or not: a run with `cost_known = 0`, or a mayor reply or `spend` row whose
`cost_usd` is NULL, adds nothing to the USD and is counted apart (`unknown`, with its tokens);
a call that spent no tokens costs a known 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.record import Record

if TYPE_CHECKING:
    from gastown.store.sql import Executor

BY = ("bead", "convoy", "rig", "agent", "runtime", "model", "day")
"""What a roll-up may group by; None groups everything into one row."""
MAYOR = "mayor"
"""The agent, bead, convoy and rig of the mayor's spend (it belongs to no bead or rig)."""
API = "api"
"""The runtime of a direct call to a model's API, without an agent CLI (mayor, reviewer)."""

_RUN_AT = "COALESCE(r.ended_at, r.created_at)"
_RUN_KEYS = {
    "bead": "r.bead_id",
    "convoy": "b.convoy_id",
    "rig": "r.rig",
    "agent": "r.polecat",
    "runtime": "r.runtime",
    "model": "r.model",
    "day": f"substr({_RUN_AT}, 1, 10)",
}
_MAYOR_KEYS = {
    "bead": f"'{MAYOR}'",
    "convoy": f"'{MAYOR}'",
    "rig": f"'{MAYOR}'",
    "agent": f"'{MAYOR}'",
    "runtime": f"'{API}'",
    "model": "m.model",
    "day": "substr(m.created_at, 1, 10)",
}
_SPEND_KEYS = {
    "bead": "COALESCE(s.bead_id, s.agent)",
    "convoy": "s.convoy_id",
    "rig": "s.rig",
    "agent": "s.agent",
    "runtime": "s.runtime",
    "model": "s.model",
    "day": "substr(s.at, 1, 10)",
}
_SUMS = (
    # FILTER rather than SUM(CASE ...): SQLite sums 100,000 runs a sixth faster so
    "COUNT(*) AS n, SUM({tin}) AS tin, SUM({tout}) AS tout, SUM({cache}) AS cache, "
    "SUM({usd}) FILTER (WHERE {known}) AS usd, "
    "COUNT(*) FILTER (WHERE NOT ({known})) AS unk, "
    "SUM({tin} + {tout}) FILTER (WHERE NOT ({known})) AS unkt"
)


def _sums(tin: str, tout: str, cache: str, usd: str, known: str) -> str:
    return _SUMS.format(tin=tin, tout=tout, cache=cache, usd=usd, known=known)


_RUN_SUMS = _sums(
    "r.tokens_in",
    "r.tokens_out",
    "r.cache_read_tokens + r.cache_write_tokens",
    "r.cost_usd",
    "r.cost_known = 1",
)
_MAYOR_SUMS = _sums(
    "m.input_tokens",
    "m.output_tokens",
    "m.cache_tokens",
    "m.cost_usd",
    "(m.cost_usd IS NOT NULL OR m.input_tokens + m.output_tokens = 0)",
)
_SPEND_SUMS = _sums(
    "s.tokens_in",
    "s.tokens_out",
    "s.cache_tokens",
    "s.cost_usd",
    "(s.cost_usd IS NOT NULL OR s.tokens_in + s.tokens_out = 0)",
)


class SpendRow(Record):
    """One model call that is not a run (the refinery reviewer's, say), as `spend` keeps it."""

    at: str
    """When the call was made (RFC 3339, UTC)."""
    agent: str
    """Who spent it: `reviewer`, ..."""
    runtime: str
    """The agent runtime it ran on, or `api` for a direct call to the model's API."""
    rig: str | None = None
    """The rig it was spent for, if any."""
    bead_id: str | None = None
    """The bead it was spent on, if any."""
    convoy_id: str | None = None
    """The convoy of that bead, if any."""
    mr_id: str | None = None
    """The merge request it was spent on, if any."""
    model: str | None = None
    """The model that answered, as the runtime or API named it."""
    tokens_in: int = 0
    """All input tokens, cache reads and writes included."""
    tokens_out: int = 0
    """Output tokens."""
    cache_tokens: int = 0
    """The part of `tokens_in` read from or written to the prompt cache."""
    cost_usd: float | None = None
    """None when neither the runtime nor the price table gave a cost: unknown, not 0."""


class CostQueries:
    """Recording model spend that is not a run, and rolling all spend up."""

    db: Executor

    def insert_spend(self, row: SpendRow) -> None:
        """Record one model call that is not a run."""
        names = SpendRow.__fields__
        self.db.execute(
            f"INSERT INTO spend ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [getattr(row, name) for name in names],
        )

    def spend_rollup(
        self,
        by: str | None = None,
        *,
        since: str | None = None,
        rig: str | None = None,
        bead_id: str | None = None,
        convoy_id: str | None = None,
        agent: str | None = None,
    ) -> list[tuple[Any, ...]]:
        """Spend grouped by one of `BY` (None: one row for everything), only what was spent
        at or after `since` (an RFC 3339 time or date) and on `rig`, `bead_id`, `convoy_id`
        or by `agent` when given. Each row: key, calls, tokens in, tokens out, cache tokens,
        known USD, calls of unknown cost, their tokens; ordered by key, a NULL key last."""
        arms: list[str] = []
        params: list[Any] = []
        where = Where(rig, bead_id, convoy_id, agent)
        days = self.db.day_totals and _by_days(by, since, where)
        for make in (_days_arm if days else _runs_arm, _mayor_arm, _spend_arm):
            found = make(by, since, where)
            if found is not None:
                arms.append(found[0])
                params.extend(found[1])
        union = " UNION ALL ".join(arms)
        sql = (
            "SELECT k, SUM(n), SUM(tin), SUM(tout), SUM(cache), SUM(usd), SUM(unk), SUM(unkt) "
            f"FROM ({union}) AS arms GROUP BY k ORDER BY k IS NULL, k"
        )
        rows = self.db.execute(sql, params).fetchall()
        return [_row(r) for r in rows if r[1]]


def _arm(key: str, sums: str, source: str, clauses: Sequence[str], grouped: bool) -> str:
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    group = " GROUP BY 1" if grouped else ""
    return f"SELECT {key} AS k, {sums} FROM {source}{where}{group}"


class Where(Record):
    """What a roll-up is cut to (None: everything)."""

    rig: str | None = None
    """Only spend in this rig."""
    bead: str | None = None
    """Only spend on this bead."""
    convoy: str | None = None
    """Only spend on this convoy's beads."""
    agent: str | None = None
    """Only spend by this agent (a polecat, `mayor`, `reviewer`, ...)."""


def _by_days(by: str | None, since: str | None, where: Where) -> bool:
    """Whether the runs' part of a roll-up can be read from `spend_days`: grouped by day,
    rig or not at all, cut to a rig at most, from the start of a day."""
    whole_days = since is None or since[10:] in ("", "T00:00:00.000000Z")
    cut = where.bead is None and where.convoy is None and where.agent is None
    return by in (None, "day", "rig") and whole_days and cut


def _days_arm(by: str | None, since: str | None, where: Where) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if since is not None:
        clauses.append("d.day >= ?")
        params.append(since[:10])
    if where.rig is not None:
        clauses.append("d.rig = ?")
        params.append(where.rig)
    key = {"day": "d.day", "rig": "d.rig"}[by] if by else "''"
    sums = (
        "SUM(d.calls) AS n, SUM(d.tokens_in) AS tin, SUM(d.tokens_out) AS tout, "
        "SUM(d.cache_tokens) AS cache, TOTAL(d.usd) AS usd, SUM(d.unknown) AS unk, "
        "SUM(d.unknown_tokens) AS unkt"
    )
    return _arm(key, sums, "spend_days d", clauses, by is not None), params


def _runs_arm(by: str | None, since: str | None, where: Where) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if since is not None:
        # The day first: a range of the leading column of `runs_spend`, so a span of days
        # reads only those days' entries; then the exact time.
        clauses += [f"{_RUN_KEYS['day']} >= ?", f"{_RUN_AT} >= ?"]
        params += [since[:10], since]
    for column, value in (
        ("r.rig", where.rig),
        ("r.bead_id", where.bead),
        ("b.convoy_id", where.convoy),
        ("r.polecat", where.agent),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    join = by == "convoy" or where.convoy is not None
    source = "runs r LEFT JOIN beads b ON b.id = r.bead_id" if join else "runs r"
    key = _RUN_KEYS[by] if by else "''"
    return _arm(key, _RUN_SUMS, source, clauses, by is not None), params


def _mayor_arm(by: str | None, since: str | None, where: Where) -> tuple[str, list[Any]] | None:
    if where.rig is not None or where.bead is not None or where.convoy is not None:
        return None  # the mayor's spend is the town's, on no rig, bead or convoy
    if where.agent not in (None, MAYOR):
        return None
    clauses, params = ["m.role IN ('assistant', 'summary')"], []
    if since is not None:
        clauses.append("m.created_at >= ?")
        params.append(since)
    key = _MAYOR_KEYS[by] if by else "''"
    return _arm(key, _MAYOR_SUMS, "mayor_messages m", clauses, by is not None), params


def _spend_arm(by: str | None, since: str | None, where: Where) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if since is not None:
        clauses.append("s.at >= ?")
        params.append(since)
    for column, value in (
        ("s.rig", where.rig),
        ("s.bead_id", where.bead),
        ("s.convoy_id", where.convoy),
        ("s.agent", where.agent),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    key = _SPEND_KEYS[by] if by else "''"
    return _arm(key, _SPEND_SUMS, "spend s", clauses, by is not None), params


def _row(r: Sequence[Any]) -> tuple[Any, ...]:
    # PostgreSQL sums integers as numeric: bring every figure back to int or float
    return (
        r[0],
        int(r[1]),
        int(r[2] or 0),
        int(r[3] or 0),
        int(r[4] or 0),
        float(r[5] or 0),
        int(r[6] or 0),
        int(r[7] or 0),
    )
