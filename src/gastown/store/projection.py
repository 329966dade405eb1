"""Read models the database builds itself: the ready set as a WHERE clause, beads as JSON,
and the lines of a bead table.

`gt ready --json` and `gt bead list --json` are called all day by people and agents; building
their JSON in SQL (one row of text per bead) skips making records and dicts in Python. The
JSON has exactly the shape of `Bead.to_json()`; the store contract suite holds them equal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from gastown.store.rows import BeadFilter
    from gastown.store.sql import Tx

_UNCLOSED_BLOCKER = (
    "SELECT 1 FROM deps d JOIN beads t ON t.id = d.depends_on_id "
    "WHERE d.bead_id = {bead} AND d.type = 'blocks' AND t.status <> 'closed'"
)
READY_CLAUSE = (
    "b.status = 'open' AND b.held = 0 "
    "AND NOT EXISTS (SELECT 1 FROM convoys c WHERE c.id = b.convoy_id AND c.staged = 1) "
    f"AND NOT EXISTS ({_UNCLOSED_BLOCKER.format(bead='b.id')}) "
    "AND NOT EXISTS ("
    "WITH RECURSIVE up(id) AS ("
    "SELECT p.depends_on_id FROM deps p WHERE p.bead_id = b.id AND p.type = 'parent-child' "
    "UNION "
    "SELECT p.depends_on_id FROM deps p JOIN up ON p.bead_id = up.id "
    "WHERE p.type = 'parent-child'"
    f") SELECT 1 FROM up WHERE EXISTS ({_UNCLOSED_BLOCKER.format(bead='up.id')}))"
)
"""`dag.ready` in SQL: open, unheld, outside staged convoys, with no unclosed `blocks` blocker
and no ancestor through `parent-child` edges that has one. A blocker that is not in the town
does not block (the join drops it). Every check is by key on one candidate as rows are read
in priority order, so a LIMIT stops the work early (`gt ready` shows 100); nothing is
gathered up front. UNION ends the walk up even if `parent-child` edges form a cycle."""


class JsonDialect(Protocol):
    """How one database spells JSON construction."""

    def obj(self, pairs: list[tuple[str, str]]) -> str:
        """An object from (key, SQL expression) pairs, keys in this order."""
        ...

    def boolean(self, expr: str) -> str:
        """A JSON true/false from an integer 0/1 column."""
        ...

    def text(self, expr: str) -> str:
        """A JSON value as the text the driver returns (not decoded into Python objects)."""
        ...

    def array(self, expr: str, source: str, order: str) -> str:
        """A JSON array of `expr` over the rows of `source` ordered by `order`; [] when none."""
        ...


class SqliteJson:
    def obj(self, pairs: list[tuple[str, str]]) -> str:
        return "json_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"

    def text(self, expr: str) -> str:
        return expr

    def boolean(self, expr: str) -> str:
        # json('true') has constant arguments, so SQLite computes it once per statement;
        # json(CASE ...) would parse the text again on every row.
        return f"CASE WHEN {expr} THEN json('true') ELSE json('false') END"

    def array(self, expr: str, source: str, order: str) -> str:
        # SQLite 3.40 has no ORDER BY inside an aggregate: order the rows it reads instead.
        # A subquery drops the JSON subtype; json() restores it, so it nests as JSON, not text.
        rows = f"(SELECT * FROM {source} x ORDER BY {order})"
        return f"json((SELECT json_group_array({expr}) FROM {rows} x))"


class PostgresJson:
    def obj(self, pairs: list[tuple[str, str]]) -> str:
        return "json_build_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"

    def text(self, expr: str) -> str:
        return f"({expr})::text"

    def boolean(self, expr: str) -> str:
        return f"({expr} = 1)"

    def array(self, expr: str, source: str, order: str) -> str:
        return f"COALESCE((SELECT json_agg({expr} ORDER BY {order}) FROM {source} x), '[]'::json)"


def bead_json(dialect: JsonDialect) -> str:
    """The SQL expression for one bead row `b` as JSON, in `Bead.to_json()` order."""
    dep = dialect.obj(
        [(k, f"x.{k}") for k in ("bead_id", "depends_on_id", "type", "created_at", "created_by")]
    )
    return dialect.obj(
        [
            ("id", "b.id"),
            ("title", "b.title"),
            ("body", "b.body"),
            ("status", "b.status"),
            ("priority", "b.priority"),
            ("type", "b.type"),
            ("labels", dialect.array("x.label", _labels_of_b(), "x.label")),
            ("rig", "b.rig"),
            ("assignee", "b.assignee"),
            ("held", dialect.boolean("b.held")),
            ("slung", dialect.boolean("b.slung")),
            ("runtime", "b.runtime"),
            ("convoy_id", "b.convoy_id"),
            ("created_at", "b.created_at"),
            ("updated_at", "b.updated_at"),
            ("started_at", "b.started_at"),
            ("closed_at", "b.closed_at"),
            ("close_reason", "b.close_reason"),
            ("created_by", "b.created_by"),
            ("dependencies", dialect.array(dep, _deps_of_b(), "x.depends_on_id")),
        ]
    )


def write_beads_json(
    tx: Tx, flt: BeadFilter, write: Callable[[str], object], batch: int = 500
) -> None:
    """Write the text of `tx.beads_json(flt)` through `write`, `batch` beads at a time as the
    database builds them: a whole town is megabytes of JSON, and holding it all (the rows,
    then the joined text) costs more than the writes."""
    sql, params = flt.select(tx.db.json.text(bead_json(tx.db.json)))
    cursor: Any = tx.db.execute(sql, params)  # every DB-API cursor has fetchmany
    opening = "["
    while rows := cursor.fetchmany(batch):
        write(opening + ",".join([row[0] for row in rows]))
        opening = ","
    write("[]" if opening == "[" else "]")


class BeadLine(NamedTuple):
    """What a table of beads shows of one (`gt bead list`, `gt ready`)."""

    id: str
    priority: int
    status: str
    held: int
    """1 when held, else 0 (as stored)."""
    type: str
    rig: str | None
    title: str


def bead_lines(tx: Tx, flt: BeadFilter) -> list[BeadLine]:
    """The `BeadLine` of each bead `flt` picks, in listing order: seven columns read, where
    `Tx.list_beads` reads every field, the labels and the dependencies into records."""
    sql, params = flt.select(", ".join(f"b.{name}" for name in BeadLine._fields))
    return list(map(BeadLine._make, tx.db.execute(sql, params).fetchall()))


def _labels_of_b() -> str:
    return "(SELECT label FROM labels WHERE bead_id = b.id)"


def _deps_of_b() -> str:
    return (
        "(SELECT bead_id, depends_on_id, type, created_at, created_by FROM deps "
        "WHERE bead_id = b.id)"
    )
