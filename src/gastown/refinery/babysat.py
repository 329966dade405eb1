"""People's pull requests the town babysits (`gt sling <PR URL>`): their merge requests
(`kind = pull`) are never reviewed, gated or landed by the refinery. When a polecat's work on
the pull request's own branch is in, its head is pushed to that branch, and only there (the
push allow-list takes that one branch, named by the merge request); then the pull request is
followed like the town's own, except that it is never merged: new review comments or failing
checks make the next babysitting bead, and a person merges it or closes it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gastown.git import merge as gm
from gastown.git import worktree as wt
from gastown.model import MR_PR, MR_PULL, MergeRequest
from gastown.refinery import outcome

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep


def push_all(step: RigStep, waiting: Sequence[MergeRequest]) -> list[MergeRequest]:
    """Push each babysat merge request among `waiting` to its pull request's branch; the
    others, for the refinery's usual way."""
    for mr in waiting:
        if mr.kind == MR_PULL:
            push_back(step, mr)
    return [mr for mr in waiting if mr.kind != MR_PULL]


def push_back(step: RigStep, mr: MergeRequest) -> None:
    """The new commits go to the pull request's own branch; the pull request is followed."""
    step.progress.changed = True
    try:
        with wt.clone_lock(step.clone):
            spec = f"{mr.head_commit}:refs/heads/{mr.branch}"
            gm.push(
                step.clone,
                "origin",
                [spec],
                "--quiet",
                target=step.rig.branch,
                pull_branch=mr.branch,
            )
    except gm.PushRejected as exc:
        outcome.hold(step.ledger, mr, f"Pushing to `{mr.branch}` was refused: {exc}")
        step.progress.held.append(mr.id)
        return
    outcome.update(
        step.ledger,
        mr,
        "mr.pushed",
        f"pushed {mr.head_commit[:10]} to `{mr.branch}` of pull request #{mr.pr_number}",
        {"head": mr.head_commit, "pr": mr.pr_number},
        status=MR_PR,
        pr_state={**mr.pr_state, "checked_at": None},
    )
