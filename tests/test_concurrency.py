"""The ledger under concurrency: eight OS processes race on the same beads, on each backend.

Every race starts eight `spawn`ed processes that each open their own store with `open_store`,
wait at a barrier so they start together, and then go through `gastown.services` as separate
polecats would. A worker that fails reports its traceback; "database is locked", a deadlock or
a unique-key clash is a bug in the store or the services, never something to retry here. The
only retry is the one optimistic concurrency asks for: re-read after a refused stale write.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from gastown import dag
from gastown.clock import FakeClock
from gastown.errors import Conflict, CycleError, IllegalTransition, UserError
from gastown.model import BLOCKS, PARENT_CHILD, Rig
from gastown.services import beads, convoys, deps
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger
from gastown.services.plan import Plan, PlanTask
from gastown.store import BeadFilter, Store, open_store
from gastown.store.schema import LATEST
from tests.builders.races import WORKERS, Start, race


def polecat(url: str, index: int) -> Ledger:
    """A worker's own handle on the town, as polecat-<index>."""
    return Ledger(open_store(url), prefix="gt", actor=f"polecat-{index}")


def shuffled(items: list[str], seed: int) -> list[str]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


def make_beads(url: str, count: int, **fields: Any) -> list[str]:
    ledger = Ledger(open_store(url), prefix="gt", actor="mayor")
    try:
        return [beads.create(ledger, NewBead(f"Task {n}", **fields)).id for n in range(count)]
    finally:
        ledger.store.close()


def read(url: str, what: Callable[[Store], Any]) -> Any:
    store = open_store(url)
    try:
        return what(store)
    finally:
        store.close()


# --- claims ----------------------------------------------------------------------------------


def claim_review_and_close(
    url: str, index: int, start: Start, bead_ids: list[str]
) -> tuple[list[str], list[str]]:
    """Claim every bead (moving each one won to in_review), then try to close every bead."""
    ledger = polecat(url, index)
    won, closed = [], []
    start()
    for bead_id in shuffled(bead_ids, index):
        try:
            beads.claim(ledger, bead_id, ledger.actor)
        except Conflict:
            continue
        won.append(bead_id)
        beads.update(ledger, bead_id, {"status": "in_review"})
    start()  # every claim is settled; now all of them race to close the same beads
    for bead_id in shuffled(bead_ids, 100 + index):
        try:
            beads.close(ledger, bead_id, reason=f"merged by {ledger.actor}")
        except IllegalTransition:
            continue
        closed.append(bead_id)
    ledger.store.close()
    return won, closed


def test_eight_polecats_racing_for_the_same_beads_claim_each_exactly_once(
    db_url: str,
) -> None:
    """Given 40 open beads, when eight polecats each try to claim all of them in their own
    order (sending what they win to review) and then all try to close every bead, then every
    bead was claimed exactly once and closed exactly once, and the beads, the claim events and
    the workers agree on who won each one."""
    bead_ids = make_beads(db_url, 40)

    outcomes = race(claim_review_and_close, db_url, bead_ids)

    winner = {b: f"polecat-{i}" for i, (won, _) in enumerate(outcomes) for b in won}
    closer = {b: f"polecat-{i}" for i, (_, closed) in enumerate(outcomes) for b in closed}
    assert sorted(b for won, _ in outcomes for b in won) == sorted(bead_ids)
    assert sorted(b for _, closed in outcomes for b in closed) == sorted(bead_ids)

    def snapshot(store: Store) -> Any:
        with store.reader() as tx:
            return (
                tx.list_beads(BeadFilter(ids=bead_ids)),
                tx.list_events(kind="bead.claimed"),
                tx.list_events(kind="bead.status_changed"),
                tx.list_events(kind="bead.closed"),
            )

    final, claimed, reviewed, closed = read(db_url, snapshot)
    for bead in final:
        assert (bead.status, bead.assignee, bead.version) == ("closed", winner[bead.id], 4)
        assert bead.close_reason == f"merged by {closer[bead.id]}"
    assert len(claimed) == len(reviewed) == len(closed) == len(bead_ids)
    assert {e.bead_id: e.actor for e in claimed} == winner
    assert all(e.after == {"status": "in_progress", "assignee": e.actor} for e in claimed)
    assert {e.bead_id: e.actor for e in reviewed} == winner
    assert {e.bead_id: e.actor for e in closed} == closer


# --- read-modify-write -----------------------------------------------------------------------

ROUNDS = 3


def label_and_count(url: str, index: int, start: Start, bead_ids: list[str]) -> int:
    """Add this worker's label to every bead, and add one to each bead's counter (its body) in
    `ROUNDS` rounds, each a read, a computation and a write of what was read."""
    ledger = polecat(url, index)
    writes = 0
    start()
    for round_ in range(ROUNDS):
        for bead_id in shuffled(bead_ids, round_ * WORKERS + index):
            if round_ == 0:
                beads.update(ledger, bead_id, {"add_labels": [f"worker-{index}"]})
                writes += 1
            while True:
                current, _ = beads.show(ledger, bead_id)
                try:
                    beads.update(
                        ledger,
                        bead_id,
                        {"body": str(int(current.body) + 1)},
                        expected_version=current.version,
                    )
                except Conflict:
                    continue  # somebody wrote since we read: read again, as a caller must
                writes += 1
                break
    ledger.store.close()
    return writes


def test_concurrent_read_modify_writes_lose_no_update(db_url: str) -> None:
    """Given six beads whose body is a counter at 0, when eight workers each add their own
    label to every bead and increment every counter three times, then each bead carries all
    eight labels, each counter reads 24, and every write shows up exactly once as a version
    and as an event."""
    bead_ids = make_beads(db_url, 6, body="0")

    writes = race(label_and_count, db_url, bead_ids)

    per_bead = WORKERS + WORKERS * ROUNDS
    assert sum(writes) == per_bead * len(bead_ids)

    def snapshot(store: Store) -> Any:
        with store.reader() as tx:
            return tx.list_beads(BeadFilter(ids=bead_ids)), tx.list_events(kind="bead.updated")

    final, updated = read(db_url, snapshot)
    events_per_bead = Counter(e.bead_id for e in updated)
    for bead in final:
        assert bead.labels == [f"worker-{i}" for i in range(WORKERS)]
        assert bead.body == str(WORKERS * ROUNDS)
        assert bead.version == 1 + per_bead
        assert events_per_bead[bead.id] == per_bead


# --- creating beads --------------------------------------------------------------------------

CREATED = 10


def open_and_create(url: str, index: int, start: Start) -> tuple[list[str], list[str]]:
    """Open a database nobody has opened yet, create beads whose ids hash exactly alike in
    every worker, then create children of one shared parent."""
    start()
    store = open_store(url)
    # The same clock, seed and titles everywhere: every worker wants the very same ids.
    ledger = Ledger(
        store, prefix="gt", actor=f"polecat-{index}", clock=FakeClock(), rng=random.Random(0)
    )
    made = [beads.create(ledger, NewBead(f"Task {n}")).id for n in range(CREATED)]
    if index == 0:
        beads.create(ledger, NewBead("The parent", type="epic"))
    start()
    (parent,) = [b for b in beads.list_beads(ledger, BeadFilter()) if b.title == "The parent"]
    children = [
        beads.create(ledger, NewBead(f"Child {n}", parent=parent.id)).id for n in range(CREATED)
    ]
    store.close()
    return made, children


def test_processes_opening_a_new_town_together_migrate_it_once_and_never_share_an_id(
    db_url: str,
) -> None:
    """Given a database nobody has opened, when eight processes open it at once and each creates
    ten beads wanting the same ids, then ten children each of one shared parent, then the schema
    was migrated exactly once, every bead got an id of its own, and the children are numbered
    1 to 80 without a gap or a repeat."""
    outcomes = race(open_and_create, db_url)

    made = [i for created, _ in outcomes for i in created]
    children = [i for _, kids in outcomes for i in kids]
    assert len(set(made)) == WORKERS * CREATED
    parent = children[0].rsplit(".", 1)[0]
    assert sorted(children) == sorted(f"{parent}.{n}" for n in range(1, WORKERS * CREATED + 1))

    def snapshot(store: Store) -> Any:
        with store.reader() as tx:
            versions = tx.db.execute("SELECT version FROM schema_migrations").fetchall()
            return [int(r[0]) for r in versions], tx.count_beads(), tx.list_events()

    versions, count, events = read(db_url, snapshot)
    assert sorted(versions) == list(range(1, LATEST + 1))
    assert count == len(made) + 1 + len(children)
    assert Counter(e.kind for e in events) == {"bead.created": count}


# --- dependency cycles -----------------------------------------------------------------------

RINGS = 12


def link_rings(url: str, index: int, start: Start, rings: list[list[str]]) -> list[list[str]]:
    """In every ring of eight beads, make bead `index` depend on the next one round the ring."""
    ledger = polecat(url, index)
    refused = []
    start()
    order = list(range(RINGS))
    random.Random(index).shuffle(order)
    for ring in (rings[r] for r in order):
        try:
            deps.add(ledger, ring[index], ring[(index + 1) % WORKERS])
        except CycleError as cycle:
            refused.append(cycle.cycle)
    ledger.store.close()
    return refused


def test_racing_blocks_edges_never_close_a_cycle(db_url: str) -> None:
    """Given twelve rings of eight beads, when eight workers at once each add one `blocks` edge
    in every ring (together they would close each ring), then exactly one edge per ring is
    refused with the whole ring named as the cycle, and the stored edges have no cycle."""
    bead_ids = make_beads(db_url, RINGS * WORKERS)
    rings = [bead_ids[r * WORKERS : (r + 1) * WORKERS] for r in range(RINGS)]

    refused = [cycle for cycles in race(link_rings, db_url, rings) for cycle in cycles]

    def edges(store: Store) -> list[tuple[str, str]]:
        with store.reader() as tx:
            return tx.edges(BLOCKS)

    stored = read(db_url, edges)
    assert dag.find_cycle(bead_ids, stored) is None
    assert len(stored) == RINGS * (WORKERS - 1)
    assert sorted(sorted(cycle[:-1]) for cycle in refused) == sorted(sorted(r) for r in rings)
    assert all(len(cycle) == WORKERS + 1 and cycle[0] == cycle[-1] for cycle in refused)


# --- convoys landing -------------------------------------------------------------------------

CONVOYS = 6


def close_or_land(url: str, index: int, start: Start, convoy_ids: list[str]) -> list[str]:
    """Close this worker's bead in every convoy; the last worker force-closes the convoys."""
    ledger = polecat(url, index)
    cancelled = []
    start()
    for convoy_id in shuffled(convoy_ids, index):
        members = convoys.show(ledger, convoy_id).beads
        try:
            if index == WORKERS - 1:
                convoys.close(ledger, convoy_id, reason="forced", force=True)
                cancelled.append(convoy_id)
            else:
                beads.close(ledger, members[index].id, reason=f"merged by {ledger.actor}")
        except Conflict:  # the bead was closed, or the convoy ended, by the other side
            continue
    ledger.store.close()
    return cancelled


def test_a_convoy_ends_exactly_once_while_its_beads_close_at_once(db_url: str) -> None:
    """Given six convoys of seven beads, when seven workers each close their bead in every
    convoy while an eighth force-closes the convoys, then every bead is closed once, and
    every convoy ends exactly once: cancelled where the eighth worker's force-close won (by
    it), landed where the workers closed every bead first; and nobody deadlocks."""
    ledger = Ledger(open_store(db_url), prefix="gt", actor="mayor")
    with ledger.store.transaction() as tx:
        tx.insert_rig(
            Rig("app", "file:///srv/app.git", "trunk", "rigs/app", "2026-01-01T00:00:00.000000Z")
        )
    plan = Plan([PlanTask(str(n), f"step {n}") for n in range(WORKERS - 1)])
    convoy_ids = [
        convoys.create(
            ledger, f"Convoy {c}", "app", plan, staged=False, mode="review-then-land"
        ).convoy.id
        for c in range(CONVOYS)
    ]
    ledger.store.close()

    forced = race(close_or_land, db_url, convoy_ids)[WORKERS - 1]

    def snapshot(store: Store) -> Any:
        with store.reader() as tx:
            return (
                [tx.get_convoy(c) for c in convoy_ids],
                tx.list_events(kind="convoy.landed"),
                tx.list_events(kind="convoy.cancelled"),
                tx.list_events(kind="bead.closed"),
                tx.count_by_status(),
            )

    final, landed, cancelled, closed, counts = read(db_url, snapshot)
    assert all(c is not None and c.closed == c.total for c in final)
    ended = {c.id: c.status for c in final if c is not None}
    assert ended == {c: "cancelled" if c in forced else "landed" for c in convoy_ids}
    assert sorted(e.convoy_id for e in landed + cancelled) == sorted(convoy_ids)
    assert {e.convoy_id: e.actor for e in cancelled} == dict.fromkeys(forced, "polecat-7")
    assert all(e.actor != "polecat-7" for e in landed)
    assert len(closed) == len({e.bead_id for e in closed}) == CONVOYS * (WORKERS - 1)
    assert counts == {"closed": CONVOYS * (WORKERS - 1)}


# --- the ready set ---------------------------------------------------------------------------

TANGLE = 16
STEPS = 40


def tangle(url: str, index: int, start: Start, bead_ids: list[str]) -> int:
    """Close and reopen beads and add and remove `blocks` and `parent-child` edges among
    them at random, as many agents and people would at once; return the changes made."""
    ledger = polecat(url, index)
    rng = random.Random(index)
    made = 0
    start()
    for _ in range(STEPS):
        a, b = rng.sample(bead_ids, 2)
        try:
            match rng.randrange(4):
                case 0:
                    beads.close(ledger, a, reason="done", force=True)
                case 1:
                    beads.reopen(ledger, a)
                case 2:
                    deps.add(ledger, a, b, rng.choice([BLOCKS, PARENT_CHILD]))
                case _:
                    deps.remove(ledger, a, b)
        except UserError:  # already closed or open, no such edge, a cycle: the draw was bad
            continue
        made += 1
    ledger.store.close()
    return made


def test_racing_writes_leave_the_ready_set_right(db_url: str) -> None:
    """Given sixteen beads, when eight workers at once close and reopen them and add and remove
    edges among them, then the beads the store keeps as blocked are exactly those `dag`
    finds blocked from the final beads and edges, so the ready set is right: each writer
    read what the ones before it committed."""
    bead_ids = make_beads(db_url, TANGLE)

    assert sum(race(tangle, db_url, bead_ids)) > WORKERS * STEPS // 4

    def snapshot(store: Store) -> Any:
        with store.reader() as tx:
            statuses = {b.id: b.status for b in tx.list_beads()}
            kept = {r[0] for r in tx.db.execute("SELECT bead_id FROM blocked").fetchall()}
            return statuses, tx.edges(BLOCKS), tx.edges(PARENT_CHILD), kept

    statuses, blocks, parents, kept = read(db_url, snapshot)
    assert blocks and parents and "closed" in statuses.values()
    assert kept == dag.blocked_set(statuses, blocks, parents)
