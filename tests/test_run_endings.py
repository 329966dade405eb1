"""A run's ending, decided once: given what happened to a run, then what the ledger records.

`decide` is pure, so every way a run ends is one row: the run's status and outcome, whether
its branch becomes a merge request, where its bead goes, whether the attempt counts, and
whether a person is told.
"""

from __future__ import annotations

from typing import Any

import pytest

from gastown.polecat.ending import LOST_OUTCOME, Decision, Happened, decide
from gastown.polecat.output import Ending

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
