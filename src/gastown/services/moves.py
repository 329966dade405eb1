"""Moving a bead to another status, as a board's drag and drop (or its move menu) asks.

A move is what the CLI would do for the same wish, so it meets the same rules: to `closed`
is `gt bead close` (refused while blockers are open), back to `open` from `closed` or
`failed` is `gt bead reopen`, and anything else is `gt bead update --status`, which follows
the lifecycle (`model.TRANSITIONS`). The refusal says why, in the CLI's words.
"""

from __future__ import annotations

from gastown.errors import IllegalTransition
from gastown.model import CLOSED, FAILED, OPEN, TRANSITIONS, Bead
from gastown.services import beads
from gastown.services.ledger import Ledger, get_bead


def targets(status: str) -> list[str]:
    """The statuses a bead in `status` may be moved to, in lifecycle order (pure)."""
    allowed = TRANSITIONS.get(status, frozenset())
    return [s for s in (OPEN, "in_progress", "in_review", CLOSED, FAILED) if s in allowed]


def move(ledger: Ledger, bead_id: str, to: str, reason: str | None = None) -> Bead:
    """Move one bead to status `to` along the lifecycle; refused, with the way it can go,
    when the lifecycle forbids it."""
    target = beads.status(to)
    with ledger.store.reader() as tx:
        bead = get_bead(tx, ledger.prefix, bead_id)
    if bead.status == target:
        raise IllegalTransition(f"Bead {bead.id} is already {_words(target)}.")
    if target not in TRANSITIONS[bead.status]:
        allowed = ", ".join(_words(s) for s in targets(bead.status))
        raise IllegalTransition(
            f"Bead {bead.id} is {_words(bead.status)}; it cannot go to {_words(target)}.",
            hint=f"From {_words(bead.status)} it can go to: {allowed}.",
        )
    if target == CLOSED:
        return beads.close(ledger, bead.id, reason)
    if target == OPEN and bead.status in (CLOSED, FAILED):
        return beads.reopen(ledger, bead.id, reason)
    return beads.update(ledger, bead.id, {"status": target}, reason, bead.version)


def _words(status: str) -> str:
    return status.replace("_", " ")
