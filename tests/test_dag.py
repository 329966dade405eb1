"""The pure graph core: ready sets, cycles, waves."""

from __future__ import annotations

import pytest

from gastown import dag
from gastown.dag import Candidate


def cand(
    bead_id: str,
    status: str = "open",
    *,
    held: bool = False,
    staged: bool = False,
    priority: int = 2,
    created: str = "2026-01-01",
) -> Candidate:
    return Candidate(bead_id, status, held, staged, priority, created)


def test_ready_orders_by_priority_then_age() -> None:
    beads = [
        cand("c", priority=2, created="3"),
        cand("a", priority=1, created="2"),
        cand("b", priority=2, created="1"),
    ]
    assert [c.id for c in dag.ready(beads, [])] == ["a", "b", "c"]


def test_only_unclosed_blockers_block() -> None:
    beads = [cand("a"), cand("b"), cand("x", "closed"), cand("y", "failed")]
    ready = dag.ready(beads, [("a", "x"), ("b", "y")])
    assert [c.id for c in ready] == ["a"]


def test_held_staged_and_not_open_are_never_ready() -> None:
    beads = [cand("h", held=True), cand("s", staged=True), cand("p", "in_progress"), cand("o")]
    assert [c.id for c in dag.ready(beads, [])] == ["o"]


def test_a_blocked_parent_blocks_its_children_and_a_parent_waits_for_them() -> None:
    """`epic` waits on `gate`, and everything under it with it; `free` waits for its open
    child, which its parent does not hold back; `done`'s only child is closed."""
    beads = [
        cand("epic"),
        cand("epic.1"),
        cand("epic.1.1"),
        cand("gate"),
        cand("free"),
        cand("free.1"),
        cand("done"),
        cand("done.1", "closed"),
    ]
    parents = [("epic.1", "epic"), ("epic.1.1", "epic.1"), ("free.1", "free"), ("done.1", "done")]
    ready = dag.ready(beads, [("epic", "gate")], parents)
    assert [c.id for c in ready] == ["done", "free.1", "gate"]
    assert dag.blocked_set({c.id: c.status for c in beads}, [("epic", "gate")], parents) == {
        "epic",
        "epic.1",
        "epic.1.1",
        "free",
    }


def test_missing_blocker_or_child_does_not_block() -> None:
    assert [
        c.id for c in dag.ready([cand("a")], [("a", "elsewhere-1")], status_of={"a": "open"})
    ] == ["a"]
    assert [
        c.id for c in dag.ready([cand("a")], [], [("elsewhere-1", "a")], status_of={"a": "open"})
    ] == ["a"]


def test_cycle_if_added_names_the_cycle_from_the_new_edge() -> None:
    edges = [("b", "a")]  # b depends on a
    assert dag.cycle_if_added(edges, "a", "b") == ["a", "b", "a"]
    assert dag.cycle_if_added([("b", "c"), ("c", "a")], "a", "b") == ["a", "b", "c", "a"]
    assert dag.cycle_if_added(edges, "c", "b") is None


def test_find_cycle() -> None:
    assert dag.find_cycle(["a", "b", "c"], [("a", "b"), ("b", "c")]) is None
    cycle = dag.find_cycle(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "b")])
    assert cycle == ["b", "c", "b"]


def test_waves_layer_by_dependency_and_refuse_cycles() -> None:
    assert dag.waves(["a", "b", "c", "d"], [("b", "a"), ("c", "a"), ("d", "b"), ("d", "c")]) == [
        ["a"],
        ["b", "c"],
        ["d"],
    ]
    with pytest.raises(ValueError, match="cycle"):
        dag.waves(["a", "b"], [("a", "b"), ("b", "a")])
