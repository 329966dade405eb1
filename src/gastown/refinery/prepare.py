"""The prepare stage: the batch is put onto the fetched target one merge request at a time in
the scratch worktree; one that conflicts becomes a "Resolve conflicts" bead (or an
escalation) and the rest go on without it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gastown.git import merge as gm
from gastown.model import MergeRequest
from gastown.refinery import outcome

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep


def stack(
    step: RigStep, scratch: Path, target: str, batch: Sequence[MergeRequest]
) -> list[tuple[MergeRequest, str]]:
    """Put each merge request onto the target in turn; the commit after each one."""
    gm.reset(scratch, target)
    stacked = []
    for mr in batch:
        applied = gm.put_on(
            scratch,
            mr.head_commit,
            f"Merge {mr.branch}: {step.title_of(mr)}",
            step.identity,
            method=step.sections.refinery.merge_method,
            fast_forward=step.sections.refinery.fast_forward,
        )
        if applied.commit is not None:
            stacked.append((mr, applied.commit))
        else:
            conflict(step, mr, target, applied.conflicts)
    return stacked


def conflict(step: RigStep, mr: MergeRequest, target: str, files: Sequence[str]) -> None:
    listed = "\n".join(f"- {f}" for f in files) or "- (git named none)"
    why = f"it conflicts with {mr.target} in {len(files)} file(s): {', '.join(files)[:300]}"
    if not step.sections.refinery.auto_resolve_conflicts:
        outcome.hold(step.ledger, mr, why[0].upper() + why[1:] + ".")
        step.progress.held.append(mr.id)
        return
    context = gm.conflict_context(step.clone, target, mr.head_commit, files)
    body = (
        f"Merge request {mr.id} (branch `{mr.branch}`) no longer merges cleanly onto "
        f"`{mr.target}`. On this branch, run `git fetch origin` and "
        f"`git merge origin/{mr.target}`, resolve the conflicts keeping the intent of both "
        f"sides, run the tests, and commit.\n\nConflicting files:\n{listed}\n\n{context}"
    )
    outcome.send_back(
        step.ledger,
        mr,
        why,
        f"Resolve conflicts: {step.title_of(mr)}",
        body,
        ["conflict"],
        step.sections.refinery.max_reworks,
    )
    step.progress.reworked.append(mr.id)
