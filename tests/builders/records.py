"""Records with sensible defaults, ready to insert, and older schemas for tests of opening
them."""

from __future__ import annotations

from typing import Any

from gastown.model import Bead, Convoy, Event
from gastown.store import BeadFilter, Store, Tx
from gastown.store.projection import SqliteJson


def at(second: int) -> str:
    """A fixed RFC 3339 time, `second` seconds into the test day."""
    return f"2026-01-01T00:00:{second:02d}.000000Z"


def bead(bead_id: str, **fields: Any) -> Bead:
    """A bead record with sensible defaults, ready to insert."""
    defaults: dict[str, Any] = {
        "title": f"Work on {bead_id}",
        "created_at": at(0),
        "updated_at": at(0),
        "created_by": "tester",
    }
    return Bead(id=bead_id, **{**defaults, **fields})


def convoy(convoy_id: str, **fields: Any) -> Convoy:
    """A convoy record in rig `app` with sensible defaults, ready to insert."""
    defaults: dict[str, Any] = {
        "title": f"Convoy {convoy_id}",
        "rig": "app",
        "created_at": at(0),
        "updated_at": at(0),
        "created_by": "tester",
    }
    return Convoy(id=convoy_id, **{**defaults, **fields})


def event(kind: str, **fields: Any) -> Event:
    """An event of `kind` by `tester` at the start of the test day, ready to append."""
    return Event(
        id=0, at=fields.pop("at", at(0)), actor=fields.pop("actor", "tester"), kind=kind, **fields
    )


def listed(tx: Tx, **flt: Any) -> list[str]:
    """Ids of the beads a filter lists, in listing order."""
    return [b.id for b in tx.list_beads(BeadFilter(**flt))]


def blocked(store: Store) -> list[str]:
    """The ids in the `blocked` table, sorted."""
    with store.reader() as tx:
        return sorted(r[0] for r in tx.db.execute("SELECT bead_id FROM blocked").fetchall())


# --- older schemas ---------------------------------------------------------------------------


def undo_migration_13(db: Any) -> None:
    """Take away what migration 13 added (model spend), for a test of an older schema."""
    if db.day_totals:  # a gt from before kept no day totals, whose triggers read these columns
        for name in ("spend_days_insert", "spend_days_update", "spend_days_delete"):
            db.execute(f"DROP TRIGGER {name}")
        db.execute("DROP TABLE spend_days")
    db.execute("DROP TABLE spend")
    db.execute("DROP INDEX runs_spend")
    db.execute("DROP INDEX mayor_messages_spend")
    for table, column in (
        ("runs", "cache_read_tokens"),
        ("runs", "cache_write_tokens"),
        ("runs", "model"),
        ("runs", "cost_known"),
        ("mayor_messages", "cache_tokens"),
        ("mayor_messages", "model"),
    ):
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def undo_migration_14(db: Any) -> None:
    """Take away what migration 14 added (the model a bead was slung with). SQLite's bead
    docs read the column, so they go first, as an older gt never had them; opening the
    store again makes them anew."""
    if isinstance(db.json, SqliteJson):
        made = db.execute(
            "SELECT type, name FROM sqlite_master WHERE substr(name, 1, 8) = 'bead_doc' "
            "ORDER BY rowid DESC"
        ).fetchall()
        for kind, name in made:
            db.execute(f"DROP {kind.upper()} {name}")
    db.execute("ALTER TABLE beads DROP COLUMN model")


def undo_migration_15(db: Any) -> None:
    """Take away what migration 15 made (institutional knowledge), on either backend."""
    db.execute("DROP TABLE knowledge")
    db.execute("DROP TABLE knowledge_signals")
    db.execute("DROP TABLE IF EXISTS knowledge_fts")  # SQLite's search table


def undo_migration_16(db: Any) -> None:
    """Take away what migration 16 made (many hosts), on either backend."""
    db.execute("DROP INDEX runs_host")
    db.execute("ALTER TABLE runs DROP COLUMN host")
    db.execute("ALTER TABLE runs DROP COLUMN queue")
    db.execute("DROP TABLE hosts")


def undo_migration_17(db: Any) -> None:
    """Take away what migration 17 made (transcripts in the ledger), on either backend."""
    db.execute("DROP TABLE transcript_chunks")


def undo_migrations_after(db: Any, version: int) -> None:
    """Take a database back to `version` by undoing every newer migration, newest first, for a
    test of a town an older gt made (the caller also rewinds `schema_migrations`)."""
    undos = (
        (17, undo_migration_17),
        (16, undo_migration_16),
        (15, undo_migration_15),
        (14, undo_migration_14),
        (13, undo_migration_13),
    )
    for number, undo in undos:
        if number > version:
            undo(db)
