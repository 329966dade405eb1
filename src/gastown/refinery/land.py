"""The land stage: direct, one new commit (`landing`) is pushed onto the target (never forced)
and the push checked against the remote; pr, each branch goes to its pull request. A push the
remote rejects is tried again only when the target merely moved; otherwise a person is asked."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING

from gastown.errors import GitError
from gastown.git import merge as gm
from gastown.git import worktree as wt
from gastown.model import MergeRequest
from gastown.refinery import closing, landing, outcome
from gastown.refinery.gates import GateResult

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep


def push_landing(
    step: RigStep, good: list[tuple[MergeRequest, str, list[GateResult]]], base: str
) -> None:
    """Land what passed the gates (each merge request with its stack commit) on the target,
    which stood at `base` when the stack was made, as one pushed commit."""
    first = good[0][0]
    target = first.target
    tip, how = landing.commit(step, base, [(mr, commit) for mr, commit, _ in good])
    try:
        step.push(tip, target)
    except gm.PushRejected as exc:
        rejected(step, [mr for mr, _, _ in good], target, str(exc))
        return
    if gm.remote_tip(step.clone, "origin", target) != tip:
        rejected(step, [mr for mr, _, _ in good], target, "the push did not take")
        return
    if target != step.rig.branch:
        with wt.clone_lock(step.clone):
            gm.follow_local(step.clone, target, tip)
    step.fetch()
    done = outcome.landed(
        step.ledger,
        [(mr, {"gates": [r.to_json() for r in results]}) for mr, _, results in good],
        tip,
        how,
    )
    step.progress.landed.extend(m.id for m in done)
    if done and target == step.rig.branch:  # recorded first: the forge cannot undo a landing
        closing.close_landed(step, done, tip)


def rejected(step: RigStep, mrs: Sequence[MergeRequest], target: str, why: str) -> None:
    """A push the remote refused: when the target moved meanwhile, the batch is tested
    again on its new tip (a few times at most); otherwise a person must look."""
    before = gm.rev(step.clone, f"refs/remotes/origin/{target}")
    with suppress(GitError):
        step.fetch()
    moved = gm.rev(step.clone, f"refs/remotes/origin/{target}") != before
    for mr in mrs:
        if moved and mr.attempts + 1 < outcome.MAX_ATTEMPTS:
            outcome.requeue(
                step.ledger,
                mr,
                f"{target} moved while it was tested; testing again ({why.splitlines()[0]})",
                attempts=mr.attempts + 1,
            )
            step.progress.requeued.append(mr.id)
        else:
            outcome.hold(step.ledger, mr, why, "high", attempts=mr.attempts + 1)
            step.progress.held.append(mr.id)
