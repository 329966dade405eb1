"""A parent waits for its children: one rule on every path.

A bead with an unclosed child (through a `parent-child` edge) is not ready, so it is never
dispatched, and it closes only once its children have: `gt bead close`, `gt bead update
--status closed`, a forced close (which closes what is under it first), a convoy forced
closed, and the refinery landing its work. A bead that gained a child after it was
dispatched still lands its work, stays `in_review`, and closes when its last child does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gastown.clock import FakeClock
from gastown.errors import Conflict
from gastown.model import (
    CLOSED,
    IN_PROGRESS,
    IN_REVIEW,
    MR_MERGED,
    PARENT_CHILD,
    Dependency,
    MergeRequest,
    Rig,
)
from gastown.reconciler import Dispatch, Policy, load_snapshot, plan
from gastown.reconciler.apply import apply
from gastown.refinery import outcome
from gastown.services import beads, convoys, deps
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger
from gastown.services.plan import Plan, PlanTask
from gastown.store import BeadFilter, Store, open_store
from tests.builders import CALC, Yard, at, bead, remote, undo_migrations_after, yard
from tests.conftest import Gt

__all__ = ["remote", "yard"]  # the Yard's fixtures, which pytest finds here by name


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
        tx.insert_rig(Rig("app", "file:///srv/app.git", "trunk", "rigs/app", at(0)))
    return Ledger(store, prefix="gt", actor="tester", clock=FakeClock(), rng=random.Random(3))


def status_of(ledger: Ledger, bead_id: str) -> str:
    return beads.show(ledger, bead_id)[0].status


def kinds(ledger: Ledger, bead_id: str) -> list[str]:
    with ledger.store.reader() as tx:
        return [e.kind for e in tx.list_events(bead_id=bead_id, limit=None)]


def test_a_parent_with_an_open_child_is_not_dispatched(store: Store) -> None:
    """Given a slung epic and a plan that dispatches it, when a child is added to it before
    the plan is applied, then no run is made; a fresh snapshot offers only the child, and
    once the child is closed the epic is ready again."""
    now = datetime(2026, 1, 1, 1, 0, 0, tzinfo=UTC)
    with store.transaction() as tx:
        tx.insert_rig(Rig("app", "/srv/app", "trunk", "rigs/app", at(0)))
        tx.insert_beads([bead("gt-epic", rig="app", slung=True, type="epic")])
    with store.reader() as tx:
        actions = plan(load_snapshot(tx, now, {}), now, Policy())
    assert [a.bead_id for a in actions if isinstance(a, Dispatch)] == ["gt-epic"]

    child = bead(
        "gt-epic.1",
        rig="app",
        slung=True,
        created_at=at(1),
        dependencies=[Dependency("gt-epic.1", "gt-epic", PARENT_CHILD, at(1), "tester")],
    )
    with store.transaction() as tx:
        tx.insert_beads([child])
    applied = apply(Ledger(store, prefix="gt", actor="town", clock=FakeClock(now)), actions)

    assert applied.launches == []
    with store.reader() as tx:
        assert tx.list_runs() == []
        assert {
            r: [b.id for b in found] for r, found in load_snapshot(tx, now, {}).ready.items()
        } == {"app": ["gt-epic.1"]}
    with store.transaction() as tx:
        done = tx.get_bead("gt-epic.1", lock=True)
        assert done is not None
        done.status, done.closed_at = CLOSED, at(2)
        assert tx.update_bead(done)
    with store.reader() as tx:
        assert tx.bead_ids(BeadFilter(ready=True)) == ["gt-epic"]


def test_every_way_of_closing_a_parent_waits_for_its_children(ledger: Ledger) -> None:
    """Given an epic with a child and a grandchild, then closing the epic, or setting its
    status to closed, is refused while a child is open, and so is closing the child while
    the grandchild is; a forced close closes the grandchild, then the child, then the epic,
    each saying what it was closed with."""
    epic = beads.create(ledger, NewBead("Epic", rig="app", type="epic"))
    child = beads.create(ledger, NewBead("Child", parent=epic.id))
    grandchild = beads.create(ledger, NewBead("Grandchild", parent=child.id))

    with pytest.raises(Conflict, match=f"Bead {epic.id} has open children: {child.id}"):
        beads.close(ledger, epic.id)
    with pytest.raises(Conflict, match=f"has open children: {child.id}"):
        beads.update(ledger, epic.id, {"status": CLOSED})
    with pytest.raises(Conflict, match=f"has open children: {grandchild.id}"):
        beads.close(ledger, child.id, reason="done")
    assert [status_of(ledger, b.id) for b in (epic, child, grandchild)] == ["open"] * 3

    closed = beads.close(ledger, epic.id, reason="descoped", force=True)

    assert (closed.status, closed.close_reason) == (CLOSED, "descoped")
    shown = {b.id: beads.show(ledger, b.id)[0] for b in (child, grandchild)}
    assert shown[child.id].close_reason == f"closed with {epic.id}: descoped"
    assert shown[grandchild.id].close_reason == f"closed with {child.id}: descoped"
    with ledger.store.reader() as tx:
        order = [e.bead_id for e in tx.list_events(kind="bead.closed", limit=None)]
    assert order == [grandchild.id, child.id, epic.id]


def test_a_forced_convoy_close_closes_the_children_of_its_beads_first(ledger: Ledger) -> None:
    """Given a convoy whose bead has a child outside the convoy, one of them failed, when
    the convoy is forced closed, then the child is closed (reopened first) before its
    parent, and nothing is left open."""
    made = convoys.create(
        ledger, "Work", "app", Plan([PlanTask("a", "Part")]), staged=False, mode="review-and-merge"
    )
    (member,) = made.beads
    child = beads.create(ledger, NewBead("Under it", parent=member.id))
    beads.update(ledger, child.id, {"status": IN_PROGRESS})
    beads.update(ledger, child.id, {"status": "failed"})

    convoys.close(ledger, made.convoy.id, reason="dropped", force=True)

    assert [status_of(ledger, b) for b in (child.id, member.id)] == [CLOSED, CLOSED]
    assert kinds(ledger, child.id)[-2:] == ["bead.reopened", "bead.closed"]


def land(ledger: Ledger, bead_id: str) -> MergeRequest:
    """A merge request for `bead_id`, as a finished run leaves it, landed by the refinery."""
    now = ledger.now()
    mr = MergeRequest(
        id=f"mr-{bead_id}",
        bead_id=bead_id,
        run_id=None,
        rig="app",
        branch=f"gt/alder/{bead_id}",
        target="trunk",
        base_commit="a" * 40,
        head_commit="b" * 40,
        created_at=now,
        updated_at=now,
    )
    with ledger.store.transaction() as tx:
        tx.insert_merge_request(mr)
    (done,) = outcome.landed(ledger, [(mr, {})], "c" * 40, "direct")
    return done


def test_work_that_lands_under_an_open_child_closes_with_its_last_child(ledger: Ledger) -> None:
    """Given a bead in review that gained a child after it was dispatched, when its merge
    request lands, then the merge request is merged but the bead stays in review, its
    landing kept as its close reason, and it is listed as waiting for its child; when the
    child closes, the bead closes with it, for the reason it landed."""
    work = beads.create(ledger, NewBead("Work", rig="app"))
    beads.update(ledger, work.id, {"status": IN_PROGRESS})
    beads.update(ledger, work.id, {"status": IN_REVIEW})
    child = beads.create(ledger, NewBead("Found while working", parent=work.id))

    mr = land(ledger, work.id)

    assert mr.status == MR_MERGED
    waiting = beads.show(ledger, work.id)[0]
    assert (waiting.status, waiting.closed_at) == (IN_REVIEW, None)
    assert mr.note is not None and mr.note.startswith("landed on trunk")
    assert waiting.close_reason == mr.note
    assert kinds(ledger, work.id)[-1] == "bead.awaiting_children"
    (listed,) = deps.blocked(ledger)
    assert listed.bead.id == work.id and listed.waits() == f"its children {child.id} (open)"

    beads.close(ledger, child.id, reason="done")

    closed = beads.show(ledger, work.id)[0]
    assert (closed.status, closed.close_reason) == (CLOSED, mr.note)
    with ledger.store.reader() as tx:
        (event,) = tx.list_events(bead_id=work.id, kind="bead.closed")
    assert event.reason == f"its children have closed; {mr.note}"


def test_a_waiting_bead_closes_when_its_last_child_leaves_it(ledger: Ledger) -> None:
    """Given a bead whose work landed while its child was open, when the child is moved out
    from under it (its `parent-child` edge removed), then the bead closes; a bead that is
    reopened meanwhile forgets that it was to close."""
    work = beads.create(ledger, NewBead("Work", rig="app"))
    other = beads.create(ledger, NewBead("Other", rig="app"))
    for found in (work, other):
        beads.update(ledger, found.id, {"status": IN_PROGRESS})
    child = beads.create(ledger, NewBead("Child", parent=work.id))
    second = beads.create(ledger, NewBead("Child", parent=other.id))
    land(ledger, work.id)
    land(ledger, other.id)
    assert [status_of(ledger, b.id) for b in (work, other)] == [IN_REVIEW, IN_REVIEW]

    deps.remove(ledger, child.id, work.id)
    beads.update(ledger, other.id, {"status": "open"})
    beads.close(ledger, second.id)

    assert status_of(ledger, work.id) == CLOSED
    reopened = beads.show(ledger, other.id)[0]
    assert (reopened.status, reopened.close_reason) == ("open", None)


def test_a_town_from_before_the_rule_has_its_waiting_parents_blocked(db_url: str) -> None:
    """Given a town at schema version 9 with an epic whose child is open (the epic in the
    ready set then), when it is opened, then migration 10 blocks the epic and only the child
    is ready."""
    store = open_store(db_url)
    with store.transaction() as tx:
        child_of = [Dependency("gt-e.1", "gt-e", PARENT_CHILD, at(1), "tester")]
        tx.insert_beads([bead("gt-e"), bead("gt-e.1", dependencies=child_of)])
    with store.transaction() as tx:  # as schema 9 kept it: no parent waited for its children
        tx.db.execute("DELETE FROM blocked")
        tx.db.execute("ALTER TABLE convoys DROP COLUMN cancelled_at")  # added by migration 11
        tx.db.execute("DROP TABLE issue_links")  # made by migration 12
        undo_migrations_after(tx.db, 12)
        tx.db.execute("DELETE FROM schema_migrations WHERE version > 9")
    store.close()

    store = open_store(db_url)
    try:
        with store.reader() as tx:
            assert tx.bead_ids(BeadFilter(ready=True)) == ["gt-e.1"]
            assert tx.bead_ids(BeadFilter(blocked=True)) == ["gt-e"]
    finally:
        store.close()


def test_the_refinery_lands_a_parents_work_and_it_closes_with_its_child(yard: Yard) -> None:
    """Given a bead in review whose branch adds a function, and a child added to the bead
    after it was dispatched, when the refinery takes its merge request, then the function
    is on trunk and the merge request merged, but the bead is still in review, waiting for
    its child; closing the child closes it."""
    work, mr = yard.submit("Add mul", {"calc.py": CALC + "\n\ndef mul(a, b):\n    return a * b\n"})
    child = yard.gt.json("bead", "create", "Document mul", "--parent", work)["id"]

    yard.drain()

    assert yard.mr(mr).status == MR_MERGED and "def mul" in yard.remote_file("calc.py")
    shown = yard.bead(work)
    assert shown["status"] == IN_REVIEW and shown["close_reason"].startswith("landed on trunk")
    assert [c["id"] for c in shown["open_children"]] == [child]
    told = yard.gt.ok("bead", "show", work).out
    assert "closes when its children have: landed on trunk" in told
    assert f"blocked: waiting on its children {child} (open)" in told
    yard.gt.ok("bead", "close", child)
    assert yard.bead(work)["status"] == CLOSED


def test_an_import_that_closes_a_parent_before_its_children_is_refused(
    gt: Gt, tmp_path: Path
) -> None:
    """Given a file closing an epic whose child it leaves open, or closing a town's epic whose
    child in the town is open, then the import is refused (exit 2) naming both, and nothing
    is written; with the child closed in the file too, it goes in."""
    closed = {"status": "closed", "closed_at": "2031-01-01T00:00:00Z"}
    child_of = [{"depends_on_id": "bd-e", "type": "parent-child"}]
    epic = {"id": "bd-e", "title": "Epic", "issue_type": "epic", **closed}
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps(epic)
        + "\n"
        + json.dumps({"id": "bd-e.1", "title": "Child", "dependencies": child_of})
        + "\n"
    )
    refused = gt("import", str(path))
    assert refused.code == 2
    assert f"{path} closes bd-e while its child bd-e.1 is open" in refused.err
    assert gt.json("bead", "list") == []

    town_epic = gt.json("bead", "create", "Town epic", "-t", "epic")["id"]
    gt.ok("bead", "create", "Town child", "--parent", town_epic)
    later = {"id": town_epic, "title": "Town epic", "updated_at": "2031-01-01T00:00:00Z", **closed}
    path.write_text(json.dumps(later) + "\n")
    refused = gt("import", str(path))
    assert refused.code == 2 and f"closes {town_epic} while its child {town_epic}.1" in refused.err
    assert gt.json("bead", "show", town_epic)["status"] == "open"

    done = {"id": "bd-e.1", "title": "Child", "dependencies": child_of, **closed}
    path.write_text(json.dumps(epic) + "\n" + json.dumps(done) + "\n")
    gt.ok("import", str(path))
    assert [b["status"] for b in gt.json("bead", "list", "--status", "closed")] == ["closed"] * 2
