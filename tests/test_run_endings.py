"""A run's ending, decided once: given what happened to a run, then what the ledger records.

`decide` is pure, so every way a run ends is one row: the run's status and outcome, whether
its branch becomes a merge request, where its bead goes, whether the attempt counts, and
whether a person is told.
"""

from __future__ import annotations

from typing import Any

import pytest

from gastown.model import Run
from gastown.polecat.ending import LOST_OUTCOME, Decision, Happened, decide
from gastown.polecat.finish import Finished, Leftovers, end_lost, hold_for_runtime, record_finish
from gastown.polecat.output import Ending
from gastown.reconciler import Dispatch
from gastown.reconciler.apply import apply
from gastown.runtimes import events as ev
from gastown.services import beads
from gastown.services.ledger import Ledger

CLEAN = Ending(0)


def happened(**fields: Any) -> Happened:
    """The third attempt at gt-a by run r-1, its agent exiting cleanly with one commit."""
    return Happened(
        **{"run_id": "r-1", "bead_id": "gt-a", "attempt": 3, "ending": CLEAN, "ahead": 1, **fields}
    )


FAILED_AGAIN = "run r-1 ended: "


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # a clean exit with commits: a merge request, the bead in review
        ({}, Decision("succeeded", "merge request", merge_request=True, bead_status="in_review")),
        # clean, nothing committed: a failed attempt that counts
        ({"ahead": 0}, Decision("failed", "no changes", reason=FAILED_AGAIN + "no changes")),
        # commits, but the agent said it failed, or its process did
        (
            {"agent_ok": False},
            Decision(
                "failed", "agent reported failure", reason=FAILED_AGAIN + "agent reported failure"
            ),
        ),
        ({"ending": Ending(1)}, Decision("failed", "exit 1", reason=FAILED_AGAIN + "exit 1")),
        (
            {"ending": Ending(137)},
            Decision(
                "failed",
                "killed by signal 9 (SIGKILL)",
                reason=FAILED_AGAIN + "killed by signal 9 (SIGKILL)",
            ),
        ),
        # never started: the first error says why
        (
            {"ending": None, "started": False, "error": "no worktree"},
            Decision(
                "failed",
                "could not start: no worktree",
                reason=FAILED_AGAIN + "could not start: no worktree",
            ),
        ),
        (
            {"ending": None, "started": False},
            Decision("failed", "could not start", reason=FAILED_AGAIN + "could not start"),
        ),
        # the town's own stop (a timeout): a failed attempt, whatever the branch holds
        (
            {"stopped": "stalled"},
            Decision("failed", "stopped: stalled", reason=FAILED_AGAIN + "stopped: stalled"),
        ),
        # a person's stop: the attempt given back; `gt agent stop` holds, a reset gives all back
        (
            {"stopped": "stop by ann", "after_stop": "hold"},
            Decision(
                "stopped",
                "stopped: stop by ann",
                held=True,
                attempts=2,
                reason=FAILED_AGAIN + "stopped: stop by ann",
            ),
        ),
        (
            {"stopped": "reset by ann", "after_stop": "requeue"},
            Decision(
                "stopped",
                "stopped: reset by ann",
                held=False,
                attempts=0,
                reason=FAILED_AGAIN + "stopped: reset by ann",
            ),
        ),
        (
            {"stopped": "the town process is stopping", "after_stop": "release"},
            Decision(
                "stopped",
                "stopped: the town process is stopping",
                held=False,
                attempts=2,
                reason=FAILED_AGAIN + "stopped: the town process is stopping",
            ),
        ),
        # the runtime cannot start: not the bead's fault; held, the attempt back, a person told
        (
            {"ending": None, "started": False, "unavailable": "codex is missing."},
            Decision(
                "failed",
                "not started: codex is missing.",
                held=True,
                attempts=2,
                reason="codex is missing.",
                escalation="codex is missing. The bead is held; unhold it with "
                "`gt bead update gt-a --unhold` once that is fixed.",
            ),
        ),
        # its town process is gone and its agent with it: requeued, the attempt back
        (
            {"ending": None, "lost": True},
            Decision("lost", LOST_OUTCOME, attempts=2, reason="run r-1 lost; requeued"),
        ),
        (
            {"attempt": 1, "ending": None, "lost": True},
            Decision("lost", LOST_OUTCOME, attempts=0, reason="run r-1 lost; requeued"),
        ),
    ],
)
def test_a_runs_ending_follows_from_what_happened(
    fields: dict[str, Any], expected: Decision
) -> None:
    assert decide(happened(**fields)) == expected


# --- the one writer, on both backends ----------------------------------------------------


def dispatched(ledger: Ledger, attempt: int = 2) -> Run:
    """Given bead "Fix the login" dispatched to polecat alder on rig app (its `attempt`)."""
    bead = beads.create(ledger, beads.NewBead("Fix the login", rig="app"))
    (run,) = apply(ledger, [Dispatch(bead.id, "app", "alder", attempt, "scripted", True)]).launches
    return run


def test_a_lost_run_requeues_its_bead_with_the_attempt_given_back(ledger: Ledger) -> None:
    run = dispatched(ledger)
    end_lost(ledger, run)
    end_lost(ledger, run)  # a second ending of an ended run writes nothing
    with ledger.store.reader() as tx:
        ended, bead = tx.get_run(run.id), tx.get_bead(run.bead_id)
        polecat = tx.get_polecat("alder")
        kinds = [e.kind for e in tx.list_events(bead_id=run.bead_id)]
        dispatch = tx.get_dispatch(run.bead_id)
    assert ended is not None and (ended.status, ended.outcome) == ("lost", LOST_OUTCOME)
    assert bead is not None and (bead.status, bead.assignee) == ("open", None)
    assert polecat is not None and (polecat.state, polecat.bead_id) == ("idle", None)
    assert dispatch is not None and dispatch[0] == 1
    assert kinds.count("run.ended") == 1


def test_a_missing_runtime_holds_the_bead_and_tells_a_person(ledger: Ledger) -> None:
    run = dispatched(ledger)
    hold_for_runtime(ledger, run, "codex is missing.")
    with ledger.store.reader() as tx:
        ended, bead = tx.get_run(run.id), tx.get_bead(run.bead_id)
        (escalation,) = tx.list_escalations(bead_id=run.bead_id)
    assert ended is not None and ended.outcome == "not started: codex is missing."
    assert bead is not None and (bead.status, bead.held) == ("open", True)
    assert escalation.severity == "high" and "--unhold" in escalation.message


def test_a_clean_run_with_commits_becomes_a_merge_request(ledger: Ledger) -> None:
    run = dispatched(ledger, attempt=1)
    spent = [ev.Usage(10, 5), ev.End(0, ok=True, summary="Fixed it")]
    finished = Finished(spent, Ending(0), Leftovers(2, "f00d"), base="be5e", target="trunk")
    assert record_finish(ledger, run, finished) == "merge request"
    with ledger.store.reader() as tx:
        ended, bead = tx.get_run(run.id), tx.get_bead(run.bead_id)
        (mr,) = tx.list_merge_requests(rig="app")
        (event,) = tx.list_events(bead_id=run.bead_id, kind="run.ended")
    assert ended is not None and (ended.status, ended.tokens_in, ended.tokens_out) == (
        "succeeded",
        10,
        5,
    )
    assert bead is not None and bead.status == "in_review"
    assert (mr.head_commit, mr.base_commit, mr.target, mr.summary) == (
        "f00d",
        "be5e",
        "trunk",
        "Fixed it",
    )
    assert event.after is not None and event.after["exit"] == 0
