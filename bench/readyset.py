"""The in-process ready set on a town of many beads: what a running process (the town loop,
the dashboard, an agent's `gt ready`) pays for it once the store is open.

A generated town is written to SQLite, and then, in one process and taking turns:

- the ready set as the store reads it: the ids of every ready bead in order (`Tx.bead_ids`
  of `BeadFilter(ready=True)`) — the goal;
- the same as the lines `gt ready` prints (`bead_lines`: id, priority, status, type, rig and
  title of each), and the first 100 as JSON, what `gt ready --json` prints;
- the ids again with blockedness worked out per candidate at read time (each one's blockers
  and ancestors walked by the query), as the store did before it kept the `blocked` table:
  the ratio says what keeping it buys;
- `gastown.dag.ready` over every bead and edge already in memory, the pure Python reference;
- a plain `sorted()` of as many tuples, which says how fast this machine is at the moment.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable
from pathlib import Path

import timing
import towngen
from gastown import dag
from gastown.model import BLOCKS, PARENT_CHILD
from gastown.store import BeadFilter, open_store
from gastown.store.projection import READY_CLAUSE, bead_lines, blocked_clause

KEPT = "NOT EXISTS (SELECT 1 FROM blocked x WHERE x.bead_id = b.id)"
WORKED_OUT = f"NOT {blocked_clause('b.id')}"
GOAL_MS = 50


def bench(root: Path, n: int, runs: int, seed: int, rng: random.Random) -> list[str]:
    """Print the medians and the ratio lines for a town of `n` beads; return the ratio lines."""
    pop = towngen.populate(n, seed, text=False)
    path = root / f"ready-{n}"
    towngen.write_town(path, pop)
    cands = pop.candidates()
    blocks, parents = pop.edges(BLOCKS), pop.edges(PARENT_CHILD)
    want = [c.id for c in dag.ready(cands, blocks, parents)]
    keys = [(c.priority, c.created_at, c.id) for c in cands]
    rng.shuffle(keys)
    del pop
    gc.collect()
    assert KEPT in READY_CLAUSE, "the ready filter no longer reads the blocked table"
    store = open_store("sqlite:///state.db", path)
    try:
        with store.reader() as tx:

            def walked() -> list[str]:
                sql, params = BeadFilter(ready=True).select("b.id")
                rows = tx.db.execute(sql.replace(KEPT, WORKED_OUT), params).fetchall()
                return [r[0] for r in rows]

            ready = BeadFilter(ready=True)
            if tx.bead_ids(ready) != want or walked() != want:
                raise SystemExit("the store's ready set differs from dag.ready on the data")
            if [line.id for line in bead_lines(tx, ready)] != want:
                raise SystemExit("gt ready's lines differ from dag.ready on the data")
            fns: dict[str, Callable[[], object]] = {
                f"ready set from the store, ids in order ({len(want):,} of {n:,})": (
                    lambda: tx.bead_ids(ready)
                ),
                "ready set as gt ready's lines (id, priority, status, type, rig, title)": (
                    lambda: bead_lines(tx, ready)
                ),
                "first 100 as JSON (gt ready --json)": lambda: tx.beads_json(
                    BeadFilter(ready=True, limit=100)
                ),
                "ready set, ids, blockers walked per candidate": walked,
                f"dag.ready over all {n:,} beads in memory": lambda: dag.ready(
                    cands, blocks, parents
                ),
                f"sorted() of {n:,} (priority, created_at, id) tuples": lambda: sorted(keys),
            }
            print(
                f"\n2. In-process ready set on {n:,} beads (SQLite, {len(blocks):,} blocks "
                f"edges): medians of {runs} alternating calls; every answer equals dag.ready"
            )
            times = {
                label: timing.median_ms(t) for label, t in timing.alternating(fns, runs).items()
            }
    finally:
        store.close()
    width = max(len(label) for label in times)
    for label, ms in times.items():
        print(f"  {label:{width}}  {ms:8.1f} ms")
    ids_ms, lines_ms, first_ms, walked_ms, pure_ms, base_ms = times.values()
    met = "met" if ids_ms <= GOAL_MS else "MISSED"
    lines_out = [
        f"ratio ready set from the store / sorted(): {ids_ms / base_ms:.2f}×; median "
        f"{ids_ms:.1f} ms on {n:,} beads (goal ≤ {GOAL_MS} ms: {met}); as gt ready's lines "
        f"{lines_ms:.1f} ms; first 100 as JSON {first_ms:.1f} ms",
        f"ratio blockers walked per candidate / blocked table kept: {walked_ms / ids_ms:.1f}× "
        f"({walked_ms:.1f} ms against {ids_ms:.1f} ms); dag.ready in memory {pure_ms:.1f} ms",
    ]
    for line in lines_out:
        print("  " + line)
    return lines_out
