"""A run's ending, decided once: what happened to it → what the ledger records.

Every way a run ends comes through here: its agent exited (cleanly or not, or stopped by the
town or a person), it could not start, its runtime is unavailable, or the town process that
followed it is gone. `decide` is pure, tested as a table of scenarios like the reconciler's
`plan`; `polecat.finish.end_run` is the one writer that applies a decision.
"""

from __future__ import annotations

from gastown.model import (
    IN_REVIEW,
    LOST,
    OPEN,
    RUN_FAILED,
    RUN_STOPPED,
    SUCCEEDED,
    BeadStatus,
    RunStatus,
)
from gastown.polecat.output import Ending
from gastown.record import Record

LOST_OUTCOME = "lost: the town process that ran it stopped"


class Happened(Record):
    """What is known about a run when it ends."""

    run_id: str
    bead_id: str
    attempt: int
    """The run's attempt at its bead (1 for the first)."""
    ending: Ending | None = None
    """How its agent's process ended; None when it never ran."""
    agent_ok: bool = True
    """False when the agent's own end event reported a failure."""
    error: str = ""
    """The first error the run reported (why it could not start)."""
    started: bool = True
    """Whether its branch was read after the agent ran (False: the agent never started)."""
    ahead: int = 0
    """Commits on its branch ahead of its base."""
    stopped: str | None = None
    """Why it was stopped, if it was."""
    after_stop: str | None = None
    """For a person's stop, what the bead pays: `hold`, `requeue` or `release` (see
    `polecat.run.Handle.after_stop`); None for the town's own stops (a timeout)."""
    unavailable: str | None = None
    """Why its runtime cannot start (missing, too old, misconfigured), if that ended it."""
    lost: bool = False
    """The town process that followed it is gone, and its agent with it."""
    lost_why: str = ""
    """Why it was lost, when not its town process (a worker that stopped answering)."""


class Decision(Record):
    """What the ledger records for an ended run."""

    status: RunStatus
    """The run's final status."""
    outcome: str
    """The run's outcome in words."""
    merge_request: bool = False
    """Whether its branch becomes a merge request (unless it was rework, see `end_run`)."""
    bead_status: BeadStatus = OPEN
    """Where its bead goes, if the bead is still in progress."""
    held: bool | None = None
    """Whether the bead is held after this (None: left as it is)."""
    attempts: int | None = None
    """The bead's dispatch count from now on, when this attempt is given back (None: it
    counts)."""
    reason: str = ""
    """Why the bead moved, for its event (a merge request's is named by the writer)."""
    escalation: str | None = None
    """A high escalation to raise, if a person must act."""


def decide(h: Happened) -> Decision:
    """The run's ending from what happened: the agent's word counts for nothing, what it left
    on its branch and how its process ended decide."""
    given_back = max(h.attempt - 1, 0)
    if h.unavailable is not None:  # not the bead's fault: hold it until a person fixes it
        return Decision(
            RUN_FAILED,
            f"not started: {h.unavailable}",
            held=True,
            attempts=given_back,
            reason=h.unavailable,
            escalation=f"{h.unavailable} The bead is held; unhold it with "
            f"`gt bead update {h.bead_id} --unhold` once that is fixed.",
        )
    if h.lost:
        return Decision(
            LOST,
            f"lost: {h.lost_why}" if h.lost_why else LOST_OUTCOME,
            attempts=given_back,
            reason=f"run {h.run_id} lost; requeued",
        )
    status = h.ending.status if h.ending is not None else None
    if h.stopped is not None:
        outcome = f"stopped: {h.stopped}"
    elif not h.started:
        outcome = f"could not start: {h.error}" if h.error else "could not start"
    elif status != 0 or not h.agent_ok:
        described = h.ending.describe() if h.ending is not None and status != 0 else ""
        outcome = described or "agent reported failure"
    elif h.ahead == 0:
        outcome = "no changes"
    else:
        return Decision(SUCCEEDED, "merge request", merge_request=True, bead_status=IN_REVIEW)
    reason = f"run {h.run_id} ended: {outcome}"
    if h.stopped is not None and h.after_stop is not None:
        # A person's stop is not the bead's failure: the attempt is given back (a reset gives
        # all of them back), and only `gt agent stop` holds it.
        attempts = 0 if h.after_stop == "requeue" else given_back
        held = h.after_stop == "hold"
        return Decision(RUN_STOPPED, outcome, held=held, attempts=attempts, reason=reason)
    return Decision(RUN_FAILED, outcome, reason=reason)
