"""`apply`: carry out the planner's actions in the ledger, and say which runs to start or stop.

Each action is applied in its own transaction and re-checked there, so an action planned from
a snapshot that has since gone stale does nothing rather than something wrong (the store
refuses a second active run for a bead or a polecat outright). Processes are not started here:
the supervisor starts the `Launch`es this returns and stops the runs in `stops`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from gastown.model import (
    FAILED,
    IN_PROGRESS,
    MR_REWORK,
    OPEN,
    WORKING,
    Polecat,
    Run,
)
from gastown.polecat.earlier import retry_branch
from gastown.reconciler.actions import (
    Action,
    BudgetNotice,
    Dispatch,
    Escalate,
    FailBead,
    PauseDispatch,
    ResumeDispatch,
    StopRun,
)
from gastown.reconciler.budget import EXCEEDED, WARNING
from gastown.reconciler.snapshot import BREAKER
from gastown.record import Record, field, replace
from gastown.services import beads, escalations, retries
from gastown.services.ledger import Ledger
from gastown.store import BeadFilter


class Applied(Record):
    """What `apply` leaves for the supervisor."""

    launches: list[Run] = field(default_factory=list)
    """Runs created (queued) whose agents should start now."""
    stops: list[StopRun] = field(default_factory=list)
    """Active runs whose agents should be stopped."""


def worktree_path(rig: str, polecat: str) -> str:
    """A polecat's worktree for a rig, relative to the town folder."""
    return f"worktrees/{rig}/{polecat}"


def apply(
    ledger: Ledger, actions: list[Action], queue_of: Callable[[str], str | None] | None = None
) -> Applied:
    """Carry out `actions`; `queue_of` says which job queue a rig's new runs wait on for a
    worker (None, or a None answer: the town process runs them)."""
    done = Applied()
    attempts: dict[str, str] = {}  # bead failed in this pass → its attempts, for the escalation
    for action in actions:
        if isinstance(action, Dispatch):
            run = _dispatch(ledger, action, queue_of(action.rig) if queue_of else None)
            if run is not None:
                done.launches.append(run)
        elif isinstance(action, StopRun):
            done.stops.append(action)
        elif isinstance(action, FailBead):
            attempts[action.bead_id] = _fail(ledger, action)
        elif isinstance(action, Escalate):
            said = attempts.get(action.bead_id or "")
            told = f"{action.message}\n{said}" if said else action.message
            raise_escalation(ledger, replace(action, message=told))
        elif isinstance(action, PauseDispatch | ResumeDispatch):
            _pause(ledger, action)
        elif isinstance(action, BudgetNotice):
            _notice(ledger, action)
    return done


def _dispatch(ledger: Ledger, d: Dispatch, queue: str | None = None) -> Run | None:
    """Create the run, claim the bead for the polecat and count the attempt, or do nothing if
    the bead is no longer open or another dispatcher got there first."""
    with ledger.store.transaction() as tx:
        bead = tx.get_bead(d.bead_id, lock=True)
        if bead is None or not tx.bead_ids(BeadFilter(ids=[bead.id], ready=True)):
            return None  # closed, taken, held, blocked or staged since the snapshot
        now = ledger.now()
        # Rework continues the branch of the merge request that waits for it; a retry, the
        # branch its last attempt left (unless `polecat.retry_from` says fresh).
        rework = tx.list_merge_requests(rework_bead_id=d.bead_id, status=MR_REWORK)
        branch = (
            rework[0].branch if rework else retry_branch(tx, d.bead_id, d.polecat, d.retry_from)
        )
        run = Run(
            id=f"run-{secrets.token_hex(5)}",
            bead_id=d.bead_id,
            polecat=d.polecat,
            rig=d.rig,
            runtime=d.runtime,
            branch=branch,
            worktree=worktree_path(d.rig, d.polecat),
            attempt=d.attempt,
            created_at=now,
            queue=queue,
        )
        polecat = tx.get_polecat(d.polecat, lock=True)
        if polecat is None:
            polecat = Polecat(d.polecat, d.rig, created_at=now)
            if not tx.insert_polecat(polecat):
                return None
        if not tx.insert_run(run):
            return None
        polecat.rig, polecat.state, polecat.bead_id = d.rig, WORKING, d.bead_id
        polecat.run_id, polecat.worktree, polecat.updated_at = run.id, run.worktree, now
        tx.update_polecat(polecat)
        tx.set_dispatch(d.bead_id, d.attempt)
        beads.write(
            ledger,
            tx,
            bead,
            {"status": IN_PROGRESS, "assignee": d.polecat},
            kind="bead.dispatched",
            reason=f"run {run.id}, attempt {d.attempt}",
        )
        ledger.record_event(
            tx,
            "run.queued",
            at=now,
            bead_id=d.bead_id,
            convoy_id=bead.convoy_id,
            rig=d.rig,
            after={
                "run": run.id,
                "polecat": d.polecat,
                "runtime": d.runtime,
                "branch": run.branch,
                "attempt": d.attempt,
                **({"queue": queue} if queue else {}),
            },
        )
        return run


def _fail(ledger: Ledger, f: FailBead) -> str:
    """Fail the bead; its attempts in words (number, outcome, reason, when), which the
    escalation that follows lists."""
    with ledger.store.transaction() as tx:
        bead = tx.get_bead(f.bead_id, lock=True)
        if bead is None or bead.status != OPEN:
            return ""
        beads.write(ledger, tx, bead, {"status": FAILED}, reason=f.reason)
        return retries.history(tx.list_runs(bead_id=f.bead_id))


def raise_escalation(ledger: Ledger, e: Escalate) -> int:
    found = escalations.raise_(
        ledger, e.severity, e.message, bead_id=e.bead_id, run_id=e.run_id, rig=e.rig
    )
    return found.id


def _pause(ledger: Ledger, action: PauseDispatch | ResumeDispatch) -> None:
    with ledger.store.transaction() as tx:
        now = ledger.now()
        if isinstance(action, PauseDispatch):
            tx.set_pause({"since": now, "reason": action.reason, "by": BREAKER})
            kind = "dispatch.paused"
        else:
            tx.set_pause(None)
            kind = "dispatch.resumed"
        ledger.record_event(tx, kind, at=now, reason=action.reason)


def _notice(ledger: Ledger, n: BudgetNotice) -> None:
    """Remember the budget's level; at a new high, an event, and when used up an escalation."""
    from gastown.store import controls

    with ledger.store.transaction() as tx:
        now = ledger.now()
        state = controls.budget_state(tx).pruned(now[:10])
        if state.told.get(n.key, "") == n.level:
            return  # another pass said it already
        if n.level:
            state.told[n.key] = n.level
        else:
            state.told.pop(n.key, None)
        controls.set_budget_state(tx, state)
        if not n.message or n.level not in (WARNING, EXCEEDED):
            return
        convoy = n.key.removeprefix("convoy:") if n.key.startswith("convoy:") else None
        after = {"budget": n.key, "setting": n.setting, "spent": n.spent, "limit": n.limit}
        ledger.record_event(
            tx,
            f"budget.{n.level}",
            at=now,
            bead_id=n.bead_id,
            convoy_id=convoy,
            rig=n.rig,
            after=after,
            reason=n.message,
        )
        if n.level == EXCEEDED:
            escalations.raise_in(ledger, tx, "high", n.message, bead_id=n.bead_id, rig=n.rig)
