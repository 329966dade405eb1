"""The store contract for beads: listings and their filters, counts, compare-and-swap writes
and ids, alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from gastown.model import BLOCKS, RELATED, Dependency
from gastown.store import BeadFilter, Store
from tests.builders import (
    at,
    bead,
    convoy,
    listed,
)

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
