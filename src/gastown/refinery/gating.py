"""The gates stage: the rig's gates run once on the top of the stack. A failure is re-run on
the untouched target; failing there too, it is excused (a bug bead, not blame). A red stack is
bisected over its prefixes: what comes before the culprit may land, the culprit is reworked
with the tail of its log, what follows is tested again without it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gastown.limits import printable
from gastown.model import MergeRequest
from gastown.refinery import outcome, queue
from gastown.refinery.gate_runs import GateJob
from gastown.refinery.gates import GateResult, first_failure
from gastown.services import beads
from gastown.services.beads import NewBead
from gastown.store import BeadFilter

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep


def gate(
    step: RigStep, scratch: Path, target: str, stack: list[tuple[MergeRequest, str]]
) -> list[tuple[MergeRequest, str, list[GateResult]]]:
    """Run the gates over the stack; what may land, each with the gate results that let
    it. The culprit of a red stack is reworked and whatever follows it requeued."""
    commands: list[str] = list(step.sections.refinery.gates)
    if not commands:
        return [(mr, commit, []) for mr, commit in stack]
    excused: dict[str, GateResult] = {}
    runs: dict[int, list[GateResult]] = {}

    def passes(k: int) -> bool:
        mr, commit = stack[k - 1]
        runs[k] = run_on(step, scratch, commit, commands, (mr.target, target), excused, k)
        return first_failure(runs[k]) is None

    if passes(len(stack)):
        if excused and not step.sections.refinery.land_on_preexisting_failure:
            for mr, _ in stack:
                outcome.hold(
                    step.ledger,
                    mr,
                    f"the gate `{next(iter(excused))}` fails on {mr.target} itself, and "
                    "refinery.land_on_preexisting_failure is off.",
                )
                step.progress.held.append(mr.id)
            return []
        return [(mr, commit, runs[len(stack)]) for mr, commit in stack]
    bad = 1 if len(stack) == 1 else queue.first_bad(len(stack), passes)
    culprit, _ = stack[bad - 1]
    gates_failed(step, culprit, runs[bad])
    for mr, _ in stack[bad:]:
        outcome.requeue(step.ledger, mr, f"tested again without {culprit.id}, whose gates failed")
        step.progress.requeued.append(mr.id)
    good = stack[: bad - 1]
    return [(mr, commit, runs.get(bad - 1) or runs[len(stack)]) for mr, commit in good]


def run_on(
    step: RigStep,
    scratch: Path,
    commit: str,
    commands: Sequence[str],
    onto: tuple[str, str],
    excused: dict[str, GateResult],
    k: int,
) -> list[GateResult]:
    """The gates on `commit`, run where the step's gate runner runs them; `onto` is the target
    branch and its commit. A failure that the untouched target shares is excused (and a bug
    bead filed for it once) and the remaining gates run on."""
    branch, target = onto
    job = GateJob(
        rig=step.rig.name,
        target_branch=branch,
        step_id=step.step_id,
        k=k,
        commit=commit,
        target=target,
        commands=list(commands),
        skip=list(excused),
        timeout=float(step.sections.refinery.gate_timeout_seconds),
        env=dict(step.sections.agents.env_vars),
        clone=step.clone,
        labels=list(step.sections.workers.labels),
        stalled_seconds=float(step.sections.workers.stalled_seconds),
    )
    logs = step.town.path / "logs" / "refinery" / step.rig.name / step.step_id / f"top-{k}"
    checked = step.gates.run(job, scratch, logs, step.ledger.store, step.seams.stop, step.told)
    for command, again in checked.on_target.items():
        excused[command] = again
        failed = next(r for r in checked.results if r.command == command and r.excused)
        preexisting(step, failed, target)
    return checked.results


def preexisting(step: RigStep, failed: GateResult, target: str) -> None:
    title = printable(f"Gate fails on {step.rig.branch}: {failed.command}", one_line=True)[:200]
    with step.ledger.store.transaction() as tx:
        found = tx.list_beads(
            BeadFilter(rig=step.rig.name, statuses=["open", "in_progress"], limit=None)
        )
        if any(b.title == title for b in found):
            return
    beads.create(
        step.ledger,
        NewBead(
            title=title,
            body=printable(
                f"The refinery's gate `{failed.command}` fails on `{step.rig.branch}` at "
                f"{target[:10]} without any merge request on top, so it is not blamed on "
                f"one. Make it pass.\n\nThe end of its output:\n\n```\n{failed.log_tail}\n```"
            ),
            type="bug",
            priority=1,
            labels=["gate"],
            rig=step.rig.name,
        ),
        reason="a gate fails on the target itself",
    )


def gates_failed(step: RigStep, mr: MergeRequest, results: list[GateResult]) -> None:
    failed = first_failure(results)
    assert failed is not None
    why = f"the gate `{failed.command}` failed (exit {failed.exit})"
    gates = [r.to_json() for r in results]
    body = (
        f"Merge request {mr.id} (branch `{mr.branch}`, onto `{mr.target}`) fails the "
        f"gate `{failed.command}`; it passes on `{mr.target}` without this change. Fix "
        f"the change on this branch and commit; the merge request is tested again when "
        f"you are done.\n\nThe end of its output:\n\n```\n{failed.log_tail}\n```"
    )
    outcome.send_back(
        step.ledger,
        mr,
        why,
        f"Rework: {step.title_of(mr)}",
        body,
        ["gate"],
        step.sections.refinery.max_reworks,
        gates=gates,
    )
    step.progress.reworked.append(mr.id)
