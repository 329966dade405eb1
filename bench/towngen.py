"""A generated town for the benchmark: beads with a seeded random DAG, written in bulk.

The mix aims at a town that has been in use for a while: about 30% of beads closed (mostly
the older ones), a few in progress, in review or failed, some held, some in convoys (one of
them staged, one landed), labels, about 1.5 `blocks` edges per bead pointing at older beads
(so the graph is acyclic) and epics with `PARENT.N` children. The same seed gives the same
town. Rows go in through the store's own `Tx` in one transaction, with `executemany`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gastown import ids
from gastown.clock import stamp
from gastown.dag import Candidate
from gastown.model import BLOCKS, PARENT_CHILD, Bead, BeadStatus, Convoy, Dependency, Event, Rig
from gastown.store import open_store
from gastown.town import init

PREFIX = "gt"
ACTOR = "bench"
RIGS = ("app", "api")
LABELS = ("backend", "frontend", "db", "ci", "docs", "perf", "security", "ux", "flaky", "infra")
TYPES = ("task", "task", "task", "bug", "bug", "feature", "chore")
PRIORITIES = (0, 1, 1, 2, 2, 2, 2, 3, 3, 4)
BLOCKS_PER_BEAD = (0, 1, 1, 2, 2, 3)
"""Drawn per bead: 1.5 `blocks` edges on average."""
VOCABULARY = (
    "add handle retry cache parser config flag migrate index query render route token session "
    "timeout worker queue branch merge review gate login redirect export import schema test "
    "docs error message page button api client server log metric limit"
)
WORDS = tuple(VOCABULARY.split())
START = datetime(2025, 6, 1, tzinfo=UTC)


@dataclass(slots=True)
class Population:
    """Everything a generated town holds, before it is written."""

    beads: list[Bead]
    convoys: list[Convoy]
    children: dict[str, int] = field(default_factory=dict)
    """Epic id → how many `PARENT.N` children it has (for the child counters)."""

    def deps(self) -> list[Dependency]:
        return [d for b in self.beads for d in b.dependencies]

    def edges(self, dep_type: str) -> list[tuple[str, str]]:
        """`(bead, depends_on)` pairs of one dependency type, as `dag` takes them."""
        return [(d.bead_id, d.depends_on_id) for d in self.deps() if d.type == dep_type]

    def count(self, dep_type: str) -> int:
        return sum(1 for b in self.beads for d in b.dependencies if d.type == dep_type)

    def by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.beads:
            out[b.status] = out.get(b.status, 0) + 1
        return out

    def candidates(self) -> list[Candidate]:
        """The beads as `dag.ready` sees them."""
        staged = {c.id for c in self.convoys if c.staged}
        return [
            Candidate(b.id, b.status, b.held, b.convoy_id in staged, b.priority, b.created_at)
            for b in self.beads
        ]


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


def _status(rng: random.Random, age: float) -> BeadStatus:
    """`age` is 1.0 for the oldest bead, 0.0 for the newest: old work is mostly closed."""
    if rng.random() < 0.6 * age:
        return "closed"
    roll = rng.random()
    if roll < 0.04:
        return "in_progress"
    if roll < 0.07:
        return "in_review"
    return "failed" if roll < 0.085 else "open"


def _blockers(rng: random.Random, i: int, taken: set[int]) -> list[int]:
    """Older beads that bead `i` waits on, mostly recent ones (work comes in clusters)."""
    chosen: list[int] = []
    for _ in range(rng.choice(BLOCKS_PER_BEAD) if i else 0):
        j = i - 1 - int(rng.expovariate(1 / 300))
        j = j if j >= 0 else rng.randrange(i)
        if j not in taken and j not in chosen:
            chosen.append(j)
    return chosen


def _new_bead(rng: random.Random, i: int, n: int, bead_id: str, at: str, text: bool) -> Bead:
    status = _status(rng, 1 - i / n)
    paragraphs = rng.randint(0, 4) if text else 0
    bead = Bead(
        id=bead_id,
        title=f"{_sentence(rng, rng.randint(3, 9)) if text else 'Bead'} (#{i})",
        body="\n\n".join(_sentence(rng, rng.randint(8, 40)) for _ in range(paragraphs)),
        type=rng.choice(TYPES),
        priority=rng.choice(PRIORITIES),
        status=status,
        rig=RIGS[0] if rng.random() < 0.7 else RIGS[1],
        held=status == "open" and rng.random() < 0.04,
        labels=sorted(set(rng.sample(LABELS, rng.choice((0, 1, 1, 2, 3))))),
        created_at=at,
        updated_at=at,
        created_by=ACTOR,
    )
    if status != "open":
        bead.started_at = at
        bead.assignee = f"polecat-{rng.randrange(8)}" if status != "closed" else None
    if status == "closed":
        bead.closed_at = bead.updated_at = at
        bead.close_reason = "merged"
    return bead


def populate(n: int, seed: int, *, text: bool = True) -> Population:
    """`n` beads with ids, statuses, labels, edges and convoys, all from `seed`. Without
    `text`, titles are short and bodies empty (enough for the pure ready set, and faster)."""
    rng = random.Random(seed)
    length = ids.hash_length(n)
    used: set[str] = set()
    epics: list[tuple[str, int]] = []
    children: dict[str, int] = {}
    beads: list[Bead] = []
    for i in range(n):
        at = stamp(START + timedelta(seconds=90 * i + rng.randrange(60)))
        parent: str | None = None
        parent_index = -1
        if epics and rng.random() < 0.06:
            parent, parent_index = rng.choice(epics)
            children[parent] = children.get(parent, 0) + 1
            bead_id = f"{parent}.{children[parent]}"
        else:
            bead_id = f"{PREFIX}-{ids.base36(rng.getrandbits(40)).rjust(length, '0')[-length:]}"
            while bead_id in used:
                bead_id = f"{PREFIX}-{ids.base36(rng.getrandbits(64))[-length:]}"
        used.add(bead_id)
        bead = _new_bead(rng, i, n, bead_id, at, text)
        if parent is not None:
            bead.dependencies.append(Dependency(bead_id, parent, PARENT_CHILD, at, ACTOR))
        elif rng.random() < 0.02:
            bead.type = "epic"
            epics.append((bead_id, i))
        for j in _blockers(rng, i, {parent_index}):
            bead.dependencies.append(Dependency(bead_id, beads[j].id, BLOCKS, at, ACTOR))
        beads.append(bead)
    return Population(beads, _convoys(rng, beads), children)


def _convoys(rng: random.Random, beads: list[Bead]) -> list[Convoy]:
    """About one convoy per 400 beads, each a run of 10–60 beads created together in its own
    stretch of the history; the newest is staged (its beads all open) and the oldest has
    landed (its beads all closed)."""
    count = max(2, len(beads) // 400)
    slot = len(beads) // count
    convoys: list[Convoy] = []
    for k in range(count):
        staged, landed = k == count - 1, k == 0
        size = min(rng.randint(10, 60), slot)
        start = k * slot + (slot - size if staged else rng.randrange(slot - size + 1))
        first = beads[start]
        convoy = Convoy(
            id=f"{PREFIX}-cv-{ids.base36(rng.getrandbits(40))[-6:]}",
            title=f"Convoy {k}: {_sentence(rng, 4)}",
            rig=first.rig or RIGS[0],
            status="landed" if landed else "open",
            staged=staged,
            created_at=first.created_at,
            updated_at=first.created_at,
            landed_at=first.created_at if landed else None,
            created_by=ACTOR,
        )
        convoys.append(convoy)
        for bead in beads[start : start + size]:
            if "." in bead.id:  # a child stays with its epic
                continue
            bead.convoy_id, bead.rig, bead.slung = convoy.id, convoy.rig, True
            if staged:
                bead.status, bead.assignee, bead.held = "open", None, False
                bead.started_at = bead.closed_at = bead.close_reason = None
            elif landed and bead.status != "closed":
                bead.status, bead.closed_at, bead.close_reason = "closed", bead.created_at, "landed"
    return convoys


def _events(pop: Population) -> list[Event]:
    events = [
        Event(0, b.created_at, ACTOR, "bead.created", b.id, b.convoy_id, b.rig, None, None)
        for b in pop.beads
    ]
    events += [
        Event(0, b.closed_at, ACTOR, "bead.closed", b.id, b.convoy_id, b.rig, None, None)
        for b in pop.beads
        if b.closed_at is not None
    ]
    return events


def write_town(path: Path, pop: Population) -> None:
    """A real town folder at `path` (via `gt init`'s code) holding `pop`, in one transaction."""
    town = init(path, prefix=PREFIX)
    store = open_store(town.db_url, town.path)
    try:
        with store.transaction() as tx:
            for rig in RIGS:
                tx.insert_rig(Rig(rig, f"file:///srv/{rig}", "trunk", f"rigs/{rig}", "", {}))
            for convoy in pop.convoys:
                tx.insert_convoy(convoy)
            tx.insert_beads(pop.beads)  # with their labels and dependencies
            tx.append_events(_events(pop))
            for parent, count in pop.children.items():
                for _ in range(count):
                    tx.next_child(parent)
    finally:
        store.close()


def write_plan(path: Path, tasks: int, seed: int) -> None:
    """A convoy plan file (TOML) of `tasks` tasks, each needing ~1.5 earlier ones."""
    rng = random.Random(seed)
    lines = ['title = "Benchmark convoy"', 'rig = "app"', ""]
    for i in range(tasks):
        needs = ", ".join(f'"t{j}"' for j in sorted(_blockers(rng, i, set())))
        lines += [
            "[[tasks]]",
            f'key = "t{i}"',
            f'title = "{_sentence(rng, rng.randint(3, 8))} (task {i})"',
            f'body = "{_sentence(rng, rng.randint(10, 40))}"',
            f"priority = {rng.choice(PRIORITIES)}",
            f"needs = [{needs}]",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
