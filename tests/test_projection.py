"""The database-built read models equal the Python ones, on both backends.

`Tx.beads_json` must be exactly `[b.to_json() for b in Tx.list_beads(...)]`, and the SQL ready
filter exactly `dag.ready`, over a random town with every shape the ledger allows.
"""

from __future__ import annotations

import json
import random

import pytest

from gastown import dag
from gastown.dag import Candidate
from gastown.model import BLOCKS, PARENT_CHILD, Bead, Dependency
from gastown.store import BeadFilter, Tx, open_store
from gastown.store.projection import BeadLine, bead_lines, write_beads_json
from tests.builders.generated import random_town, write_town


def python_ready(tx: Tx) -> list[str]:
    """The ready set worked out in Python by `dag.ready` from every bead and edge."""
    staged = {c.id for c in tx.list_convoys() if c.staged}
    candidates = [
        Candidate(b.id, b.status, b.held, b.convoy_id in staged, b.priority, b.created_at)
        for b in tx.list_beads()
    ]
    return [c.id for c in dag.ready(candidates, tx.edges(BLOCKS), tx.edges(PARENT_CHILD))]


def sql_ready(tx: Tx) -> list[str]:
    return [line.id for line in bead_lines(tx, BeadFilter(ready=True))]


def streamed(tx: Tx, flt: BeadFilter, batch: int) -> str:
    parts: list[bytes] = []
    write_beads_json(tx, flt, parts.append, batch)
    return b"".join(parts).decode("utf-8")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_read_models_match_python(db_url: str, seed: int) -> None:
    store = open_store(db_url)
    try:
        write_town(store, *random_town(seed))
        with store.reader() as tx:
            filters = [
                BeadFilter(),
                BeadFilter(statuses=["open", "failed"]),
                BeadFilter(rig="app"),
                BeadFilter(labels=["a"], limit=7),
                BeadFilter(ids=[]),
                BeadFilter(ready=True),
                BeadFilter(ready=True, rig="web", limit=5),
                BeadFilter(convoy_id="gt-cv-live"),
            ]
            for flt in filters:
                found = tx.list_beads(flt)
                text = tx.beads_json(flt)
                assert json.loads(text) == [b.to_json() for b in found]
                for batch in (1, 7, 1000):
                    assert streamed(tx, flt, batch) == text
                assert bead_lines(tx, flt) == [
                    BeadLine(b.id, b.priority, b.status, b.held, b.type, b.rig, b.title)
                    for b in found
                ]

            expected = python_ready(tx)
            assert [b.id for b in tx.list_beads(BeadFilter(ready=True))] == expected
            assert expected  # the random town has ready work, so the comparison means something
            for limit in (1, 5, len(expected)):
                picked = tx.list_beads(BeadFilter(ready=True, limit=limit))
                assert [b.id for b in picked] == expected[:limit]
    finally:
        store.close()


def test_ready_walks_up_a_parent_child_cycle(db_url: str) -> None:
    """Nothing refuses a `parent-child` cycle; the ready filter still ends, and a bead whose
    ancestor (here through the cycle) is blocked is not ready."""
    at = "2026-01-01T00:00:00.000000Z"
    beads = [
        Bead(id=f"gt-{name}", title=name, created_at=at, updated_at=at, created_by="tester")
        for name in ("a", "b", "c", "d", "e")
    ]
    edges = [("a", "b", "parent-child"), ("b", "a", "parent-child"), ("c", "a", "parent-child")]
    edges += [("b", "d", "blocks"), ("e", "d", "related")]
    store = open_store(db_url)
    try:
        with store.transaction() as tx:
            tx.insert_beads(beads)
            tx.insert_deps([Dependency(f"gt-{x}", f"gt-{y}", t, at, "tester") for x, y, t in edges])
        with store.reader() as tx:
            ready = [b.id for b in tx.list_beads(BeadFilter(ready=True))]
            expected = python_ready(tx)
    finally:
        store.close()
    assert ready == expected == ["gt-d", "gt-e"]


@pytest.mark.parametrize("seed", [4, 5])
def test_the_ready_set_stays_right_through_random_writes(db_url: str, seed: int) -> None:
    """Given a random town, when each of many transactions makes one random change that can
    move beads in or out of the ready set (a status to or from closed, a hold, an edge added
    or removed, a new bead that an edge already named, a staged convoy started), then after
    every one the SQL ready set is still exactly `dag.ready` over the whole town."""
    rng = random.Random(seed)
    beads, deps, convoys = random_town(seed, n=120)
    store = open_store(db_url)
    try:
        write_town(store, beads, deps, convoys)
        edges = {(d.bead_id, d.depends_on_id) for d in deps}
        ids = [b.id for b in beads]
        for step in range(80):
            with store.transaction() as tx:
                what = rng.randrange(6)
                if what == 0:  # close, reopen, or move between open states
                    bead = tx.get_bead(rng.choice(ids), lock=True)
                    assert bead is not None
                    bead.status = rng.choice(["open", "closed", "in_progress", "failed"])
                    bead.held = rng.random() < 0.1
                    assert tx.update_bead(bead)
                elif what in (1, 2):  # a new edge between beads already here
                    a, b = rng.sample(ids, 2)
                    if (a, b) not in edges:
                        kind = rng.choice([BLOCKS, BLOCKS, PARENT_CHILD])
                        tx.insert_deps([Dependency(a, b, kind, "2026-02-01T00:00:00Z", "t")])
                        edges.add((a, b))
                elif what == 3 and edges:
                    a, b = rng.choice(sorted(edges))
                    assert tx.delete_dep(a, b)
                    edges.discard((a, b))
                elif what == 4:  # a bead named by an edge before it exists, then arriving
                    new_id = f"gt-new{step}"
                    waiting = rng.sample(ids, 3)
                    kind = rng.choice([BLOCKS, PARENT_CHILD])
                    tx.insert_deps(
                        [Dependency(w, new_id, kind, "2026-02-01T00:00:00Z", "t") for w in waiting]
                    )
                    edges.update((w, new_id) for w in waiting)
                    if rng.random() < 0.7:
                        at = f"2026-02-01T00:00:{step % 60:02d}.000000Z"
                        tx.insert_beads(
                            [
                                Bead(
                                    id=new_id,
                                    title="New",
                                    created_at=at,
                                    updated_at=at,
                                    created_by="t",
                                    status=rng.choice(["open", "closed"]),
                                )
                            ]
                        )
                        ids.append(new_id)
                else:
                    convoy = tx.get_convoy("gt-cv-staged", lock=True)
                    assert convoy is not None
                    convoy.staged = not convoy.staged
                    tx.update_convoy(convoy)
            with store.reader() as tx:
                assert sql_ready(tx) == python_ready(tx), f"after step {step}"
    finally:
        store.close()
