"""The store contract for dependencies: edges both ways, and the `blocked` table and ready
set that follow them, alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from gastown.model import BLOCKS, PARENT_CHILD, RELATED, BeadStatus, Dependency
from gastown.store import BeadFilter, Store
from tests.builders import (
    at,
    bead,
    blocked,
    listed,
)

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


def reopen(store: Store, bead_id: str, status: BeadStatus) -> None:
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
