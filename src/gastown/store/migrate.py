"""Bring a store's schema up to date; shared by both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from gastown.errors import RuntimeFailure
from gastown.store.schema import LATEST, MIGRATIONS, statements
from gastown.store.sql import Executor


def current_version(db: Executor) -> int:
    """The newest migration the database records as applied (0: none)."""
    row = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def apply_pending(db: Executor, serial: str, url: str) -> int:
    """Apply every migration newer than the recorded version. The caller holds the write lock."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    version = current_version(db)
    if version > LATEST:
        raise_too_new(url, version)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for number, sql in MIGRATIONS:
        if number > version:
            for statement in statements(sql, serial):
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (number, now)
            )
    return LATEST


def raise_too_new(url: str, version: int) -> None:
    """Refuse a database a newer gt migrated: this one cannot know its schema."""
    raise RuntimeFailure(
        f"The database at {url} has schema version {version}, newer than this gt knows "
        f"({LATEST}); upgrade gastown to use it."
    )


def needs_migration(
    read_version: Callable[[], int], url: str, missing_table: type[Exception]
) -> bool:
    """Whether the database lacks migrations this gt has (a new one lacks them all);
    refuses one from a newer gt."""
    try:
        version = read_version()
    except missing_table:  # a new database: no schema_migrations table yet
        return True
    if version > LATEST:
        raise_too_new(url, version)
    return version < LATEST
