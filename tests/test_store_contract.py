"""The store contract: every query the services use behaves alike on SQLite and PostgreSQL.

Every test here takes `db_url`, so it runs once per backend with the same expectations. The
first half drives `Tx` directly (records, filters, compare-and-swap writes, events, ids,
migrations); the second half drives `gastown.services` (lifecycle, cycles, the ready set),
because a contract that holds query by query must also hold for the use cases built on it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gastown.clock import FakeClock
from gastown.errors import Conflict, CycleError, IllegalTransition, RuntimeFailure
from gastown.model import BLOCKS, PARENT_CHILD, RELATED, Bead, Convoy, Dependency, Event, Rig
from gastown.services import beads, convoys, deps
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger
from gastown.services.plan import Plan, PlanTask
from gastown.store import BeadFilter, Store, Tx, open_store
from gastown.store.projection import SqliteJson
from gastown.store.schema import LATEST, MIGRATIONS


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
    defaults: dict[str, Any] = {
        "title": f"Convoy {convoy_id}",
        "rig": "app",
        "created_at": at(0),
        "updated_at": at(0),
        "created_by": "tester",
    }
    return Convoy(id=convoy_id, **{**defaults, **fields})


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


def undo_migration_18(db: Any) -> None:
    """Take away what migration 18 added (the model a bead was slung with). SQLite's bead
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


def undo_migration_20(db: Any) -> None:
    """Take away what migration 20 made (institutional knowledge), on either backend."""
    db.execute("DROP TABLE knowledge")
    db.execute("DROP TABLE knowledge_signals")
    db.execute("DROP TABLE IF EXISTS knowledge_fts")  # SQLite's search table


def event(kind: str, **fields: Any) -> Event:
    return Event(
        id=0, at=fields.pop("at", at(0)), actor=fields.pop("actor", "tester"), kind=kind, **fields
    )


def listed(tx: Tx, **flt: Any) -> list[str]:
    """Ids of the beads a filter lists, in listing order."""
    return [b.id for b in tx.list_beads(BeadFilter(**flt))]


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def ledger(store: Store) -> Ledger:
    """The services' handle on the store: a fake clock and seeded ids, so runs repeat."""
    with store.transaction() as tx:
        tx.insert_rig(Rig("app", "file:///srv/app.git", "trunk", "rigs/app", at(0)))
    return Ledger(store, prefix="gt", actor="tester", clock=FakeClock(), rng=random.Random(7))


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


# --- listing beads ---------------------------------------------------------------------------


@pytest.fixture
def five_beads(store: Store) -> Store:
    """gt-a..gt-e with different statuses, rigs, labels, types, priorities and ages.

    Listing order (priority, then age, then id): gt-c, gt-a, gt-e, gt-b, gt-d.
    """
    with store.transaction() as tx:
        tx.insert_convoy(convoy("gt-cv-1"))
        tx.insert_beads(
            [
                bead("gt-a", priority=1, rig="app", labels=["x", "y"], assignee="p1",
                     created_at=at(1)),
                bead("gt-b", priority=1, rig="app", labels=["x"], type="bug",
                     status="in_progress", created_at=at(2)),
                bead("gt-c", priority=0, rig="lib", labels=["y"], type="feature",
                     status="closed", convoy_id="gt-cv-1", created_at=at(3)),
                bead("gt-d", priority=2, created_at=at(0)),
                bead("gt-e", priority=1, created_at=at(1)),
            ]
        )  # fmt: skip
        tx.insert_deps(
            [
                Dependency("gt-a", "gt-c", RELATED, at(4), "tester"),
                Dependency("gt-a", "gt-b", BLOCKS, at(4), "tester"),
            ]
        )
    return store


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({}, ["gt-c", "gt-a", "gt-e", "gt-b", "gt-d"]),
        ({"statuses": ["open"]}, ["gt-a", "gt-e", "gt-d"]),
        ({"statuses": ["open", "closed"]}, ["gt-c", "gt-a", "gt-e", "gt-d"]),
        ({"rig": "app"}, ["gt-a", "gt-b"]),
        ({"labels": ["x"]}, ["gt-a", "gt-b"]),
        ({"labels": ["x", "y"]}, ["gt-a"]),
        ({"labels": ["x", "nope"]}, []),
        ({"type": "bug"}, ["gt-b"]),
        ({"priority": 0}, ["gt-c"]),
        ({"priority": 1}, ["gt-a", "gt-e", "gt-b"]),
        ({"assignee": "p1"}, ["gt-a"]),
        ({"convoy_id": "gt-cv-1"}, ["gt-c"]),
        ({"ids": ["gt-d", "gt-a", "gt-zz"]}, ["gt-a", "gt-d"]),
        ({"ids": []}, []),
        ({"limit": 2}, ["gt-c", "gt-a"]),
        ({"limit": 0}, []),
        ({"statuses": ["open"], "rig": "app", "labels": ["y"], "priority": 1}, ["gt-a"]),
    ],
)
def test_every_bead_filter_field_selects_the_same_beads(
    five_beads: Store, flt: dict[str, Any], expected: list[str]
) -> None:
    """Given five varied beads, when they are listed with one filter, then both backends pick
    the same beads in the same order: priority, then age, then id."""
    with five_beads.reader() as tx:
        assert listed(tx, **flt) == expected


def test_a_listing_carries_labels_and_edges_even_under_a_limit(five_beads: Store) -> None:
    """Given beads with labels and edges, when they are listed (also with a limit and a label
    filter), then each bead carries all of its own labels and edges, sorted."""
    with five_beads.reader() as tx:
        everything = {b.id: b for b in tx.list_beads()}
        limited = tx.list_beads(BeadFilter(limit=2))
        by_label = tx.list_beads(BeadFilter(labels=["x"]))

    assert everything["gt-a"].labels == ["x", "y"]
    assert everything["gt-d"].labels == []
    assert [(d.depends_on_id, d.type) for d in everything["gt-a"].dependencies] == [
        ("gt-b", BLOCKS),
        ("gt-c", RELATED),
    ]
    assert [(b.id, b.labels) for b in limited] == [("gt-c", ["y"]), ("gt-a", ["x", "y"])]
    assert [(b.id, b.labels) for b in by_label] == [("gt-a", ["x", "y"]), ("gt-b", ["x"])]
    assert len(by_label[0].dependencies) == 2


def test_counts_by_status_and_in_total(five_beads: Store) -> None:
    """Given five beads, then the counts per status (town-wide and per rig) agree."""
    with five_beads.reader() as tx:
        assert tx.count_by_status() == {"open": 3, "in_progress": 1, "closed": 1}
        assert tx.count_by_status("app") == {"open": 1, "in_progress": 1}
        assert tx.count_by_status("nope") == {}
        assert tx.count_beads() == 5
        assert tx.statuses(["gt-a", "gt-c", "gt-zz"]) == {"gt-a": "open", "gt-c": "closed"}


# --- compare-and-swap writes -----------------------------------------------------------------


def test_an_update_from_a_stale_read_is_refused(store: Store) -> None:
    """Given two readers of the same bead, when the first writes, then the second's write (from
    a stale version) is refused and changes nothing."""
    with store.transaction() as tx:
        tx.insert_beads([bead("gt-a", labels=["keep"])])
    with store.reader() as tx:
        first, stale = tx.get_bead("gt-a"), tx.get_bead("gt-a")
    assert first is not None and stale is not None

    first.title, first.held = "Renamed", True
    with store.transaction() as tx:
        assert tx.update_bead(first) is True
    stale.title = "Lost"
    with store.transaction() as tx:
        assert tx.update_bead(stale) is False

    assert (first.version, stale.version) == (2, 1)
    with store.reader() as tx:
        got = tx.get_bead("gt-a")
    assert got is not None
    assert (got.title, got.held, got.version, got.labels) == ("Renamed", True, 2, ["keep"])


def test_labels_are_replaced_as_a_sorted_set(store: Store) -> None:
    """Given two labelled beads, when one bead's labels are replaced, then it has exactly the
    new ones (deduplicated, sorted) and the other bead keeps its own."""
    with store.transaction() as tx:
        tx.insert_beads([bead("gt-a", labels=["old"]), bead("gt-b", labels=["old"])])
        tx.set_labels("gt-a", ["zeta", "alpha", "zeta"])
    with store.reader() as tx:
        assert tx.get_bead("gt-a").labels == ["alpha", "zeta"]  # type: ignore[union-attr]
        assert tx.get_bead("gt-b").labels == ["old"]  # type: ignore[union-attr]
    with store.transaction() as tx:
        tx.set_labels("gt-a", [])
    with store.reader() as tx:
        assert tx.get_bead("gt-a").labels == []  # type: ignore[union-attr]


def test_a_claim_succeeds_only_on_an_open_unheld_bead_nobody_else_holds(store: Store) -> None:
    """Given beads in every claimable and unclaimable state, when polecats claim them, then
    only open, unheld beads that are unassigned (or already the claimant's) are taken, and a
    taken bead records its assignee, start time and a new version."""
    with store.transaction() as tx:
        tx.insert_beads(
            [
                bead("gt-free"),
                bead("gt-blank", assignee=""),
                bead("gt-held", held=True),
                bead("gt-mine", assignee="p1"),
                bead("gt-theirs", assignee="p2"),
                bead("gt-done", status="closed", closed_at=at(1)),
                bead("gt-again", started_at=at(1)),
            ]
        )

    with store.transaction() as tx:
        outcome = {
            bead_id: tx.claim(bead_id, "p1", at(5))
            for bead_id in (
                "gt-free", "gt-blank", "gt-held", "gt-mine", "gt-theirs", "gt-done", "gt-again",
            )
        }  # fmt: skip
        second = tx.claim("gt-free", "p2", at(6))

    assert outcome == {
        "gt-free": True,
        "gt-blank": True,
        "gt-held": False,
        "gt-mine": True,
        "gt-theirs": False,
        "gt-done": False,
        "gt-again": True,
    }
    assert second is False
    with store.reader() as tx:
        free, again = tx.get_bead("gt-free"), tx.get_bead("gt-again")
        held = tx.get_bead("gt-held")
    assert free is not None and again is not None and held is not None
    assert (free.status, free.assignee, free.started_at, free.updated_at, free.version) == (
        "in_progress",
        "p1",
        at(5),
        at(5),
        2,
    )
    assert again.started_at == at(1)  # the first start is kept
    assert (held.status, held.assignee, held.version) == ("open", None, 1)


def test_child_numbers_count_up_per_parent(store: Store) -> None:
    """Given two parents, when children are numbered across transactions, then each parent
    counts 1, 2, 3 on its own."""
    with store.transaction() as tx:
        assert [tx.next_child("gt-p"), tx.next_child("gt-p")] == [1, 2]
    with store.transaction() as tx:
        assert [tx.next_child("gt-q"), tx.next_child("gt-p")] == [1, 3]


# --- ids -------------------------------------------------------------------------------------


def test_existing_ids_are_found_among_beads_and_convoys(store: Store) -> None:
    """Given beads and a convoy, when many ids are looked up at once (more than one chunk),
    then exactly the taken ones come back, whichever table holds them."""
    with store.transaction() as tx:
        tx.insert_beads([bead("gt-a"), bead("gt-b")])
        tx.insert_convoy(convoy("gt-cv-1"))
    lookup = [f"gt-x{i}" for i in range(1200)] + ["gt-b", "gt-cv-1", "gt-a"]
    with store.reader() as tx:
        assert tx.existing_ids(lookup) == {"gt-a", "gt-b", "gt-cv-1"}
        assert tx.existing_ids(["gt-none"]) == set()
        assert tx.existing_ids([]) == set()


def test_id_prefixes_match_literally(store: Store) -> None:
    """Given ids holding LIKE's wildcards (`_`, `%`) and mixed case, when beads are looked up
    by the start of their id, then the input is matched literally and case-sensitively."""
    with store.transaction() as tx:
        tx.insert_beads(
            [
                bead(i)
                for i in (
                    "gt-ab1", "gt-ab2", "gt-ac", "gt-Ab", "gtxab", "gt_x1", "gt%y", "gt\\z",
                )
            ]
        )  # fmt: skip
    with store.reader() as tx:
        assert tx.ids_starting("gt-a") == ["gt-ab1", "gt-ab2", "gt-ac"]
        assert tx.ids_starting("gt-a", limit=2) == ["gt-ab1", "gt-ab2"]
        assert tx.ids_starting("gt_") == ["gt_x1"]
        assert tx.ids_starting("gt%") == ["gt%y"]
        assert tx.ids_starting("g%") == []
        assert tx.ids_starting("gt-_") == []
        assert tx.ids_starting("gt\\") == ["gt\\z"]
        assert tx.ids_starting("GT-A") == []


# --- dependencies and readiness --------------------------------------------------------------


def test_dependencies_are_stored_listed_both_ways_and_removed(store: Store) -> None:
    """Given edges of several types, then each bead lists what it depends on and what depends
    on it, edges are selectable by type, and removing an edge removes only that one."""
    with store.transaction() as tx:
        tx.insert_beads([bead(i) for i in ("gt-a", "gt-b", "gt-c", "gt-d")])
        tx.insert_deps(
            [
                Dependency("gt-a", "gt-c", RELATED, at(1), "tester"),
                Dependency("gt-a", "gt-b", BLOCKS, at(2), "mayor"),
                Dependency("gt-d", "gt-a", PARENT_CHILD, at(3), "tester"),
                Dependency("gt-c", "gt-b", BLOCKS, at(4), "tester"),
            ]
        )

    with store.reader() as tx:
        assert tx.deps_of("gt-a") == [
            Dependency("gt-a", "gt-b", BLOCKS, at(2), "mayor"),
            Dependency("gt-a", "gt-c", RELATED, at(1), "tester"),
        ]
        assert tx.dependents_of("gt-b") == [
            Dependency("gt-a", "gt-b", BLOCKS, at(2), "mayor"),
            Dependency("gt-c", "gt-b", BLOCKS, at(4), "tester"),
        ]
        assert sorted(tx.edges(BLOCKS)) == [("gt-a", "gt-b"), ("gt-c", "gt-b")]
        assert tx.edges(PARENT_CHILD) == [("gt-d", "gt-a")]
        assert tx.get_bead("gt-a").dependencies == tx.deps_of("gt-a")  # type: ignore[union-attr]

    with store.transaction() as tx:
        assert tx.delete_dep("gt-a", "gt-b") is True
        assert tx.delete_dep("gt-a", "gt-b") is False
    with store.reader() as tx:
        assert [d.depends_on_id for d in tx.deps_of("gt-a")] == ["gt-c"]
        assert tx.edges(BLOCKS) == [("gt-c", "gt-b")]


def blocked(store: Store) -> list[str]:
    with store.reader() as tx:
        return sorted(r[0] for r in tx.db.execute("SELECT bead_id FROM blocked").fetchall())


def reopen(store: Store, bead_id: str, status: str) -> None:
    with store.transaction() as tx:
        found = tx.get_bead(bead_id, lock=True)
        assert found is not None
        found.status = status
        found.closed_at = at(9) if status == "closed" else None
        assert tx.update_bead(found)


def test_the_blocked_table_follows_every_write_that_can_change_it(store: Store) -> None:
    """Given beads with blocks and parent edges, then the `blocked` table names exactly the
    beads with an unclosed blocker, an unclosed child or a blocked ancestor, after each kind
    of write: closing and reopening a blocker, adding and removing edges, a missing blocker
    arriving, and a transaction that fails (which leaves it as it was)."""
    with store.transaction() as tx:
        tx.insert_beads(
            [
                bead("gt-r1", dependencies=[Dependency("gt-r1", "gt-r5", BLOCKS, at(8), "t")]),
                bead("gt-r4"),
                bead("gt-r5", status="closed", closed_at=at(5)),
                bead("gt-r6", status="in_progress"),
            ]
        )
        tx.insert_deps(
            [
                Dependency("gt-r4", "gt-r6", BLOCKS, at(8), "tester"),
                Dependency("gt-r7", "gt-r1", PARENT_CHILD, at(8), "tester"),
                Dependency("gt-r8", "gt-r7", PARENT_CHILD, at(8), "tester"),
                Dependency("gt-r2", "gt-r6", RELATED, at(8), "tester"),
            ]
        )
        tx.insert_beads([bead("gt-r2"), bead("gt-r7"), bead("gt-r8")])
    assert blocked(store) == ["gt-r1", "gt-r4", "gt-r7"]  # r1 and r7 wait for their children

    reopen(store, "gt-r5", "open")  # r1's blocker reopens: r1 and its descendants are blocked
    assert blocked(store) == ["gt-r1", "gt-r4", "gt-r7", "gt-r8"]
    reopen(store, "gt-r6", "in_review")  # not to or from closed: nothing changes
    assert blocked(store) == ["gt-r1", "gt-r4", "gt-r7", "gt-r8"]
    reopen(store, "gt-r6", "closed")
    assert blocked(store) == ["gt-r1", "gt-r7", "gt-r8"]

    with store.transaction() as tx:
        assert tx.delete_dep("gt-r7", "gt-r1")  # r7 leaves its blocked parent
    assert blocked(store) == ["gt-r1", "gt-r7"]  # r7 still waits for r8

    with store.transaction() as tx:  # a blocker that is not in the town does not block
        tx.insert_deps([Dependency("gt-r2", "gt-later", BLOCKS, at(9), "tester")])
    assert blocked(store) == ["gt-r1", "gt-r7"]
    with store.transaction() as tx:  # until it arrives, open
        tx.insert_beads([bead("gt-later")])
    assert blocked(store) == ["gt-r1", "gt-r2", "gt-r7"]

    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert_deps([Dependency("gt-r8", "gt-r5", BLOCKS, at(9), "tester")])
        raise RuntimeError("the caller gives up")
    assert blocked(store) == ["gt-r1", "gt-r2", "gt-r7"]


def test_a_parent_is_blocked_while_a_child_of_it_is_not_closed(store: Store) -> None:
    """Given an epic, then the `blocked` table holds it exactly while one of its children is
    unclosed, after each write that can change that: a child arriving (its edge before it or
    with it), closing and reopening, a failed child, an edge removed; an unclosed child holds
    back its parent alone (its sibling stays unblocked), and a child not in the town does
    not count."""
    with store.transaction() as tx:
        tx.insert_beads([bead("gt-e")])
        tx.insert_deps([Dependency("gt-e.1", "gt-e", PARENT_CHILD, at(1), "t")])
    assert blocked(store) == []  # its child is not in the town
    with store.transaction() as tx:
        tx.insert_beads([bead("gt-e.1")])
    assert blocked(store) == ["gt-e"]
    with store.transaction() as tx:
        tx.insert_beads(
            [
                bead(
                    "gt-e.2",
                    status="closed",
                    closed_at=at(2),
                    dependencies=[Dependency("gt-e.2", "gt-e", PARENT_CHILD, at(2), "t")],
                )
            ]
        )
    assert blocked(store) == ["gt-e"]
    reopen(store, "gt-e.1", "closed")
    assert blocked(store) == []
    reopen(store, "gt-e.2", "failed")  # failed is not closed: the epic waits for it
    assert blocked(store) == ["gt-e"]
    with store.transaction() as tx:
        assert tx.delete_dep("gt-e.2", "gt-e")
    assert blocked(store) == []
    reopen(store, "gt-e.1", "open")
    assert blocked(store) == ["gt-e"]
    with store.reader() as tx:
        assert tx.open_children(["gt-e", "gt-e.1"]) == {
            "gt-e": [("gt-e.1", "open", "Work on gt-e.1")]
        }
        assert listed(tx, ready=True) == ["gt-e.1"]  # its parent waits; it is not held back


def test_blocked_beads_are_listed_with_their_blockers_or_blocked_ancestor(store: Store) -> None:
    """Given a bead waiting on two unclosed beads and a closed one, and a grandchild of a
    blocked epic through a `parent-child` cycle, then the blocked filter lists both, the
    blockers are the unclosed ones by id, and the grandchild's blocked ancestor is the
    nearest one that has a blocker of its own (the cycle ends the walk)."""
    with store.transaction() as tx:
        tx.insert_beads(
            [
                bead("gt-w", priority=1),
                bead("gt-x", title="X"),
                bead("gt-y", status="in_progress"),
                bead("gt-z", status="closed", closed_at=at(1)),
                bead("gt-epic"),
                bead("gt-mid"),
                bead("gt-leaf"),
            ]
        )
        tx.insert_deps(
            [
                Dependency("gt-w", "gt-y", BLOCKS, at(1), "t"),
                Dependency("gt-w", "gt-x", BLOCKS, at(1), "t"),
                Dependency("gt-w", "gt-z", BLOCKS, at(1), "t"),
                Dependency("gt-epic", "gt-x", BLOCKS, at(1), "t"),
                Dependency("gt-mid", "gt-epic", PARENT_CHILD, at(1), "t"),
                Dependency("gt-leaf", "gt-mid", PARENT_CHILD, at(1), "t"),
                Dependency("gt-epic", "gt-leaf", PARENT_CHILD, at(1), "t"),
            ]
        )
    with store.reader() as tx:
        assert listed(tx, blocked=True) == ["gt-w", "gt-epic", "gt-leaf", "gt-mid"]
        assert tx.count(BeadFilter(blocked=True, limit=1)) == 4  # a count ignores the limit
        assert tx.count(BeadFilter(ready=True)) == 1 and tx.count(BeadFilter()) == 7
        assert tx.waiting_on(["gt-w", "gt-mid", "gt-epic"]) == {
            "gt-w": [("gt-x", "open", "X"), ("gt-y", "in_progress", "Work on gt-y")],
            "gt-epic": [("gt-x", "open", "X")],
        }
        assert tx.blocked_ancestor("gt-leaf") == "gt-epic"
        assert tx.blocked_ancestor("gt-mid") == "gt-epic"
        assert tx.blocked_ancestor("gt-w") is None


def test_the_ready_set_is_not_read_where_a_transaction_has_changed_it(store: Store) -> None:
    """Given a transaction that added a `blocks` edge, then reading the ready set in it is
    refused (the `blocked` table catches up only at commit), and after the commit it is
    right; a transaction that changed nothing bearing on it may read it."""
    with store.transaction() as tx:
        tx.insert_beads([bead("gt-a"), bead("gt-b")])
    with store.transaction() as tx:
        assert listed(tx, ready=True) == ["gt-a", "gt-b"]
        tx.insert_deps([Dependency("gt-a", "gt-b", BLOCKS, at(1), "tester")])
        with pytest.raises(RuntimeError, match="cannot be read in a transaction"):
            listed(tx, ready=True)
        with pytest.raises(RuntimeError, match="cannot be read in a transaction"):
            tx.dispatch_candidates()
        assert listed(tx) == ["gt-a", "gt-b"]  # other listings are fine
    with store.reader() as tx:
        assert listed(tx, ready=True) == ["gt-b"]


# --- convoys ---------------------------------------------------------------------------------


def test_convoys_show_progress_and_filter_by_rig_and_status(store: Store) -> None:
    """Given a staged convoy with three beads (one closed) and an empty landed convoy, then
    each reports its progress, filters by rig and status, and an update reads back."""
    with store.transaction() as tx:
        tx.insert_convoy(convoy("gt-cv-1", staged=True, created_at=at(1)))
        tx.insert_convoy(
            convoy("gt-cv-2", rig="lib", status="landed", landed_at=at(3), created_at=at(2))
        )
        tx.insert_beads(
            [
                bead("gt-a", convoy_id="gt-cv-1"),
                bead("gt-b", convoy_id="gt-cv-1", status="closed", closed_at=at(2)),
                bead("gt-c", convoy_id="gt-cv-1", status="in_progress"),
                bead("gt-d"),
            ]
        )

    with store.reader() as tx:
        one, two = tx.get_convoy("gt-cv-1"), tx.get_convoy("gt-cv-2")
        assert tx.get_convoy("gt-cv-none") is None
        assert [c.id for c in tx.list_convoys()] == ["gt-cv-1", "gt-cv-2"]
        assert [c.id for c in tx.list_convoys(rig="lib")] == ["gt-cv-2"]
        assert [c.id for c in tx.list_convoys(status="open")] == ["gt-cv-1"]
        assert tx.list_convoys(rig="app", status="landed") == []
    assert one == convoy("gt-cv-1", staged=True, created_at=at(1), total=3, closed=1)
    assert one is not None and one.staged is True
    assert two is not None and (two.total, two.closed, two.staged) == (0, 0, False)

    with store.transaction() as tx:
        locked = tx.get_convoy("gt-cv-1", lock=True)
        assert locked is not None
        locked.staged, locked.status, locked.updated_at = False, "failed", at(9)
        locked.title, locked.close_reason = "Renamed", "gave up"
        tx.update_convoy(locked)
    with store.reader() as tx:
        assert tx.get_convoy("gt-cv-1") == locked


# --- events ----------------------------------------------------------------------------------


@pytest.fixture
def six_events(store: Store) -> list[Event]:
    """Six events on two beads and a convoy, as the store numbered them."""
    with store.transaction() as tx:
        tx.append_events(
            [
                event("bead.created", bead_id="gt-a", rig="app", after={"title": "A ✓"}),
                event("bead.claimed", bead_id="gt-a", rig="app", actor="p1",
                      before={"status": "open", "assignee": None},
                      after={"status": "in_progress", "assignee": "p1"}),
                event("convoy.created", convoy_id="gt-cv-1", rig="app", reason="plan"),
                event("convoy.bead_added", bead_id="gt-b", convoy_id="gt-cv-1", rig="lib"),
                event("convoy.beadXadded", bead_id="gt-b", rig="lib"),
            ]
        )  # fmt: skip
    with store.transaction() as tx:
        tx.append_events([event("bead.closed", bead_id="gt-b", rig="lib", at=at(9))])
    with store.reader() as tx:
        return tx.list_events()


def test_events_are_numbered_in_order_and_read_back_whole(six_events: list[Event]) -> None:
    """Given six appended events, then they come back in append order with increasing integer
    ids and their JSON payloads, reasons and times intact."""
    ids = [e.id for e in six_events]
    assert ids == sorted(set(ids)) and all(type(i) is int for i in ids)
    assert [e.kind for e in six_events] == [
        "bead.created",
        "bead.claimed",
        "convoy.created",
        "convoy.bead_added",
        "convoy.beadXadded",
        "bead.closed",
    ]
    claimed = six_events[1]
    assert (claimed.actor, claimed.before, claimed.after) == (
        "p1",
        {"status": "open", "assignee": None},
        {"status": "in_progress", "assignee": "p1"},
    )
    assert six_events[0].after == {"title": "A ✓"} and six_events[0].before is None
    assert six_events[2].reason == "plan" and six_events[5].at == at(9)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"bead_id": "gt-a"}, [0, 1]),
        ({"convoy_id": "gt-cv-1"}, [2, 3]),
        ({"rig": "lib"}, [3, 4, 5]),
        ({"kind": "bead.claimed"}, [1]),
        ({"kind": "bead.*"}, [0, 1, 5]),
        ({"kind": "convoy.bead_added"}, [3]),
        ({"kind": "BEAD.CLAIMED"}, []),
        ({"kind": "bead.%"}, []),
        ({"kind": "convoy.bead_*"}, [3]),
        ({"bead_id": "gt-b", "kind": "convoy.*"}, [3, 4]),
        ({"limit": 2}, [0, 1]),
        ({"newest_first": True, "limit": 2}, [5, 4]),
        ({"rig": "app", "newest_first": True}, [2, 1, 0]),
    ],
)
def test_events_filter_alike(
    store: Store, six_events: list[Event], query: dict[str, Any], expected: list[int]
) -> None:
    """Given six events, when they are listed with filters (bead, convoy, rig, an exact kind or
    a `prefix.*` kind, a limit, newest first), then the same events come back in the same
    order. Kinds match literally: `_` and `%` are not wildcards, case matters."""
    with store.reader() as tx:
        found = tx.list_events(**query)
    assert [e.id for e in found] == [six_events[i].id for i in expected]


def test_events_after_an_id_are_the_newer_ones(store: Store, six_events: list[Event]) -> None:
    """Given six events, when a follower asks for those after the second, then it gets the last
    four, and nothing after the last one."""
    with store.reader() as tx:
        newer = tx.list_events(after_id=six_events[1].id)
        beyond = tx.list_events(after_id=six_events[-1].id)
        newer_beads = tx.list_events(after_id=six_events[1].id, kind="bead.*")
    assert newer == six_events[2:]
    assert beyond == []
    assert newer_beads == [six_events[5]]


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
    assert [version for version, _ in recorded] == sorted(number for number, _ in MIGRATIONS)
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
        undo_migration_13(tx.db)
        undo_migration_20(tx.db)
        undo_migration_18(tx.db)
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


# --- the services on both backends -----------------------------------------------------------


def test_a_file_that_is_not_a_database_fails_in_one_sentence(tmp_path: Path) -> None:
    """Given a town whose state file holds something else, when it is opened, then a
    RuntimeFailure names the file instead of a raw driver error escaping."""
    garbage = tmp_path / "state.db"
    garbage.write_text("this is not a database, just some notes\n" * 100)

    with pytest.raises(RuntimeFailure, match="Cannot open the town database") as failed:
        open_store(f"sqlite:///{garbage}")

    assert str(garbage) in failed.value.message and "\n" not in failed.value.message


def kinds(store: Store, bead_id: str) -> list[str]:
    with store.reader() as tx:
        return [e.kind for e in tx.list_events(bead_id=bead_id)]


def test_a_bead_moves_through_its_lifecycle(ledger: Ledger) -> None:
    """Given a new bead, when it is claimed, sent to review, closed and reopened, then each step
    is recorded with its event, closed_at is set exactly while it is closed, and the first
    start time is kept."""
    made = beads.create(ledger, NewBead("Fix the login redirect", rig="app"))
    claimed = beads.claim(ledger, made.id, "polecat-1")
    reviewed = beads.update(ledger, made.id, {"status": "in_review"})
    closed = beads.close(ledger, made.id, reason="merged")
    reopened = beads.reopen(ledger, made.id, reason="regressed")

    assert (made.status, claimed.status, reviewed.status) == ("open", "in_progress", "in_review")
    assert claimed.assignee == "polecat-1" and claimed.started_at is not None
    assert (closed.status, closed.close_reason, closed.closed_at is not None) == (
        "closed",
        "merged",
        True,
    )
    assert (reopened.status, reopened.closed_at, reopened.assignee) == ("open", None, None)
    assert reopened.started_at == claimed.started_at
    assert reopened.version == 5
    assert kinds(ledger.store, made.id) == [
        "bead.created",
        "bead.claimed",
        "bead.status_changed",
        "bead.closed",
        "bead.reopened",
    ]


def test_an_illegal_transition_is_refused_and_changes_nothing(ledger: Ledger) -> None:
    """Given an open bead and a closed bead, when each is moved where the lifecycle forbids,
    then IllegalTransition (or Conflict for a claim) is raised and no record or event
    changes."""
    fresh = beads.create(ledger, NewBead("Open one", rig="app"))
    done = beads.close(ledger, beads.create(ledger, NewBead("Closed one", rig="app")).id)
    with ledger.store.reader() as tx:
        before = (tx.list_beads(), tx.list_events())

    with pytest.raises(IllegalTransition, match="is open; it cannot go to in_review"):
        beads.update(ledger, fresh.id, {"status": "in_review"})
    with pytest.raises(IllegalTransition, match="only closed or failed beads"):
        beads.reopen(ledger, fresh.id)
    with pytest.raises(IllegalTransition, match="is closed; it cannot go to in_progress"):
        beads.update(ledger, done.id, {"status": "in_progress"})
    with pytest.raises(IllegalTransition, match="already closed"):
        beads.close(ledger, done.id)
    with pytest.raises(Conflict, match="cannot be claimed"):
        beads.claim(ledger, done.id, "polecat-1")

    with ledger.store.reader() as tx:
        assert (tx.list_beads(), tx.list_events()) == before


def test_a_blocks_edge_that_closes_a_cycle_is_refused_with_the_cycle_named(
    ledger: Ledger,
) -> None:
    """Given a → b → c (each depends on the next), when c is made to depend on a, then the edge
    is refused naming the cycle from c, and nothing is written; a `related` edge the same way
    round is fine."""
    a, b, c = (beads.create(ledger, NewBead(t, rig="app")).id for t in ("A", "B", "C"))
    deps.add(ledger, a, b)
    deps.add(ledger, b, c)

    with pytest.raises(CycleError) as refused:
        deps.add(ledger, c, a)

    assert refused.value.cycle == [c, a, b, c]
    assert f"{c} → {a} → {b} → {c}" in refused.value.message
    with ledger.store.reader() as tx:
        assert sorted(tx.edges(BLOCKS)) == sorted([(a, b), (b, c)])
    assert deps.add(ledger, c, a, RELATED).type == RELATED


def ready_titles(ledger: Ledger) -> list[str]:
    return [b.title for b in deps.ready(ledger)]


def test_the_ready_set_follows_holds_blockers_parents_and_staging(ledger: Ledger) -> None:
    """Given free, held and blocked beads, a blocked epic with a child, and a staged convoy,
    then only the free and unblocked beads are ready, by priority then age; starting the
    convoy releases its first wave, closing a blocker makes its dependents ready (the epic
    still waits for its child), and closing the child makes the epic ready."""
    free = beads.create(ledger, NewBead("free", rig="app", priority=1))
    beads.create(ledger, NewBead("held", rig="app", held=True))
    blocker = beads.create(ledger, NewBead("blocker", rig="app"))
    blocked = beads.create(ledger, NewBead("blocked", rig="app"))
    epic = beads.create(ledger, NewBead("epic", rig="app", type="epic"))
    child = beads.create(ledger, NewBead("child", rig="app", parent=epic.id))
    deps.add(ledger, blocked.id, blocker.id)
    deps.add(ledger, epic.id, blocker.id)
    plan = Plan(
        [
            PlanTask("first", "convoy first", priority=3),
            PlanTask("then", "convoy then", needs=["first"]),
        ]
    )
    staged = convoys.create(
        ledger, "Staged work", "app", plan, staged=True, mode="review-then-land"
    )

    assert child.id == f"{epic.id}.1"
    assert ready_titles(ledger) == ["free", "blocker"]

    convoys.start(ledger, staged.convoy.id)
    assert ready_titles(ledger) == ["free", "blocker", "convoy first"]

    beads.close(ledger, blocker.id)
    assert ready_titles(ledger) == ["free", "blocked", "child", "convoy first"]
    assert free.id in {b.id for b in deps.ready(ledger, rig="app")}
    beads.close(ledger, child.id)
    assert ready_titles(ledger) == ["free", "blocked", "epic", "convoy first"]


def test_closing_a_convoys_beads_lands_it(ledger: Ledger) -> None:
    """Given a convoy of two dependent beads, when the blocker and then the dependent close,
    then the dependent becomes ready in between and the convoy lands with full progress."""
    plan = Plan([PlanTask("a", "step a"), PlanTask("b", "step b", needs=["a"])])
    made = convoys.create(ledger, "Two steps", "app", plan, staged=False, mode="review-and-merge")
    first, second = made.beads

    assert [b.id for b in deps.ready(ledger)] == [first.id]
    beads.close(ledger, first.id)
    assert [b.id for b in deps.ready(ledger)] == [second.id]
    beads.close(ledger, second.id)

    shown = convoys.show(ledger, made.convoy.id).convoy
    assert (shown.status, shown.closed, shown.total, shown.landed_at is not None) == (
        "landed",
        2,
        2,
        True,
    )


def test_an_issue_has_one_bead_found_by_issue_or_by_bead(db_url: str) -> None:
    """Given a bead linked to a forge issue, then the link is found by the issue (its
    repository in any case) and by the bead, a second link to the same issue is refused, and
    what was last taken in of the issue is recorded."""
    from gastown.model import IssueLink

    store = open_store(db_url)
    link = IssueLink(
        forge="github",
        host="github.com",
        repo="Acme/App",
        number=42,
        kind="issue",
        url="https://github.com/Acme/App/issues/42",
        bead_id="gt-a",
        rig="app",
        created_at=at(1),
        issue_updated_at=at(1),
    )
    try:
        with store.transaction() as tx:
            tx.insert_beads([bead("gt-a"), bead("gt-b")])
            tx.insert_issue_link(link)
        with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
            tx.insert_issue_link(IssueLink(**{**link.to_json(), "bead_id": "gt-b"}))
        with store.transaction() as tx:
            tx.mark_issue_link("github", "acme/app", 42, "issue", at(5), "closed")
        with store.reader() as tx:
            found = tx.get_issue_link("github", "acme/app", 42)
            assert found is not None and found.bead_id == "gt-a"
            assert (found.issue_updated_at, found.issue_state) == (at(5), "closed")
            assert tx.get_issue_link("github", "acme/app", 42, "pull") is None
            assert [x.number for x in tx.issue_links_of(["gt-a", "gt-b"])] == [42]
            assert tx.last_issue_update("app") == at(5)
            assert tx.last_issue_update("other") is None
    finally:
        store.close()
