"""Completion is mechanical: what the agent left decides the run's outcome, not what it said.

Leftover changes are committed. A branch ahead of its base after a clean exit becomes a merge
request and the bead goes `in_review`; no change, a non-zero exit or a stop is a failed run and
the bead goes back to `open` for a retry (the planner spaces retries out and fails the bead
when its attempts are used up). Branches and transcripts stay. `polecat.ending.decide` says
how a run ended; `end_run`, the one writer every ending goes through, records it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

from gastown.git import worktree as wt
from gastown.git.messages import AGENT_LEFT, bead_of_branch, leftovers
from gastown.model import DEFAULT_PRIORITY, IDLE, IN_PROGRESS, Bead, MergeRequest, Run
from gastown.polecat.ending import Decision, Happened, decide
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


class Finished(Record):
    """What a run whose agent ran (or tried to) leaves for the ledger besides its ending: what
    it spent, how its process exited, and the branch a merge request is made of."""

    events: Sequence[ev.Event]
    ending: Ending | None = None
    left: Leftovers | None = None
    base: str = ""
    """The commit the branch is measured against."""
    target: str = ""
    """The branch a merge request would land on."""


def record_finish(
    ledger: Ledger,
    run: Run,
    finished: Finished,
    stopped: str | None = None,
    after_stop: str | None = None,
) -> str:
    """Decide and write the end of a run whose agent ran or could not start (`stopped`,
    `after_stop`: see `Handle`). Returns the outcome in words."""
    events = finished.events
    end = next((e for e in reversed(events) if isinstance(e, ev.End)), None)
    happened = Happened(
        run.id,
        run.bead_id,
        run.attempt,
        ending=finished.ending,
        agent_ok=end is None or end.ok,
        error=next((e.message for e in events if isinstance(e, ev.Error)), ""),
        started=finished.left is not None,
        ahead=finished.left.ahead if finished.left is not None else 0,
        stopped=stopped,
        after_stop=after_stop,
    )
    return end_run(ledger, run, decide(happened), finished)


def could_not_start(ledger: Ledger, run: Run, message: str) -> str:
    """End a run whose agent never started (or the town failed it): a failed attempt."""
    return record_finish(ledger, run, Finished([ev.Error(message)]))


def end_run(ledger: Ledger, run: Run, decision: Decision, finished: Finished | None = None) -> str:
    """The one writer of a run's end: the run, its event, its merge request or its bead's
    way back, an escalation, and its polecat freed, in one transaction; nothing if the run
    has already ended. Returns the outcome in words ("rework done" when the branch finished
    the rework of an earlier merge request, which the refinery retries)."""
    with ledger.store.transaction() as tx:
        now = ledger.now()
        current = tx.get_run(run.id, lock=True)
        if current is None or not current.active:
            return decision.outcome
        expected = current.status
        run.summary, run.done_at = current.summary, current.done_at
        run.status, run.ended_at, run.outcome = decision.status, now, decision.outcome
        after: dict[str, object] = {"run": run.id, "status": run.status}
        if finished is not None:
            after |= _spend(run, finished)
        tx.update_run(run, expected)
        bead = tx.get_bead(run.bead_id, lock=True)
        ledger.record_event(
            tx,
            "run.ended",
            at=now,
            bead_id=run.bead_id,
            rig=run.rig,
            after=after,
            reason=decision.outcome,
        )
        left = finished.left if finished is not None else None
        # A branch that answered an earlier merge request's rework: that one is retried.
        reworked = (
            decision.merge_request
            and left is not None
            and bead is not None
            and rework_done(ledger, tx, bead, left.head, run.id)
        )
        if reworked:
            pass
        elif decision.merge_request and finished is not None and left is not None:
            mr = _merge_request(ledger, tx, run, bead, finished, left, now)
            if bead is not None and bead.status == IN_PROGRESS:
                reason = f"merge request {mr.id}"
                beads.write(ledger, tx, bead, {"status": decision.bead_status}, reason=reason)
        else:
            if decision.attempts is not None:
                tx.set_dispatch(run.bead_id, decision.attempts)
            if bead is not None and bead.status == IN_PROGRESS:
                fields: dict[str, object] = {"status": decision.bead_status, "assignee": None}
                if decision.held is not None:
                    fields["held"] = decision.held
                beads.write(ledger, tx, bead, fields, reason=decision.reason)
        if decision.escalation is not None:
            escalations.raise_in(
                ledger,
                tx,
                "high",
                decision.escalation,
                bead_id=run.bead_id,
                run_id=run.id,
                rig=run.rig,
            )
        free_polecat(tx, run, now)
    return "rework done" if reworked else decision.outcome


def _spend(run: Run, finished: Finished) -> dict[str, object]:
    """Set what the run spent and how it exited; the same for the `run.ended` event."""
    events = list(finished.events)
    spent = ev.totals(events)
    ending = finished.ending
    run.exit_code = ending.status if ending is not None else None
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
    return {
        "outcome": run.outcome,
        "exit": run.exit_code,
        "signal": ending.signal if ending is not None else None,
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost_usd": run.cost_usd if run.cost_known else None,
    }


def _merge_request(
    ledger: Ledger,
    tx: Tx,
    run: Run,
    bead: Bead | None,
    finished: Finished,
    left: Leftovers,
    now: str,
) -> MergeRequest:
    """The merge request a clean run's branch becomes, written with its event."""
    end = next((e for e in reversed(finished.events) if isinstance(e, ev.End)), None)
    summary = run.summary or (end.summary if end else "") or None
    mr = MergeRequest(
        id=f"mr-{secrets.token_hex(4)}",
        bead_id=run.bead_id,
        run_id=run.id,
        rig=run.rig,
        branch=run.branch,
        target=finished.target,
        base_commit=finished.base,
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
        after={"mr": mr.id, "branch": mr.branch, "target": finished.target, "commits": left.ahead},
        reason=summary,
    )
    return mr


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
    happened = Happened(run.id, run.bead_id, run.attempt, started=False, unavailable=message)
    end_run(ledger, run, decide(happened))


def end_lost(ledger: Ledger, run: Run, why: str = "") -> None:
    """End a run whose town process (or, `why`, whose worker) is gone and whose agent went
    with it: its attempt is given back and its bead requeued."""
    happened = Happened(run.id, run.bead_id, run.attempt, lost=True, lost_why=why)
    end_run(ledger, run, decide(happened))
