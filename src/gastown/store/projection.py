"""Read models the database builds itself: the ready set as a WHERE clause, beads as JSON,
and the lines of a bead table.

`gt ready --json` and `gt bead list --json` are called all day by people and agents; building
their JSON in SQL (one row of text per bead) skips making records and dicts in Python. The
JSON has exactly the shape of `Bead.to_json()`; the store contract suite holds them equal.

SQLite goes one step further and keeps each bead's JSON in its row (`beads.doc`), rewritten by
triggers (`doc_schema`) whenever the bead, its labels or its dependencies change, so a
listing reads one column instead of joining three tables per bead. PostgreSQL builds it at
read time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from gastown.store.rows import BeadFilter
    from gastown.store.sql import Tx

_UNCLOSED_BLOCKER = (
    "SELECT 1 FROM deps d JOIN beads t ON t.id = d.depends_on_id "
    "WHERE d.bead_id = {bead} AND d.type = 'blocks' AND t.status <> 'closed'"
)
_UNCLOSED_CHILD = (
    "SELECT 1 FROM deps c JOIN beads k ON k.id = c.bead_id "
    "WHERE c.depends_on_id = {bead} AND c.type = 'parent-child' AND k.status <> 'closed'"
)


def blocked_clause(bead: str) -> str:
    """True when the bead whose id is the SQL expression `bead` is blocked: it has an
    unclosed `blocks` blocker, or an unclosed child (a parent is done only when its children
    are), or an ancestor through `parent-child` edges has an unclosed blocker. A blocker or
    child that is not in the town does not block (the join drops it); UNION ends the walk
    up even if `parent-child` edges form a cycle. An unclosed child holds back its parent
    only, not the parent's other children: they are the work it waits for. This is what the
    `blocked` table holds."""
    return (
        f"(EXISTS ({_UNCLOSED_BLOCKER.format(bead=bead)}) "
        f"OR EXISTS ({_UNCLOSED_CHILD.format(bead=bead)}) OR EXISTS ("
        "WITH RECURSIVE up(id) AS ("
        f"SELECT p.depends_on_id FROM deps p WHERE p.bead_id = {bead} "
        "AND p.type = 'parent-child' "
        "UNION "
        "SELECT p.depends_on_id FROM deps p JOIN up ON p.bead_id = up.id "
        "WHERE p.type = 'parent-child'"
        f") SELECT 1 FROM up WHERE EXISTS ({_UNCLOSED_BLOCKER.format(bead='up.id')})))"
    )


READY_CLAUSE = (
    "b.status = 'open' AND b.held = 0 "
    "AND NOT EXISTS (SELECT 1 FROM blocked x WHERE x.bead_id = b.id) "
    "AND NOT EXISTS (SELECT 1 FROM convoys c WHERE c.id = b.convoy_id AND c.staged = 1)"
)
"""`dag.ready` in SQL: open, unheld, not blocked, outside staged convoys. Whether a bead is
blocked depends on other beads (its blockers, its children, its ancestors), so it is not
worked out here for every candidate but kept in the table `blocked`, which each writing
transaction brings up to date before it commits (`Tx.settle`). Each check is by key on one
candidate as rows are read in priority order, so a LIMIT stops the work early (`gt ready`
shows 100)."""


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

    def bead(self) -> str:
        """The JSON of the beads row `b` as text, as listings read it: the stored doc where
        the database keeps one, else `bead_json` built from the row."""
        ...

    def utf8(self, expr: str) -> str:
        """The text `expr` as its UTF-8 bytes (read by the driver as bytes, not decoded)."""
        ...


class SqliteJson:
    """`JsonDialect` for SQLite's JSON functions (see the protocol for each method)."""

    def obj(self, pairs: list[tuple[str, str]]) -> str:
        """See `JsonDialect.obj`."""
        return "json_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"

    def text(self, expr: str) -> str:
        """See `JsonDialect.text`."""
        return expr

    def boolean(self, expr: str) -> str:
        """See `JsonDialect.boolean`."""
        # json('true') has constant arguments, so SQLite computes it once per statement;
        # json(CASE ...) would parse the text again on every row.
        return f"CASE WHEN {expr} THEN json('true') ELSE json('false') END"

    def array(self, expr: str, source: str, order: str) -> str:
        """See `JsonDialect.array`."""
        # SQLite 3.40 has no ORDER BY inside an aggregate: order the rows it reads instead.
        # A subquery drops the JSON subtype; json() restores it, so it nests as JSON, not text.
        rows = f"(SELECT * FROM {source} x ORDER BY {order})"
        return f"json((SELECT json_group_array({expr}) FROM {rows} x))"

    def bead(self) -> str:
        """See `JsonDialect.bead`."""
        return "b.doc"

    def utf8(self, expr: str) -> str:
        """See `JsonDialect.utf8`."""
        return f"CAST({expr} AS BLOB)"  # the database's text is UTF-8: the bytes as stored


class PostgresJson:
    """`JsonDialect` for PostgreSQL's JSON functions (see the protocol for each method)."""

    def obj(self, pairs: list[tuple[str, str]]) -> str:
        """See `JsonDialect.obj`."""
        return "json_build_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"

    def text(self, expr: str) -> str:
        """See `JsonDialect.text`."""
        return f"({expr})::text"

    def boolean(self, expr: str) -> str:
        """See `JsonDialect.boolean`."""
        return f"({expr} = 1)"

    def array(self, expr: str, source: str, order: str) -> str:
        """See `JsonDialect.array`."""
        return f"COALESCE((SELECT json_agg({expr} ORDER BY {order}) FROM {source} x), '[]'::json)"

    def bead(self) -> str:
        """See `JsonDialect.bead`."""
        return self.text(bead_json(self))

    def utf8(self, expr: str) -> str:
        """See `JsonDialect.utf8`."""
        return f"convert_to({expr}, 'UTF8')"


DOC_COLUMNS = (
    "id",
    "title",
    "body",
    "status",
    "priority",
    "type",
    "rig",
    "assignee",
    "held",
    "slung",
    "runtime",
    "model",
    "convoy_id",
    "created_at",
    "updated_at",
    "started_at",
    "closed_at",
    "close_reason",
    "created_by",
)
"""The columns of `beads` a bead's JSON shows, in its order (labels come after `type`, the
dependencies last): writing any of them rewrites the stored doc."""
_BOOLEANS = ("held", "slung")


def bead_json(dialect: JsonDialect) -> str:
    """The SQL expression for one bead row `b` as JSON, in `Bead.to_json()` order."""
    dep = dialect.obj(
        [(k, f"x.{k}") for k in ("bead_id", "depends_on_id", "type", "created_at", "created_by")]
    )
    columns = [(k, dialect.boolean(f"b.{k}") if k in _BOOLEANS else f"b.{k}") for k in DOC_COLUMNS]
    labels = ("labels", dialect.array("x.label", _labels_of_b(), "x.label"))
    dependencies = ("dependencies", dialect.array(dep, _deps_of_b(), "x.depends_on_id"))
    return dialect.obj([*columns[:6], labels, *columns[6:], dependencies])


def doc_schema() -> dict[str, str]:
    """What keeps SQLite's `beads.doc` equal to `bead_json` of its row, by name, in the
    order to create it: the view `bead_doc` (each bead's id and JSON as `bead_json` builds
    it) and the triggers that copy a bead's JSON from it after the bead is inserted or any
    of `DOC_COLUMNS` is written, and after any change to one of its labels or dependencies.
    (`doc` itself is not among those columns, so writing it fires nothing.) The expression
    is written once, in the view: SQLite parses every trigger each time a connection opens."""
    events = {
        "bead_doc_on_insert": ("AFTER INSERT ON beads", ["NEW.id"]),
        "bead_doc_on_update": (f"AFTER UPDATE OF {', '.join(DOC_COLUMNS)} ON beads", ["NEW.id"]),
    }
    for table in ("labels", "deps"):
        events[f"bead_doc_on_{table}_insert"] = (f"AFTER INSERT ON {table}", ["NEW.bead_id"])
        events[f"bead_doc_on_{table}_delete"] = (f"AFTER DELETE ON {table}", ["OLD.bead_id"])
        events[f"bead_doc_on_{table}_update"] = (
            f"AFTER UPDATE ON {table}",
            ["OLD.bead_id", "NEW.bead_id"],
        )
    view = f"CREATE VIEW bead_doc (id, doc) AS SELECT b.id, {bead_json(SqliteJson())} FROM beads b"
    return {"bead_doc": view} | {
        name: f"CREATE TRIGGER {name} {when} BEGIN "
        + " ".join(rebuild_docs(f" WHERE id = {bead_id}") + ";" for bead_id in ids)
        + " END"
        for name, (when, ids) in events.items()
    }


def rebuild_docs(where: str = "") -> str:
    """The SQLite statement that copies into `beads.doc` the JSON of the beads `where` picks
    (all of them by default) from the view `bead_doc`."""
    return f"UPDATE beads SET doc = (SELECT doc FROM bead_doc WHERE id = beads.id){where}"


def write_beads_json(
    tx: Tx,
    flt: BeadFilter,
    write: Callable[[bytes], object],
    batch: int = 100,
    extra: tuple[Mapping[str, bytes], bytes] | None = None,
) -> None:
    """Write the text of `tx.beads_json(flt)`, encoded in UTF-8, through `write`, `batch`
    beads at a time as the database reads them: a whole town is megabytes of JSON, and
    holding it all (the rows, then the joined text) costs more than the writes. The bytes
    come from the database as they are, never decoded into text and encoded again. A batch
    of 100 beads joins to about 100 kB, under the size (128 kB) at which the C allocator
    maps fresh memory for each buffer and faults it in page by page; smaller buffers are
    reused, and a whole listing takes a tenth less time.

    `extra` is (bead id → JSON members, members for the others): text the caller knows and
    the ledger does not (`gt ready`'s `"retry_at":…`), put last in each bead's object."""
    dialect = tx.db.json
    doc = dialect.utf8(dialect.bead())
    sql, params = tx.select(flt, doc if extra is None else f"b.id, {doc}")
    cursor: Any = tx.db.execute(sql, params)  # every DB-API cursor has fetchmany
    opening = b"["
    while rows := cursor.fetchmany(batch):
        if extra is None:
            write(opening + b",".join([row[0] for row in rows]))
        else:
            known, other = extra
            write(
                opening
                + b",".join([bytes(r[1])[:-1] + b"," + known.get(r[0], other) + b"}" for r in rows])
            )
        opening = b","
    write(b"[]" if opening == b"[" else b"]")


class BeadLine(NamedTuple):
    """What a table of beads shows of one (`gt bead list`, `gt ready`)."""

    id: str
    """The bead's id."""
    priority: int
    """Its priority, 0 (highest) to 4."""
    status: str
    """Its status."""
    held: int
    """1 when held, else 0 (as stored)."""
    type: str
    """Its type."""
    rig: str | None
    """Its rig, if it has one."""
    title: str
    """Its title."""


def bead_lines(tx: Tx, flt: BeadFilter) -> list[BeadLine]:
    """The `BeadLine` of each bead `flt` picks, in listing order: seven columns read, where
    `Tx.list_beads` reads every field, the labels and the dependencies into records."""
    sql, params = tx.select(flt, ", ".join(f"b.{name}" for name in BeadLine._fields))
    return list(map(BeadLine._make, tx.db.execute(sql, params).fetchall()))


def _labels_of_b() -> str:
    return "(SELECT label FROM labels WHERE bead_id = b.id)"


def _deps_of_b() -> str:
    return (
        "(SELECT bead_id, depends_on_id, type, created_at, created_by FROM deps "
        "WHERE bead_id = b.id)"
    )
