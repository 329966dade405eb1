"""What the runs spent each day on each rig, kept by SQLite as runs are written (`spend_days`).

`gt costs --by day` and the daily budgets would otherwise sum every run the town ever made:
100,000 runs are 15 ms of SQLite, more than the rest of the command. So SQLite keeps one row
per UTC day and rig, and triggers on `runs` add each run to its day's row, and move it when
its figures or its day change (a run's day is when it ended, while it runs when it was made,
as in `store.costs`). A roll-up that wants no more than days and rigs reads these rows.

Like the beads' JSON (`projection.doc_schema`), the table and its triggers are made when the
store is opened, filled from the runs then, and made again whenever this gt defines them
differently; no migration. PostgreSQL keeps no such table and sums the runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gastown.store.sql import Executor

PREFIX = "spend_day"
"""What the table's and the triggers' names start with."""

_DAY = "substr(COALESCE({r}.ended_at, {r}.created_at), 1, 10)"  # as `store.costs._RUN_KEYS`
_FIGURES = ("tokens_in", "tokens_out", "cache_read_tokens", "cache_write_tokens", "cost_usd")
_CHANGES = " OR ".join(
    f"OLD.{c} IS NOT NEW.{c}" for c in (*_FIGURES, "cost_known", "ended_at", "created_at", "rig")
)

TABLE = """CREATE TABLE spend_days (
    day TEXT NOT NULL,
    rig TEXT NOT NULL,
    calls INTEGER NOT NULL,
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    cache_tokens INTEGER NOT NULL,
    usd REAL NOT NULL,
    unknown INTEGER NOT NULL,
    unknown_tokens INTEGER NOT NULL,
    PRIMARY KEY (day, rig)
) WITHOUT ROWID"""


def _add(r: str, sign: int) -> str:
    """An upsert adding (`sign` 1) or taking away (-1) the run `r` (NEW or OLD) to its day."""
    known = f"{r}.cost_known = 1"
    values = ", ".join(
        [
            _DAY.format(r=r),
            f"{r}.rig",
            f"{sign}",
            f"{sign} * {r}.tokens_in",
            f"{sign} * {r}.tokens_out",
            f"{sign} * ({r}.cache_read_tokens + {r}.cache_write_tokens)",
            f"CASE WHEN {known} THEN {sign} * {r}.cost_usd ELSE 0 END",
            f"CASE WHEN {known} THEN 0 ELSE {sign} END",
            f"CASE WHEN {known} THEN 0 ELSE {sign} * ({r}.tokens_in + {r}.tokens_out) END",
        ]
    )
    sums = ", ".join(
        f"{c} = {c} + excluded.{c}"
        for c in (
            "calls",
            "tokens_in",
            "tokens_out",
            "cache_tokens",
            "usd",
            "unknown",
            "unknown_tokens",
        )
    )
    return f"INSERT INTO spend_days VALUES ({values}) ON CONFLICT (day, rig) DO UPDATE SET {sums};"


def day_schema() -> dict[str, str]:
    """The table and its triggers, by name, as `sqlite_master` keeps them."""
    return {
        "spend_days": TABLE,
        "spend_days_insert": (
            f"CREATE TRIGGER spend_days_insert AFTER INSERT ON runs BEGIN {_add('NEW', 1)} END"
        ),
        "spend_days_update": (
            "CREATE TRIGGER spend_days_update AFTER UPDATE OF "
            f"{', '.join((*_FIGURES, 'cost_known', 'ended_at', 'created_at', 'rig'))} ON runs "
            f"WHEN {_CHANGES} BEGIN {_add('OLD', -1)} {_add('NEW', 1)} END"
        ),
        "spend_days_delete": (
            f"CREATE TRIGGER spend_days_delete AFTER DELETE ON runs BEGIN {_add('OLD', -1)} END"
        ),
    }


def keep_days(db: Executor, have: dict[str, str]) -> None:
    """Make the table and its triggers as `day_schema` says, filled from the runs, unless
    the database has them so already (`have`: what it has, by name). The caller holds the
    write lock."""
    want = day_schema()
    if have == want:
        return
    for name, sql in reversed(have.items()):
        db.execute(f"DROP {sql.split()[1]} {name}")  # CREATE TABLE x ..., CREATE TRIGGER y ...
    for create in want.values():
        db.execute(create)
    known = "r.cost_known = 1"
    db.execute(
        f"INSERT INTO spend_days SELECT {_DAY.format(r='r')}, r.rig, COUNT(*), "
        "SUM(r.tokens_in), SUM(r.tokens_out), SUM(r.cache_read_tokens + r.cache_write_tokens), "
        f"TOTAL(CASE WHEN {known} THEN r.cost_usd ELSE 0 END), "
        f"SUM(CASE WHEN {known} THEN 0 ELSE 1 END), "
        f"SUM(CASE WHEN {known} THEN 0 ELSE r.tokens_in + r.tokens_out END) "
        "FROM runs r GROUP BY 1, 2"
    )
