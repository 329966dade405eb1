"""The store contract: every query the services use behaves alike on SQLite and PostgreSQL.

Every test takes `db_url` (through conftest's `store` and `ledger`), so it runs once per
backend with the same expectations. The suite is split by noun, as `Tx` is: this file holds
records read back whole, rigs, meta, migrations and opening; `test_store_beads`,
`test_store_dependencies`, `test_store_convoys`, `test_store_events`, `test_store_runs` hold
their nouns' queries; `test_store_services` drives `gastown.services` on both backends,
because a contract that holds query by query must also hold for the use cases built on it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gastown.errors import RuntimeFailure
from gastown.model import BLOCKS, PARENT_CHILD, Dependency, Rig
from gastown.store import Store, open_store
from gastown.store.schema import LATEST, MIGRATIONS
from tests.builders import (
    at,
    bead,
    blocked,
    listed,
    undo_migrations_after,
)

# --- records read back alike ---------------------------------------------------------------


def test_a_bead_reads_back_exactly_as_written(store: Store) -> None:
    """Given a bead with every field set (booleans, times, nulls, unicode, extra fields) and a
    bead with only defaults, when both are written and read back, then each comes back equal,
    with booleans as bool, numbers as int and times as the same RFC 3339 text."""
    full = bead(
        "gt-full",
        body="Line one\nline two ✓ — 100% done_",
        type="bug",
        priority=0,
        status="in_progress",
        rig="app",
        assignee="polecat-1",
        held=True,
        slung=True,
        runtime="claude",
        convoy_id="gt-cv-1",
        started_at=at(1),
        labels=["backend", "urgent"],
        extra={"design": "notes", "nested": {"n": 1, "ok": True}},
    )
    plain = bead("gt-plain")
    with store.transaction() as tx:
        tx.insert_beads([full, plain])

    with store.reader() as tx:
        got_full, got_plain = tx.get_bead("gt-full"), tx.get_bead("gt-plain")
        missing = tx.get_bead("gt-nope")

    assert got_full == full
    assert got_plain == plain
    assert missing is None
    assert got_full is not None and got_plain is not None
    assert got_full.held is True and got_full.slung is True
    assert got_plain.held is False and got_plain.slung is False
    assert type(got_full.priority) is int and type(got_full.version) is int
    assert got_full.created_at == "2026-01-01T00:00:00.000000Z"
    assert got_full.started_at == at(1)
    assert got_plain.started_at is None and got_plain.rig is None and got_plain.extra == {}


def test_rigs_are_inserted_listed_configured_and_removed(store: Store) -> None:
    """Given two rigs, when their settings change and one is removed, then listing is by name
    and settings round-trip as nested values."""
    with store.transaction() as tx:
        tx.insert_rig(Rig("web", "https://example.com/web.git", "main", "rigs/web", at(1)))
        tx.insert_rig(Rig("app", "/srv/app", "trunk", "rigs/app", at(2), {"runtime": "codex"}))

    with store.reader() as tx:
        assert [r.name for r in tx.list_rigs()] == ["app", "web"]
        assert tx.get_rig("app") == Rig(
            "app", "/srv/app", "trunk", "rigs/app", at(2), {"runtime": "codex"}
        )
        assert tx.get_rig("nope") is None

    settings = {"refinery.gates": ["make test", "ruff ."], "max_polecats_per_rig": 2}
    with store.transaction() as tx:
        tx.set_rig_settings("web", settings)
        tx.delete_rig("app")

    with store.reader() as tx:
        assert [r.name for r in tx.list_rigs()] == ["web"]
        web = tx.get_rig("web")
        assert web is not None and web.settings == settings
        assert tx.get_rig("app") is None


def test_meta_values_are_set_and_replaced(store: Store) -> None:
    """Given no meta value, when one is set and then set again, then the last one is read."""
    with store.transaction() as tx:
        assert tx.get_meta("prefix") is None
        tx.set_meta("prefix", "gt")
    with store.transaction() as tx:
        tx.set_meta("prefix", "ab")
    with store.reader() as tx:
        assert tx.get_meta("prefix") == "ab"


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    """Given a transaction that writes and then fails, then none of its writes are visible and
    the store keeps working."""

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction() as tx:
        tx.insert_beads([bead("gt-lost", labels=["x"])])
        tx.set_meta("touched", "yes")
        tx.next_child("gt-lost")
        raise Boom

    with store.reader() as tx:
        assert tx.get_bead("gt-lost") is None
        assert tx.get_meta("touched") is None
        assert tx.count_beads() == 0
    with store.transaction() as tx:
        assert tx.next_child("gt-lost") == 1


# --- migrations and opening ------------------------------------------------------------------


def recorded_migrations(store: Store) -> list[tuple[int, str]]:
    with store.reader() as tx:
        rows = tx.db.execute(
            "SELECT version, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


def test_a_new_database_records_its_schema_version(store: Store) -> None:
    """Given a database opened for the first time, then every migration is recorded once with
    the time it was applied."""
    recorded = recorded_migrations(store)
    assert [number for number, _ in MIGRATIONS] == list(range(1, LATEST + 1))  # 1, 2, 3… in order
    assert [version for version, _ in recorded] == list(range(1, LATEST + 1))
    assert all(applied.endswith("Z") for _, applied in recorded)


def test_reopening_a_database_does_not_migrate_it_again(db_url: str) -> None:
    """Given a migrated database with a bead in it, when it is opened again, then no migration
    runs a second time and the bead is still there."""
    first = open_store(db_url)
    with first.transaction() as tx:
        tx.insert_beads([bead("gt-a")])
    before = recorded_migrations(first)
    first.close()

    again = open_store(db_url)
    try:
        assert recorded_migrations(again) == before
        with again.reader() as tx:
            assert tx.get_bead("gt-a") is not None
    finally:
        again.close()


def test_a_town_from_before_the_blocked_table_has_it_filled_when_opened(db_url: str) -> None:
    """Given a town at schema version 8 (no `blocked` table) holding a blocked bead and its
    blocked child, when it is opened, then migration 9 records both as blocked and the ready
    set is what it was."""
    store = open_store(db_url)
    with store.transaction() as tx:
        tx.insert_beads([bead("gt-a"), bead("gt-b"), bead("gt-c", created_at=at(3))])
        tx.insert_deps(
            [
                Dependency("gt-a", "gt-b", BLOCKS, at(1), "tester"),
                Dependency("gt-c", "gt-a", PARENT_CHILD, at(1), "tester"),
            ]
        )
    with store.transaction() as tx:
        tx.db.execute("DROP TABLE blocked")
        tx.db.execute("ALTER TABLE convoys DROP COLUMN cancelled_at")  # added by migration 11
        tx.db.execute("DROP TABLE issue_links")  # made by migration 12
        undo_migrations_after(tx.db, 12)
        tx.db.execute("DELETE FROM schema_migrations WHERE version > 8")
    store.close()

    store = open_store(db_url)
    try:
        assert blocked(store) == ["gt-a", "gt-c"]
        with store.reader() as tx:
            assert listed(tx, ready=True) == ["gt-b"]
        assert recorded_migrations(store)[-1][0] == LATEST
    finally:
        store.close()


def test_a_database_from_a_newer_gastown_is_refused(db_url: str) -> None:
    """Given a database whose schema version is newer than this code knows, when it is opened,
    then a RuntimeFailure says so and says what to do, and nothing is changed."""
    store = open_store(db_url)
    with store.transaction() as tx:
        tx.db.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
            (LATEST + 1, at(0)),
        )
    store.close()

    with pytest.raises(RuntimeFailure) as refused:
        open_store(db_url)

    assert f"schema version {LATEST + 1}" in refused.value.message
    assert "upgrade gastown" in refused.value.message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://127.0.0.1:1/test",
        "postgresql://gastown:s3cret@127.0.0.1:1/test",
        "postgresql://127.0.0.1:1/test?user=gastown&password=s3cret",
        "sqlite:////nonexistent/folder/state.db",
    ],
)
def test_a_database_that_cannot_be_reached_fails_in_one_sentence(url: str) -> None:
    """Given a database URL nothing answers at, when it is opened, then a RuntimeFailure says so
    in one sentence on one line, naming where it looked and never showing a password."""
    with pytest.raises(RuntimeFailure) as failed:
        open_store(url)

    message = failed.value.message
    assert message.startswith(("Cannot connect to PostgreSQL at", "Cannot open the town database"))
    assert "\n" not in message and message.endswith(".")
    assert ". " not in message.rstrip(".")
    assert "s3cret" not in message
    assert "127.0.0.1:1" in message or "/nonexistent/folder/state.db" in message


def test_a_file_that_is_not_a_database_fails_in_one_sentence(tmp_path: Path) -> None:
    """Given a town whose state file holds something else, when it is opened, then a
    RuntimeFailure names the file instead of a raw driver error escaping."""
    garbage = tmp_path / "state.db"
    garbage.write_text("this is not a database, just some notes\n" * 100)

    with pytest.raises(RuntimeFailure, match="Cannot open the town database") as failed:
        open_store(f"sqlite:///{garbage}")

    assert str(garbage) in failed.value.message and "\n" not in failed.value.message
