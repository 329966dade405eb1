"""The in-process ready set: `gastown.dag.ready` on many beads, inputs prepared beforehand.

Two shapes of input are timed: every bead with every edge (the function's whole job), and
what the CLI's store query hands it (open beads, unclosed `blocks` edges, parent edges and
the statuses they name). A plain `sorted()` of as many tuples, timed alongside, says how
fast this machine is at the moment.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable, Sequence

import timing
import towngen
from gastown import dag
from gastown.dag import Candidate
from gastown.model import BLOCKS, PARENT_CHILD

Inputs = tuple[list[Candidate], list[tuple[str, str]], list[tuple[str, str]], dict[str, str]]


def as_fed(cands: Sequence[Candidate], pop: towngen.Population) -> Inputs:
    """The inputs as the CLI's query shapes them (see `Tx.ready_inputs`)."""
    status = {c.id: c.status for c in cands}
    blocks = [e for e in pop.edges(BLOCKS) if status[e[1]] != "closed"]
    parents = pop.edges(PARENT_CHILD)
    status_of = {t: status[t] for _, t in blocks + parents}
    open_ = [c for c in cands if c.status == "open"]
    status_of.update((c.id, c.status) for c in open_)
    return open_, blocks, parents, status_of


def bench(n: int, runs: int, seed: int, rng: random.Random) -> list[str]:
    """Print the medians and the ratio lines for `n` beads; return the ratio lines."""
    pop = towngen.populate(n, seed, text=False)
    cands = pop.candidates()
    blocks, parents = pop.edges(BLOCKS), pop.edges(PARENT_CHILD)
    fed = as_fed(cands, pop)
    keys = [(c.priority, c.created_at, c.id) for c in cands]
    rng.shuffle(keys)
    del pop  # only the prepared inputs stay alive, as in a process that just read them
    gc.collect()
    fns: dict[str, Callable[[], object]] = {
        f"dag.ready, all {n:,} beads and {len(blocks):,} blocks edges": (
            lambda: dag.ready(cands, blocks, parents)
        ),
        f"dag.ready, as the CLI feeds it ({len(fed[0]):,} open, {len(fed[1]):,} edges)": (
            lambda: dag.ready(*fed)
        ),
        f"sorted() of {n:,} (priority, created_at, id) tuples": lambda: sorted(keys),
    }
    print(f"\n2. In-process ready set on {n:,} beads: medians of {runs} alternating calls")
    times = timing.alternating(fns, runs)
    width = max(len(label) for label in times)
    for label, t in times.items():
        print(f"  {label:{width}}  {timing.median_ms(t):8.1f} ms")
    whole, fed_ms, base = (timing.median_ms(t) for t in times.values())
    lines = [
        f"ratio dag.ready {what} / sorted: {ms / base:.2f}×; median {ms:.1f} ms "
        f"(goal ≤ 50 ms: {'met' if ms <= 50 else 'MISSED'})"
        for what, ms in ((f"all {n:,}", whole), ("as fed", fed_ms))
    ]
    for line in lines:
        print("  " + line)
    return lines
