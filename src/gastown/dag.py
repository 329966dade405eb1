"""Pure graph work over beads: the ready set, cycles, topological waves.

Edges are `(bead, depends_on)` pairs. Nothing here touches a store or a clock. `ready` and
`blocked_set` define the ready set; the store answers it in SQL from the `blocked` table it
keeps (`store.projection`), and the tests hold the two equal on random towns, under random
writes and under writers racing on PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from itertools import compress, repeat
from operator import itemgetter
from typing import NamedTuple


class Candidate(NamedTuple):
    """What the ready set needs to know about one bead."""

    id: str
    status: str
    held: bool
    staged: bool
    """In a convoy that has not been started."""
    priority: int
    created_at: str


def blocked_set(
    status_of: Mapping[str, str],
    blocks: Iterable[tuple[str, str]],
    parent_of: Iterable[tuple[str, str]] = (),
) -> set[str]:
    """Beads with an unclosed `blocks` blocker, or under a parent that has one (at any depth),
    and parents with an unclosed child.

    An unclosed child holds back its parent alone: the parent's other children are the work
    it waits for, so they are not under a blocked parent on that account. A blocker or child
    missing from `status_of` (deleted, or from another tracker) does not block.
    """
    # Iterate in C (map/compress): this runs over every edge of a large town.
    pairs = blocks if isinstance(blocks, list) else list(blocks)
    states = map(status_of.get, map(_second, pairs), repeat("closed"))
    blocked = set(compress(map(_first, pairs), map("closed".__ne__, states)))
    children: dict[str, list[str]] = defaultdict(list)
    waiting: set[str] = set()
    for child, parent in parent_of:
        children[parent].append(child)
        if status_of.get(child, "closed") != "closed":
            waiting.add(parent)
    # Walk down from blocked parents only: most blocked beads have no children.
    queue = deque(parent for parent in children if parent in blocked)
    while queue:
        for child in children[queue.popleft()]:
            if child not in blocked:
                blocked.add(child)
                if child in children:
                    queue.append(child)
    return blocked | waiting


def ready(
    candidates: Sequence[Candidate],
    blocks: Iterable[tuple[str, str]],
    parent_of: Iterable[tuple[str, str]] = (),
    status_of: Mapping[str, str] | None = None,
) -> list[Candidate]:
    """Open, unheld, unstaged, unblocked beads, by priority then age (oldest first).

    `status_of` must cover every blocker; it defaults to the candidates' own statuses.
    """
    if status_of is None:
        status_of = dict(map(_id_status, candidates))
    blocked = blocked_set(status_of, blocks, parent_of)
    out = [
        c
        for c in candidates
        if c.status == "open" and not c.held and not c.staged and c.id not in blocked
    ]
    # Stable sorts on one key each, last key first: (priority, created_at, id), but faster.
    out.sort(key=_id)
    out.sort(key=_created)
    out.sort(key=_priority)
    return out


_first = _id = itemgetter(0)
_second = itemgetter(1)
_id_status = itemgetter(0, 1)
_priority = itemgetter(4)
_created = itemgetter(5)


def path_between(edges: Iterable[tuple[str, str]], start: str, goal: str) -> list[str] | None:
    """The shortest chain `start → … → goal` following edges, or None."""
    if start == goal:
        return [start]
    forward: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        forward[a].append(b)
    came_from: dict[str, str] = {start: start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in forward.get(node, ()):
            if nxt in came_from:
                continue
            came_from[nxt] = node
            if nxt == goal:
                path = [goal]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return path[::-1]
            queue.append(nxt)
    return None


def cycle_if_added(edges: Iterable[tuple[str, str]], bead: str, blocker: str) -> list[str] | None:
    """The cycle that `bead depends on blocker` would close, named from `bead`, or None."""
    back = path_between(edges, blocker, bead)
    return None if back is None else [bead, *back]


def find_cycle(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """Any cycle among the edges, as `[a, b, …, a]`, or None."""
    forward: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        forward[a].append(b)
    white, grey, black = 0, 1, 2
    color: dict[str, int] = defaultdict(int)
    for root in nodes:
        if color[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        trail: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                color[node] = grey
                trail.append(node)
            succ = forward.get(node, [])
            if i < len(succ):
                stack.append((node, i + 1))
                nxt = succ[i]
                if color[nxt] == grey:
                    return [*trail[trail.index(nxt) :], nxt]
                if color[nxt] == white:
                    stack.append((nxt, 0))
            else:
                color[node] = black
                trail.pop()
    return None


def waves(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Topological layers: wave 0 depends on nothing in `nodes`, wave n on waves before it.

    Raises ValueError if the edges contain a cycle.
    """
    members = set(nodes)
    pending: dict[str, int] = dict.fromkeys(nodes, 0)
    dependents: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        if a in members and b in members:
            pending[a] += 1
            dependents[b].append(a)
    layer = [n for n in nodes if pending[n] == 0]
    out: list[list[str]] = []
    seen = 0
    while layer:
        out.append(layer)
        seen += len(layer)
        nxt: list[str] = []
        for n in layer:
            for d in dependents.get(n, ()):
                pending[d] -= 1
                if pending[d] == 0:
                    nxt.append(d)
        layer = nxt
    if seen != len(members):
        raise ValueError("edges contain a cycle")
    return out
