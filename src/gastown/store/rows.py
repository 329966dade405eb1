"""Rows and records: the column lists, and the conversions both ways, for the shared SQL.

Booleans are stored as 0/1 and JSON as text, so SQLite and PostgreSQL read back alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from gastown.model import ACTIVE_RUN_STATUSES, Bead, Convoy, Event, Rig
from gastown.record import Record
from gastown.store.projection import READY_CLAUSE

ACTIVE_RUNS = ", ".join(f"'{s}'" for s in ACTIVE_RUN_STATUSES)
"""The active run statuses as an SQL list: `status IN ({ACTIVE_RUNS})`."""

BEAD_COLUMNS = (
    "id, title, body, type, priority, status, rig, assignee, held, slung, runtime, convoy_id, "
    "created_at, updated_at, started_at, closed_at, close_reason, created_by, version, extra, model"
)
CONVOY_COLUMNS = (
    "id, title, rig, status, staged, merge_mode, created_at, updated_at, landed_at, "
    "close_reason, created_by, cancelled_at"
)
EVENT_COLUMNS = "id, at, actor, kind, bead_id, convoy_id, rig, before_json, after_json, reason"


class BeadFilter(Record):
    """Which beads a listing wants; every field left as None matches everything."""

    statuses: Sequence[str] | None = None
    """Any of these statuses."""
    rig: str | None = None
    """Of this rig."""
    labels: Sequence[str] | None = None
    """All of these labels."""
    type: str | None = None
    """Of this type."""
    priority: int | None = None
    """Of this priority."""
    assignee: str | None = None
    """Held by this assignee."""
    convoy_id: str | None = None
    """In this convoy."""
    ids: Sequence[str] | None = None
    """Any of these ids."""
    ready: bool = False
    """Only beads ready for work (see `projection.READY_CLAUSE`)."""
    blocked: bool = False
    """Only beads that are blocked (see `projection.blocked_clause`)."""
    limit: int | None = None
    """At most this many, the first in listing order."""
    text: str | None = None
    """Only beads whose id, title or description holds this text (any case): the board's
    search, one scan of the rows the other fields leave."""

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (with its leading space; empty for no filter) over beads `b`,
        and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.statuses:
            clauses.append(f"b.status IN ({marks(self.statuses)})")
            params.extend(self.statuses)
        for column, value in (
            ("rig", self.rig),
            ("type", self.type),
            ("priority", self.priority),
            ("assignee", self.assignee),
            ("convoy_id", self.convoy_id),
        ):
            if value is not None:
                clauses.append(f"b.{column} = ?")
                params.append(value)
        if self.ids is not None:
            clauses.append(f"b.id IN ({marks(self.ids)})" if self.ids else "1 = 0")
            params.extend(self.ids)
        for label in self.labels or ():
            clauses.append("EXISTS (SELECT 1 FROM labels l WHERE l.bead_id = b.id AND l.label = ?)")
            params.append(label)
        if self.ready:
            clauses.append(READY_CLAUSE)
        if self.blocked:
            clauses.append("EXISTS (SELECT 1 FROM blocked x WHERE x.bead_id = b.id)")
        if self.text:
            like = (
                "%"
                + self.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + "%"
            )
            clauses.append(
                "(LOWER(b.id) LIKE ? ESCAPE '\\' OR LOWER(b.title) LIKE ? ESCAPE '\\' "
                "OR LOWER(b.body) LIKE ? ESCAPE '\\')"
            )
            params.extend([like, like, like])
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def select(self, columns: str) -> tuple[str, list[Any]]:
        """A SELECT of `columns` (of the beads row `b`) for the beads this filter picks, in
        listing order: by priority, then age, then id."""
        where, params = self.where()
        limit = f" LIMIT {int(self.limit)}" if self.limit is not None else ""
        order = " ORDER BY b.priority, b.created_at, b.id"
        return f"SELECT {columns} FROM beads b{where}{order}{limit}", params


CHUNK = 500
"""How many ids one statement names at most, well within every backend's parameter limit."""


def chunks(ids: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    """`ids` in slices small enough for one statement's parameters."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def marks(values: Sequence[Any]) -> str:
    """One `?` placeholder per value, comma-separated."""
    return ", ".join("?" * len(values))


def bead_of(row: Sequence[Any]) -> Bead:
    """The bead a row of `BEAD_COLUMNS` holds (without labels and edges)."""
    return Bead(
        id=row[0],
        title=row[1],
        body=row[2],
        type=row[3],
        priority=row[4],
        status=row[5],
        rig=row[6],
        assignee=row[7],
        held=bool(row[8]),
        slung=bool(row[9]),
        runtime=row[10],
        convoy_id=row[11],
        created_at=row[12],
        updated_at=row[13],
        started_at=row[14],
        closed_at=row[15],
        close_reason=row[16],
        created_by=row[17],
        version=row[18],
        extra=json.loads(row[19]) if row[19] and row[19] != "{}" else {},
        model=row[20],
    )


def bead_params(b: Bead) -> tuple[Any, ...]:
    """The bead's values in `BEAD_COLUMNS` order, as the database keeps them."""
    return (
        b.id,
        b.title,
        b.body,
        b.type,
        b.priority,
        b.status,
        b.rig,
        b.assignee,
        int(b.held),
        int(b.slung),
        b.runtime,
        b.convoy_id,
        b.created_at,
        b.updated_at,
        b.started_at,
        b.closed_at,
        b.close_reason,
        b.created_by,
        b.version,
        json.dumps(b.extra, sort_keys=True) if b.extra else "{}",
        b.model,
    )


def rig_of(row: Sequence[Any]) -> Rig:
    """The rig a row of its columns holds, settings read back from JSON."""
    return Rig(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))


def convoy_of(row: Sequence[Any]) -> Convoy:
    """The convoy a row of `CONVOY_COLUMNS` holds (progress not yet counted)."""
    return Convoy(
        id=row[0],
        title=row[1],
        rig=row[2],
        status=row[3],
        staged=bool(row[4]),
        merge_mode=row[5],
        created_at=row[6],
        updated_at=row[7],
        landed_at=row[8],
        close_reason=row[9],
        created_by=row[10],
        cancelled_at=row[11],
    )


def event_of(row: Sequence[Any]) -> Event:
    """The event a row of `EVENT_COLUMNS` holds, before and after read back."""
    return Event(
        id=row[0],
        at=row[1],
        actor=row[2],
        kind=row[3],
        bead_id=row[4],
        convoy_id=row[5],
        rig=row[6],
        before=json.loads(row[7]) if row[7] else None,
        after=json.loads(row[8]) if row[8] else None,
        reason=row[9],
    )
