"""What a listing reads is the bead JSON built from the rows, whatever wrote them.

SQLite keeps each bead's JSON in its row (`beads.doc`), rewritten by triggers
(`projection.doc_schema`); PostgreSQL builds it as it reads. Either way `gt bead list --json`
and `gt ready --json` must print exactly `projection.bead_json` of the rows, and so
`Bead.to_json()`: after the services write, after the store's own writes, after raw SQL on
labels and dependencies, after an import, and in a database from before stored docs.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gastown.clock import FakeClock
from gastown.model import BLOCKS, RELATED, Bead, Dependency, Rig
from gastown.services import beads, convoys, deps, interop, sling
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger
from gastown.services.plan import Plan, PlanTask
from gastown.store import BeadFilter, Store, Tx, open_store
from gastown.store.projection import bead_json, doc_schema
from gastown.store.rows import BEAD_COLUMNS, bead_params, marks
from gastown.store.schema import LATEST, MIGRATIONS, statements
from gastown.store.sqlite import ANALYZE_FROM, SERIAL
from tests.builders.generated import random_town, write_town

AT = "2026-01-01T00:00:00.000000Z"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def ledger(store: Store) -> Ledger:
    with store.transaction() as tx:
        tx.insert_rig(Rig("app", "file:///srv/app.git", "trunk", "rigs/app", AT))
    return Ledger(store, prefix="gt", actor="tester", clock=FakeClock(), rng=random.Random(3))


def read_and_built(tx: Tx) -> list[tuple[str, str, str]]:
    """Each bead's id, its JSON as listings read it, and its JSON built from the rows now."""
    dialect = tx.db.json
    built = dialect.text(bead_json(dialect))
    rows = tx.db.execute(f"SELECT b.id, {dialect.bead()}, {built} FROM beads b ORDER BY b.id")
    return [(r[0], r[1], r[2]) for r in rows.fetchall()]


def assert_docs_current(store: Store) -> None:
    with store.reader() as tx:
        rows = read_and_built(tx)
        assert rows
        for bead_id, read, built in rows:
            assert read == built, bead_id
            stored = tx.get_bead(bead_id)
            assert stored is not None and json.loads(read) == stored.to_json()


def test_every_kind_of_write_leaves_the_listed_json_equal_to_the_built_json(
    ledger: Ledger, store: Store, tmp_path: Path
) -> None:
    """Given a town, when beads are created, changed, linked, moved through their lifecycle,
    put in convoys, slung and imported, and when the store's own writes and raw SQL touch
    their labels and edges, then after every step each bead's listed JSON is its built JSON."""
    task = beads.create(ledger, NewBead("Task", labels=["x", "y"], rig="app"))
    epic = beads.create(ledger, NewBead("Epic", type="epic", rig="app"))
    child = beads.create(ledger, NewBead("Child", rig="app", parent=epic.id))
    assert_docs_current(store)

    beads.update(
        ledger,
        task.id,
        {"title": "Task, renamed", "priority": 0, "add_labels": ["z"], "remove_labels": ["x"]},
    )
    beads.update(ledger, task.id, {"held": True, "assignee": "nux", "body": 'Now ✓ "quoted"'})
    assert_docs_current(store)

    deps.add(ledger, child.id, task.id)
    deps.add(ledger, task.id, epic.id, RELATED)
    assert_docs_current(store)
    deps.remove(ledger, child.id, task.id)
    assert_docs_current(store)

    beads.update(ledger, task.id, {"held": False, "assignee": None})
    beads.claim(ledger, task.id, "nux")
    beads.close(ledger, task.id, "done")
    assert_docs_current(store)
    beads.reopen(ledger, task.id, "not quite")
    assert_docs_current(store)

    plan = Plan([PlanTask("a", "Step a"), PlanTask("b", "Step b", needs=["a"])])
    made = convoys.create(ledger, "Two steps", "app", plan, staged=True, mode="review-then-land")
    convoys.start(ledger, made.convoy.id)
    convoys.add(ledger, made.convoy.id, [epic.id])
    convoys.remove(ledger, made.convoy.id, [epic.id])
    assert_docs_current(store)

    sling.sling_new(ledger, NewBead("Slung", rig="app"))
    sling.sling_existing(ledger, epic.id, "claude")
    assert_docs_current(store)

    lines: list[dict[str, Any]] = [
        {"id": "bd-1", "title": "Imported", "labels": ["bd"]},
        {"id": "bd-2", "title": "Its child", "dependencies": [{"depends_on_id": "bd-1"}]},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    interop.import_file(ledger, path, "in.jsonl")
    lines[0].update(
        title="Imported, renamed", labels=["bd", "again"], updated_at="2030-01-01T00:00:00Z"
    )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    interop.import_file(ledger, path, "in.jsonl")
    with store.reader() as tx:
        imported = json.loads(tx.beads_json(BeadFilter(ids=["bd-1"])))
    assert (imported[0]["title"], imported[0]["labels"]) == ("Imported, renamed", ["again", "bd"])
    assert_docs_current(store)

    with store.transaction() as tx:
        tx.set_labels(epic.id, ["b", "a"])
        tx.insert_deps([Dependency(epic.id, "gt-elsewhere", BLOCKS, AT, "tester")])
        tx.delete_dep(task.id, epic.id)
        tx.set_dispatch(child.id, 2, AT)
    assert_docs_current(store)

    with store.transaction() as tx:
        tx.db.execute("UPDATE labels SET label = 'c' WHERE bead_id = ? AND label = 'a'", (epic.id,))
        tx.db.execute("UPDATE deps SET type = ? WHERE bead_id = ?", (RELATED, epic.id))
        tx.db.execute("UPDATE deps SET bead_id = ? WHERE bead_id = ?", (task.id, epic.id))
        tx.db.execute("DELETE FROM labels WHERE bead_id = ?", (task.id,))
    assert_docs_current(store)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_listing_prints_the_built_json_byte_for_byte(db_url: str, seed: int) -> None:
    """Given a random town with every shape of bead, then the text a whole listing prints is
    exactly the beads' built JSON, joined in listing order."""
    store = open_store(db_url)
    try:
        write_town(store, *random_town(seed, n=120))
        with store.reader() as tx:
            dialect = tx.db.json
            sql, params = BeadFilter().select(dialect.text(bead_json(dialect)))
            built = [r[0] for r in tx.db.execute(sql, params).fetchall()]
            assert tx.beads_json(BeadFilter()) == "[" + ",".join(built) + "]"
    finally:
        store.close()


# --- SQLite: the stored docs and the database they live in ----------------------------------


def version_7_database(path: Path) -> None:
    """A database as the gt before stored docs left it: schema 7, two beads, a label, an edge."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for number, sql in MIGRATIONS[:7]:
        for statement in statements(sql, SERIAL):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (number, AT))
    columns = BEAD_COLUMNS.removesuffix(", model")  # schema 7's beads: no model (migration 14)
    for bead_id in ("gt-aaaaa", "gt-bbbbb"):
        bead = Bead(id=bead_id, title=f"Old {bead_id}", created_at=AT, updated_at=AT)
        conn.execute(
            f"INSERT INTO beads ({columns}) VALUES ({marks(range(20))})", bead_params(bead)[:20]
        )
    conn.execute("INSERT INTO labels VALUES ('gt-aaaaa', 'kept')")
    conn.execute("INSERT INTO deps VALUES ('gt-bbbbb', 'gt-aaaaa', 'blocks', ?, 'me')", (AT,))
    conn.close()


def doc_schema_of(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE substr(name, 1, 8) = 'bead_doc'"
        ).fetchall()
    finally:
        conn.close()
    return dict(rows)


def test_a_database_from_before_stored_docs_gets_them_on_open(tmp_path: Path) -> None:
    """Given a schema 7 database holding beads, when this gt opens it, then it is migrated,
    every bead has its doc, and the doc's view and triggers are this gt's."""
    path = tmp_path / "state.db"
    version_7_database(path)

    store = open_store(f"sqlite:///{path}")
    try:
        with store.reader() as tx:
            version = tx.db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
            listed = json.loads(tx.beads_json())
        assert_docs_current(store)
    finally:
        store.close()

    assert version == LATEST
    assert [(b["id"], b["labels"], len(b["dependencies"])) for b in listed] == [
        ("gt-aaaaa", ["kept"], 0),
        ("gt-bbbbb", [], 1),
    ]
    assert doc_schema_of(path) == doc_schema()


def test_docs_kept_by_another_gt_are_built_again(tmp_path: Path) -> None:
    """Given a database whose docs were kept by a gt that built them differently (here: an
    older view, a missing trigger and docs of another shape), when this gt opens it, then
    the view, the triggers and every doc are this gt's again."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    rows, edges, _ = random_town(5, n=40)
    store = open_store(url)
    with store.transaction() as tx:
        tx.insert_beads(rows)
        tx.insert_deps([e for e in edges if e.depends_on_id != "gt-elsewhere"])
    store.close()
    conn = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    conn.execute("DROP TRIGGER bead_doc_on_update")
    conn.execute("DROP VIEW bead_doc")
    conn.execute(
        "CREATE VIEW bead_doc (id, doc) AS SELECT b.id, json_object('id', b.id) FROM beads b"
    )
    conn.execute("UPDATE beads SET doc = (SELECT doc FROM bead_doc WHERE id = beads.id)")
    conn.close()

    store = open_store(url)
    try:
        assert_docs_current(store)
    finally:
        store.close()
    assert doc_schema_of(tmp_path / "state.db") == doc_schema()


def analyzed(path: Path) -> tuple[str | None, int]:
    """The bead count recorded at the last ANALYZE, and how many statistics rows describe
    the beads table."""
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'analyzed_beads'").fetchone()
        has_stats = conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).fetchone()[0]
        stats = (
            conn.execute("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'beads'").fetchone()[0]
            if has_stats
            else 0
        )
    finally:
        conn.close()
    return (None if row is None else row[0]), stats


def test_statistics_are_gathered_as_the_town_doubles(tmp_path: Path) -> None:
    """Given a new town, when beads are added by handles that then close, then statistics
    are first gathered at `ANALYZE_FROM` beads and again only once the beads have doubled."""
    path = tmp_path / "state.db"
    url = f"sqlite:///{path}"
    made = 0

    def add(count: int) -> None:
        nonlocal made
        store = open_store(url)
        try:
            with store.transaction() as tx:
                tx.insert_beads(
                    [Bead(id=f"gt-{made + i:05d}", title="t", created_at=AT) for i in range(count)]
                )
        finally:
            store.close()
        made += count

    add(ANALYZE_FROM - 1)
    assert analyzed(path) == (None, 0)
    add(1)
    first = analyzed(path)
    assert first[0] == str(ANALYZE_FROM) and first[1] > 0
    add(ANALYZE_FROM - 1)
    assert analyzed(path)[0] == str(ANALYZE_FROM)
    add(1)
    assert analyzed(path)[0] == str(2 * ANALYZE_FROM)

    store = open_store(url)
    with store.transaction() as tx:
        tx.set_meta("note", "a write")
    store.close()
    store.close()  # closing again does nothing
