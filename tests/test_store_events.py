"""The store contract for events: numbered in order, filtered alike, read after an id, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from gastown.model import Event
from gastown.store import Store
from tests.builders import (
    at,
    event,
)

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
