"""Failures of the town's own loops: told to a person once, not logged forever.

A reconciler pass or a refinery step that raises is logged and tried again on the next turn:
one bad turn must not stop the town. But a step that fails every time (a setting it cannot
use, a broken clone) would otherwise fail silently forever. After `THRESHOLD` failures in a
row one escalation says where and why; a success clears the count, so a later run of
failures raises a new one.
"""

from __future__ import annotations

import logging

from gastown.services import escalations
from gastown.services.ledger import Ledger

log = logging.getLogger("gastown.town")

THRESHOLD = 3


class Faults:
    """Consecutive failures per loop step, and whether a person has been told."""

    def __init__(self, ledger: Ledger, threshold: int = THRESHOLD) -> None:
        self.ledger, self.threshold = ledger, threshold
        self.counts: dict[str, int] = {}
        self.told: set[str] = set()

    def failed(self, where: str, exc: BaseException, rig: str | None = None) -> None:
        """`where` (a loop step, in words) raised `exc` again."""
        count = self.counts[where] = self.counts.get(where, 0) + 1
        if count < self.threshold or where in self.told:
            return
        words = " ".join(str(exc).split())[:300] or "no message"
        message = (
            f"{where[0].upper()}{where[1:]} failed {count} times in a row "
            f"({type(exc).__name__}: {words}). It keeps trying; logs/town.log has the details."
        )
        try:
            escalations.raise_(self.ledger, "high", message, rig=rig)
        except Exception:  # the ledger itself may be what fails; the log still has it
            log.exception("could not escalate the failures of %s", where)
            return
        self.told.add(where)

    def succeeded(self, where: str) -> None:
        """`where` ran cleanly: its count starts again, and a new run of failures is told."""
        self.counts.pop(where, None)
        self.told.discard(where)
