"""Dependencies between beads, and the ready set they decide."""

from __future__ import annotations

from gastown import dag
from gastown.errors import Conflict, CycleError, InvalidValue, NotFound
from gastown.limits import row_limit
from gastown.model import BLOCKS, DEP_TYPES, PARENT_CHILD, Bead, Dependency
from gastown.record import Record, field
from gastown.services import beads
from gastown.services.ledger import Ledger, append, get_bead, on_bead
from gastown.services.listing import require_rig
from gastown.store import BeadFilter, Turn, Tx


def dep_type(value: str) -> str:
    """`value` if it is one of `DEP_TYPES`; else the input error naming them."""
    if value not in DEP_TYPES:
        raise InvalidValue(f"Dependency type must be one of {', '.join(DEP_TYPES)}, not '{value}'.")
    return value


def check_cycle(tx: Tx, bead_id: str, blocker_id: str) -> None:
    """Refuse the edge `bead → blocker` if it closes a cycle. Until commit, no other `blocks`
    edge can be added, so the edges read here are still all there are when this one lands."""
    tx.take_turn(Turn.BLOCKS)
    cycle = dag.cycle_if_added(tx.edges(BLOCKS), bead_id, blocker_id)
    if cycle is not None:
        raise CycleError(cycle)


def add(ledger: Ledger, bead_id: str, blocker_id: str, kind: str = BLOCKS) -> Dependency:
    """`bead` depends on `blocker`. A `blocks` edge that would close a cycle is refused."""
    kind = dep_type(kind)
    with ledger.store.transaction() as tx:
        bead = get_bead(tx, ledger.prefix, bead_id, lock=True)
        blocker = get_bead(tx, ledger.prefix, blocker_id)
        if bead.id == blocker.id:
            raise InvalidValue(f"A bead cannot depend on itself ({bead.id}).")
        existing = next((d for d in bead.dependencies if d.depends_on_id == blocker.id), None)
        if existing is not None:
            raise Conflict(
                f"{bead.id} already depends on {blocker.id} ({existing.type}).",
                hint="Remove it first to change its type.",
            )
        if kind == BLOCKS:
            check_cycle(tx, bead.id, blocker.id)
        edge = Dependency(bead.id, blocker.id, kind, ledger.now(), ledger.actor)
        tx.insert_deps([edge])
        append(
            tx,
            [
                ledger.event(
                    "dep.added",
                    at=edge.created_at,
                    **on_bead(bead),
                    after={"depends_on": blocker.id, "type": kind},
                )
            ],
        )
        return edge


def remove(ledger: Ledger, bead_id: str, blocker_id: str) -> Dependency:
    """Remove the edge from `bead_id` to `blocker_id` and record it; a parent that
    waited only for this child then closes if its work is done."""
    with ledger.store.transaction() as tx:
        bead = get_bead(tx, ledger.prefix, bead_id, lock=True)
        blocker = get_bead(tx, ledger.prefix, blocker_id)
        edge = next((d for d in bead.dependencies if d.depends_on_id == blocker.id), None)
        if edge is None or not tx.delete_dep(bead.id, blocker.id):
            raise NotFound(f"{bead.id} does not depend on {blocker.id}.")
        append(
            tx,
            [
                ledger.event(
                    "dep.removed",
                    **on_bead(bead),
                    before={"depends_on": blocker.id, "type": edge.type},
                )
            ],
        )
        if edge.type == PARENT_CHILD:  # the parent may have waited only for this child
            beads.close_if_children_closed(ledger, tx, blocker.id)
        return edge


class TreeNode(Record):
    """One bead in a dependency tree, with what it depends on (or what depends on it)."""

    id: str
    """The bead's id."""
    title: str
    """The bead's title."""
    status: str
    """The bead's status."""
    type: str | None = None
    """The edge type that led here; None at the root."""
    children: list[TreeNode] = field(default_factory=list)
    """The beads one edge further along."""
    repeat: bool = False
    """Already shown higher up; not expanded again."""

    def to_json(self) -> dict[str, object]:
        """The tree from this node down, as `gt dep tree --json` prints it."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "type": self.type,
            "repeat": self.repeat,
            "children": [c.to_json() for c in self.children],
        }


def tree(ledger: Ledger, bead_id: str, reverse: bool = False, max_depth: int = 20) -> TreeNode:
    """What a bead depends on, transitively (or, reversed, what depends on it)."""
    with ledger.store.reader() as tx:
        root = get_bead(tx, ledger.prefix, bead_id)
        seen: set[str] = set()

        def expand(bead: Bead, via: str | None, depth: int) -> TreeNode:
            node = TreeNode(bead.id, bead.title, bead.status, via)
            if bead.id in seen:
                node.repeat = True
                return node
            seen.add(bead.id)
            if depth >= max_depth:
                return node
            edges = tx.dependents_of(bead.id) if reverse else bead.dependencies
            for edge in edges:
                other_id = edge.bead_id if reverse else edge.depends_on_id
                other = tx.get_bead(other_id)
                if other is None:
                    node.children.append(
                        TreeNode(other_id, "(not in this town)", "unknown", edge.type)
                    )
                else:
                    node.children.append(expand(other, edge.type, depth + 1))
            return node

        return expand(root, None, 0)


class Blocker(Record):
    """An unclosed bead another one waits for: a `blocks` blocker, or a child."""

    id: str
    """The bead's id."""
    status: str
    """Its status (never closed)."""
    title: str
    """Its title."""


class BlockedBead(Record):
    """A bead that cannot be worked (or closed) yet, and why: the unclosed beads it waits
    for, its unclosed children, or (when it has no blocker itself) the nearest ancestor that
    has one."""

    bead: Bead
    """The blocked bead."""
    waiting_on: list[Blocker] = field(default_factory=list)
    """Its unclosed `blocks` blockers."""
    under: str | None = None
    """The blocked ancestor (through `parent-child` edges) that holds this bead back."""
    open_children: list[Blocker] = field(default_factory=list)
    """Its children that are not closed: a parent waits for them."""

    def waits(self) -> str:
        """What it waits on, in words, as `gt blocked` shows it ("" when nothing)."""
        waits = [_listed(self.waiting_on)] if self.waiting_on else []
        if self.open_children:
            waits.append(f"its children {_listed(self.open_children)}")
        if self.under:
            waits.append(f"under {self.under}")
        return "; ".join(waits)

    def to_json(self) -> dict[str, object]:
        """The bead with why it waits, as `gt blocked --json` prints it."""
        return {
            **self.bead.to_json(),
            "waiting_on": _blockers_json(self.waiting_on),
            "open_children": _blockers_json(self.open_children),
            "under": self.under,
        }


def _blockers_json(blockers: list[Blocker]) -> list[dict[str, str]]:
    return [{"id": b.id, "status": b.status, "title": b.title} for b in blockers]


def _listed(beads: list[Blocker]) -> str:
    return ", ".join(f"{b.id} ({b.status})" for b in beads)


UNFINISHED = ("open", "in_progress", "in_review")
"""The statuses `blocked` lists: work not done, and not given up on."""


def blocked(ledger: Ledger, rig: str | None = None, limit: int | None = None) -> list[BlockedBead]:
    """Unfinished beads that are blocked, by priority then age, each with why."""
    limit = row_limit(limit)
    with ledger.store.reader() as tx:
        require_rig(tx, rig)
        found = tx.list_beads(BeadFilter(blocked=True, statuses=UNFINISHED, rig=rig, limit=limit))
        ids = [b.id for b in found]
        waits, children = tx.waiting_on(ids), tx.open_children(ids)
        return [
            BlockedBead(
                bead,
                [Blocker(*w) for w in waits.get(bead.id, [])],
                None if bead.id in waits else tx.blocked_ancestor(bead.id),
                [Blocker(*c) for c in children.get(bead.id, [])],
            )
            for bead in found
        ]


class Readiness(Record):
    """Whether one bead can be dispatched now, and if not, everything that holds it back."""

    ready: bool
    """Whether it can be dispatched now."""
    held: bool = False
    """Held by a person: never dispatched until released."""
    staged: str | None = None
    """The staged convoy it is in, not started yet."""
    waiting_on: list[Blocker] = field(default_factory=list)
    """Its unclosed `blocks` blockers."""
    under: str | None = None
    """The blocked ancestor (through `parent-child` edges), when it has no blocker itself."""
    open_children: list[Blocker] = field(default_factory=list)
    """Its children that are not closed: it is not dispatched, nor closed, before they are."""

    def reasons(self) -> str:
        """What holds the bead back, in words ("" when nothing does)."""
        holds = ["held"] if self.held else []
        if self.staged:
            holds.append(f"in staged convoy {self.staged}")
        if self.waiting_on:
            holds.append(f"waiting on {_listed(self.waiting_on)}")
        if self.open_children:
            holds.append(f"waiting on its children {_listed(self.open_children)}")
        if self.under:
            holds.append(f"under {self.under}, which is blocked")
        return "; ".join(holds)

    def to_json(self) -> dict[str, object]:
        """Whether it is ready and what holds it back, as `gt bead show --json` gives it."""
        return {
            "ready": self.ready,
            "waiting_on": _blockers_json(self.waiting_on),
            "open_children": _blockers_json(self.open_children),
            "under": self.under,
            "staged_convoy": self.staged,
        }


def readiness(ledger: Ledger, bead: Bead) -> Readiness:
    """Why `bead` is or is not ready (its status aside: only an open bead can be ready)."""
    with ledger.store.reader() as tx:
        ready = bool(tx.bead_ids(BeadFilter(ids=[bead.id], ready=True)))
        waits = [Blocker(*w) for w in tx.waiting_on([bead.id]).get(bead.id, [])]
        under = None if waits else tx.blocked_ancestor(bead.id)
        children = [Blocker(*c) for c in tx.open_children([bead.id]).get(bead.id, [])]
        convoy = tx.get_convoy(bead.convoy_id) if bead.convoy_id else None
    staged = convoy.id if convoy is not None and convoy.staged else None
    return Readiness(ready, bead.held, staged, waits, under, children)


def ready(ledger: Ledger, rig: str | None = None, limit: int | None = None) -> list[Bead]:
    """Open, unheld, unblocked beads outside staged convoys, by priority then age."""
    limit = row_limit(limit)
    with ledger.store.reader() as tx:
        require_rig(tx, rig)
        return tx.list_beads(BeadFilter(ready=True, rig=rig, limit=limit))


def ready_json(ledger: Ledger, rig: str | None = None, limit: int | None = None) -> str:
    """`ready` as JSON text, built by the database (the fast path for `gt ready --json`)."""
    limit = row_limit(limit)
    with ledger.store.reader() as tx:
        require_rig(tx, rig)
        return tx.beads_json(BeadFilter(ready=True, rig=rig, limit=limit))
