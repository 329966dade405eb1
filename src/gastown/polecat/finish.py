"""Completion is mechanical: what the agent left decides the run's outcome, not what it said.

Leftover changes are committed. A branch ahead of its base after a clean exit becomes a merge
request and the bead goes `in_review`; no change, a non-zero exit or a stop is a failed run and
the bead goes back to `open` for a retry (the planner spaces retries out and fails the bead
when its attempts are used up). Branches and transcripts stay.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

from gastown.git import worktree as wt
from gastown.git.messages import AGENT_LEFT, bead_of_branch, leftovers
from gastown.model import (
    DEFAULT_PRIORITY,
    IDLE,
    IN_PROGRESS,
    IN_REVIEW,
    OPEN,
    RUN_FAILED,
    RUN_STOPPED,
    SUCCEEDED,
    Bead,
    MergeRequest,
    Run,
)
from gastown.polecat.output import Ending
from gastown.record import Record
from gastown.runtimes import events as ev
from gastown.services import beads, escalations
from gastown.services.ledger import Ledger
from gastown.services.merge_requests import rework_done
from gastown.store import Tx


class Leftovers(Record):
    """What the run left on its branch (read from git, in a thread)."""

    ahead: int
    head: str


def inspect_branch(
    worktree: Path, base: str, identity: wt.Identity, bead: Bead | None = None
) -> Leftovers:
    """Commit what the agent left uncommitted, titled from its `bead` (`gt-abc12: Fix the
    login redirect`; without one, the bead the branch is named for), and read the branch."""
    bead_id = bead.id if bead is not None else bead_of_branch(wt.current_branch(worktree))
    title = bead.title if bead is not None else None
    wt.commit_all(worktree, leftovers(bead_id, title, AGENT_LEFT), identity)
    return Leftovers(wt.ahead(worktree, base), wt.head(worktree))


def record_finish(
    ledger: Ledger,
    run: Run,
    base: str,
    target: str,
    ending: Ending | None,
    events: Sequence[ev.Event],
    left: Leftovers | None,
    stopped: str | None,
    after_stop: str | None = None,
) -> str:
    """Write the run's end, its merge request or its failure, and free its polecat. Returns
    the outcome in words."""
    spent = ev.totals(list(events))
    end = next((e for e in reversed(events) if isinstance(e, ev.End)), None)
    exit_status = ending.status if ending is not None else None
    clean = stopped is None and exit_status == 0 and (end is None or end.ok)
    if stopped is not None:
        outcome = f"stopped: {stopped}"
    elif left is None:
        why = next((e.message for e in events if isinstance(e, ev.Error)), "")
        outcome = f"could not start: {why}" if why else "could not start"
    elif not clean:
        outcome = (
            "agent reported failure" if ending is None or exit_status == 0 else ending.describe()
        )
    elif left.ahead == 0:
        outcome = "no changes"
    else:
        outcome = "merge request"
    succeeded = outcome == "merge request"
    outcome_text: str | None = None
    with ledger.store.transaction() as tx:
        now = ledger.now()
        current = tx.get_run(run.id, lock=True)
        if current is None or not current.active:
            return outcome
        expected = current.status
        run.summary, run.done_at = current.summary, current.done_at
        by_person = stopped is not None and after_stop is not None
        run.status = SUCCEEDED if succeeded else RUN_STOPPED if by_person else RUN_FAILED
        run.ended_at, run.exit_code, run.outcome = now, exit_status, outcome
        run.tokens_in = spent.input_tokens + spent.cache_read_tokens + spent.cache_write_tokens
        run.tokens_out = spent.output_tokens
        run.cost_usd = spent.cost_usd or 0.0
        run.cache_read_tokens, run.cache_write_tokens = (
            spent.cache_read_tokens,
            spent.cache_write_tokens,
        )
        run.model = next(
            (e.model for e in reversed(events) if isinstance(e, ev.Usage) and e.model), None
        )
        run.cost_known = spent.cost_usd is not None or run.tokens_in + run.tokens_out == 0
        tx.update_run(run, expected)
        summary = run.summary or (end.summary if end else "") or None
        bead = tx.get_bead(run.bead_id, lock=True)
        after = {
            "run": run.id,
            "status": run.status,
            "outcome": outcome,
            "exit": exit_status,
            "signal": ending.signal if ending is not None else None,
            "tokens_in": run.tokens_in,
            "tokens_out": run.tokens_out,
            "cost_usd": run.cost_usd if run.cost_known else None,
        }
        ledger.record_event(
            tx, "run.ended", at=now, bead_id=run.bead_id, rig=run.rig, after=after, reason=outcome
        )
        if succeeded and left is not None and bead is not None:
            succeeded = not rework_done(ledger, tx, bead, left.head, run.id)
            if not succeeded:
                outcome_text = "rework done"
        if succeeded and left is not None:
            mr = MergeRequest(
                id=f"mr-{secrets.token_hex(4)}",
                bead_id=run.bead_id,
                run_id=run.id,
                rig=run.rig,
                branch=run.branch,
                target=target,
                base_commit=base,
                head_commit=left.head,
                summary=summary,
                created_at=now,
                updated_at=now,
                convoy_id=bead.convoy_id if bead is not None else None,
                priority=bead.priority if bead is not None else DEFAULT_PRIORITY,
            )
            tx.insert_merge_request(mr)
            ledger.record_event(
                tx,
                "mr.created",
                at=now,
                bead_id=run.bead_id,
                rig=run.rig,
                after={
                    "mr": mr.id,
                    "branch": mr.branch,
                    "target": target,
                    "commits": left.ahead,
                },
                reason=summary,
            )
            if bead is not None and bead.status == IN_PROGRESS:
                beads.write(
                    ledger, tx, bead, {"status": IN_REVIEW}, reason=f"merge request {mr.id}"
                )
        elif bead is not None and bead.status == IN_PROGRESS and outcome_text is None:
            fields: dict[str, object] = {"status": OPEN, "assignee": None}
            if by_person:  # not the bead's failure: give the attempt back (reset: all of them)
                attempts = 0 if after_stop == "requeue" else max(run.attempt - 1, 0)
                tx.set_dispatch(run.bead_id, attempts)
                fields["held"] = after_stop == "hold"
            beads.write(ledger, tx, bead, fields, reason=f"run {run.id} ended: {outcome}")
        free_polecat(tx, run, now)
    return outcome_text or outcome


def free_polecat(tx: Tx, run: Run, now: str) -> None:
    """The run's polecat is idle again (if this run is still its current one)."""
    polecat = tx.get_polecat(run.polecat, lock=True)
    if polecat is not None and polecat.run_id == run.id:
        polecat.state, polecat.bead_id, polecat.updated_at = IDLE, None, now
        tx.update_polecat(polecat)


def hold_for_runtime(ledger: Ledger, run: Run, message: str) -> None:
    """The runtime cannot start (its program is missing or too old, or the settings lack what
    it needs): end the run without spending the bead's attempt, hold the bead so it is not
    dispatched again and again, and escalate."""

    with ledger.store.transaction() as tx:
        now = ledger.now()
        current = tx.get_run(run.id, lock=True)
        if current is None or not current.active:
            return
        expected = current.status
        run.status, run.ended_at, run.outcome = RUN_FAILED, now, f"not started: {message}"
        tx.update_run(run, expected)
        tx.set_dispatch(run.bead_id, max(run.attempt - 1, 0))
        bead = tx.get_bead(run.bead_id, lock=True)
        if bead is not None and bead.status == IN_PROGRESS:
            beads.write(
                ledger, tx, bead, {"status": OPEN, "assignee": None, "held": True}, reason=message
            )
        ledger.record_event(
            tx,
            "run.ended",
            at=now,
            bead_id=run.bead_id,
            rig=run.rig,
            after={"run": run.id, "status": RUN_FAILED},
            reason=run.outcome,
        )
        held = (
            f"{message} The bead is held; unhold it with "
            f"`gt bead update {run.bead_id} --unhold` once that is fixed."
        )
        escalations.raise_in(
            ledger, tx, "high", held, bead_id=run.bead_id, run_id=run.id, rig=run.rig
        )
        free_polecat(tx, run, now)
