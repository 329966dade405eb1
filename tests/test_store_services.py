"""The store contract through the services: a bead's lifecycle, cycles refused, the ready
set, convoys landing and issue links, alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from gastown.errors import Conflict, CycleError, IllegalTransition
from gastown.model import BLOCKS, RELATED
from gastown.services import beads, convoys, deps
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger
from gastown.services.plan import Plan, PlanTask
from gastown.store import Store, open_store
from tests.builders import (
    at,
    bead,
)

# --- the services on both backends -----------------------------------------------------------


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
