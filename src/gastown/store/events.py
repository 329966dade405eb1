"""The shared SQL for events: the ledger's append-only history of who changed what and why
(`EventQueries`, a mixin of `Tx`). Before and after states are JSON text columns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.model import Event
from gastown.store.rows import EVENT_COLUMNS, event_of

if TYPE_CHECKING:
    from gastown.store.sql import Executor


class EventQueries:
    """Events: append, and list by bead, convoy, rig, kind or position."""

    db: Executor

    def append_events(self, events: Sequence[Event]) -> None:
        """Add events at the end of the history; the database numbers them in order."""
        self.db.executemany(
            "INSERT INTO events (at, actor, kind, bead_id, convoy_id, rig, before_json, "
            "after_json, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e.at,
                    e.actor,
                    e.kind,
                    e.bead_id,
                    e.convoy_id,
                    e.rig,
                    None if e.before is None else json.dumps(e.before, sort_keys=True),
                    None if e.after is None else json.dumps(e.after, sort_keys=True),
                    e.reason,
                )
                for e in events
            ],
        )

    def list_events(
        self,
        *,
        bead_id: str | None = None,
        convoy_id: str | None = None,
        rig: str | None = None,
        kind: str | None = None,
        after_id: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        """Events matching every filter given, oldest first unless `newest_first`. `kind` is
        matched exactly, or as a prefix when it ends in `*` (`bead.*`)."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("bead_id", bead_id), ("convoy_id", convoy_id), ("rig", rig)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if kind is not None and kind.endswith("*"):  # `bead.*`: every kind with that start
            stem = kind.rstrip("*")
            clauses.append("SUBSTR(kind, 1, ?) = ?")
            params.extend((len(stem), stem))
        elif kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        if after_id is not None:
            clauses.append("id > ?")
            params.append(after_id)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        order = "DESC" if newest_first else "ASC"
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = self.db.execute(
            f"SELECT {EVENT_COLUMNS} FROM events{where} ORDER BY id {order}{tail}", params
        ).fetchall()
        return [event_of(r) for r in rows]
