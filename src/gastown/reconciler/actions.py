"""What the reconciler decides to do: plain records that `plan` returns and `apply` carries out.

An action says what should happen and why, never how: `apply` owns the store writes, the
worktrees and the processes, and records every action it takes as an event.
"""

from __future__ import annotations

from typing import TypeAlias

from gastown.model import Severity, run_branch
from gastown.record import Record


class Dispatch(Record):
    """Start a run of `bead_id` on `rig` by `polecat` (naming it first if `new_polecat`)."""

    bead_id: str
    """The bead to work on."""
    rig: str
    """The bead's rig."""
    polecat: str
    """The polecat to run it."""
    attempt: int
    """This run's number among the bead's dispatches: 1, then 2 on the first retry, ..."""
    runtime: str
    """The bead's own runtime, else the rig's setting."""
    new_polecat: bool = False
    """True when `polecat` is a fresh name from the pool rather than an idle polecat reused."""
    retry_from: str = "previous"
    """`polecat.retry_from`: whether a retry continues the branch its last attempt left."""

    @property
    def branch(self) -> str:
        """The branch the run works on: `gt/<polecat>/<bead-id>`."""
        return run_branch(self.polecat, self.bead_id)


class StopRun(Record):
    """Stop an active run. It ends `failed` with `reason` as its outcome: a timed-out run is a
    failed attempt, retried with backoff like any other."""

    run_id: str
    """The run to stop."""
    bead_id: str
    """Its bead."""
    reason: str
    """Why, in words: the run's outcome (`stalled: no output for 15 min`, ...)."""
    after: str | None = None
    """None: a failed attempt. `release` (its budget is used up): the attempt is given back
    and the bead waits, open, for the budget to be raised or granted again."""


class FailBead(Record):
    """Move a bead to `failed`: its attempts are used up."""

    bead_id: str
    """The bead to fail."""
    reason: str
    """Why, in words: its close reason and the event's."""


class Escalate(Record):
    """Raise an escalation for a person (and the mayor) to look at."""

    severity: Severity
    """One of `model.SEVERITIES`."""
    message: str
    """What the person must look at, in one or two sentences."""
    bead_id: str | None = None
    """The bead it is about, if any."""
    run_id: str | None = None
    """The run it is about, if any."""
    rig: str | None = None
    """The rig it is about, if any."""


class PauseDispatch(Record):
    """Stop dispatching town-wide (the circuit breaker opened); running work carries on."""

    reason: str
    """Why, in words, for the pause record and its event."""


class ResumeDispatch(Record):
    """Dispatch again: the failures that opened the circuit breaker have aged out."""

    reason: str
    """Why, in words, for the event."""


class BudgetNotice(Record):
    """A budget reached a new level (see `reconciler.budget.LEVELS`): record it, say it once
    (an event at 80%, an event and an escalation when used up), and remember it was said."""

    key: str
    """Which budget: `bead:ID`, `convoy:ID`, `rig:NAME:DAY` or `town:DAY`."""
    level: str
    """`warning`, `exceeded`, or "" when it fell back (raised): then nothing is said."""
    message: str
    """What to say, when there is something to say."""
    setting: str
    """The setting that sets the budget."""
    spent: float
    """USD spent against it."""
    limit: float
    """The budget in USD."""
    bead_id: str | None = None
    """The bead, for a bead's budget."""
    rig: str | None = None
    """The rig, for a rig's (or a bead's) budget."""


Action: TypeAlias = (
    Dispatch | StopRun | FailBead | Escalate | PauseDispatch | ResumeDispatch | BudgetNotice
)
