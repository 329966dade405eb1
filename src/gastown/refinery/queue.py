"""What the refinery takes next, and how a red batch is searched. Pure: no git, no store.

Merge requests wait in order of bead priority, then age. A batch is the first waiting merge
request and up to `size - 1` more behind it for the same target. A batch whose gates fail is
bisected over its prefixes: the stack is built once, so testing "the first k" is checking out
one commit; the first prefix that fails ends with the culprit, everything before it lands, and
what comes after goes back to the queue to be tested again without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gastown.model import MR_LANDING, MR_OPEN, MergeRequest


def order(mrs: Sequence[MergeRequest]) -> list[MergeRequest]:
    """Waiting merge requests, first to be taken first."""
    return sorted(
        (m for m in mrs if m.status == MR_OPEN), key=lambda m: (m.priority, m.created_at, m.id)
    )


def next_batch(mrs: Sequence[MergeRequest], size: int) -> list[MergeRequest]:
    """The next batch: one target, at most `size`; a convoy's landing always goes alone."""
    waiting = order(mrs)
    if not waiting:
        return []
    first = waiting[0]
    if first.kind == MR_LANDING or size <= 1:
        return [first]
    return [m for m in waiting if m.target == first.target and m.kind != MR_LANDING][:size]


def first_bad(count: int, passes: Callable[[int], bool]) -> int:
    """The length of the shortest failing prefix of a stack of `count` whose whole fails:
    `passes(k)` tests the first k. Binary search: about log2(count) gate runs."""
    good, bad = 0, count  # prefix `good` passes (the empty one does); prefix `bad` fails
    while bad - good > 1:
        middle = (good + bad) // 2
        if passes(middle):
            good = middle
        else:
            bad = middle
    return bad
