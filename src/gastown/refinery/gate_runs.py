"""Where the gates of one commit run: here, in the step's scratch worktree, or on a host that a
PostgreSQL town's leader hands them to (`refinery.gates_on = workers`).

A gate runner is chosen once per step. Either one runs the same `check`: the gates on the
commit, and a failing one again on the untouched target; the runner only decides where. The
remote one is the job engine's and lives above the refinery (`gastown.workers.gate_requests`):
the town process hands it to the refinery through the step's seams.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from gastown.git import merge as gm
from gastown.record import Record, field
from gastown.refinery.gates import GateResult, first_failure, run_gate, run_gates
from gastown.sections import Refinery
from gastown.store import Store

log = logging.getLogger("gastown.refinery")


class GateJob(Record):
    """The gates of one commit of a step, with everything a host needs to run them."""

    rig: str
    """The rig's name."""
    target_branch: str
    """The branch the stack lands on (one step per rig target runs gates at a time)."""
    step_id: str
    """The refinery step's id."""
    k: int
    """Which prefix of the stack: its top commit is `commit`."""
    commit: str
    """The commit under test."""
    target: str
    """The target's commit, where a failing gate is run again."""
    commands: list[str]
    """The rig's gate commands, in order."""
    skip: list[str] = field(default_factory=list)
    """Commands already known to fail on the target: not run again."""
    timeout: float = 1800.0
    """Seconds one command may take."""
    env: dict[str, str] = field(default_factory=dict)
    """Added to each command's environment (`env_vars`)."""
    clone: Path = Path()
    """The step's clone, which holds both commits."""
    labels: list[str] = field(default_factory=list)
    """Labels a worker must have to take the rig's work (`worker_labels`)."""
    stalled_seconds: float = 30.0
    """Silence after which a worker running the gates is taken for lost."""


class Checked(Record):
    """What the gates of one commit said."""

    results: list[GateResult]
    """Each command run on the commit, in order (an excused failure marked so)."""
    on_target: dict[str, GateResult] = field(default_factory=dict)
    """Each command that failed on the target too: its run there."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form a worker writes to the ledger."""
        return {
            "results": [r.to_json() for r in self.results],
            "on_target": {c: r.to_json() for c, r in self.on_target.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Checked:
        """Read back what `to_json` wrote."""
        return cls(
            [GateResult(**r) for r in data["results"]],
            {c: GateResult(**r) for c, r in data["on_target"].items()},
        )


class GateRunner(Protocol):
    """Runs the gates of one commit somewhere."""

    def run(
        self,
        job: GateJob,
        scratch: Path,
        logs: Path,
        store: Store,
        stop: threading.Event,
        told: Callable[[str], None],
    ) -> Checked:
        """The gates of `job.commit`; `told` hears a sentence on what it waits for."""
        ...


def check(job: GateJob, scratch: Path, logs: Path, stop: threading.Event | None) -> Checked:
    """Run the gates on `job.commit` in `scratch`, output under `logs`; a failure is run again
    on the target, and one that fails there too is excused and the remaining gates run on."""
    results: list[GateResult] = []
    on_target: dict[str, GateResult] = {}
    while True:
        gm.reset(scratch, job.commit)
        skip = frozenset(job.skip) | on_target.keys()
        got = run_gates(job.commands, scratch, logs, job.timeout, job.env, skip, stop)
        results.extend(got)
        failed = first_failure(got)
        if failed is None:
            return Checked(results, on_target)
        gm.reset(scratch, job.target)
        index = job.commands.index(failed.command) + 1
        log_file = logs / f"target-{index}.log"
        again = run_gate(failed.command, scratch, log_file, job.timeout, job.env, stop)
        if again.ok:
            return Checked(results, on_target)
        failed.excused = True
        on_target[failed.command] = again


class LocalGates:
    """The gates in the step's own scratch worktree, on this host."""

    def run(
        self,
        job: GateJob,
        scratch: Path,
        logs: Path,
        store: Store,
        stop: threading.Event,
        told: Callable[[str], None],
    ) -> Checked:
        """Run `check` here."""
        return check(job, scratch, logs, stop)


LOCAL = LocalGates()
"""The runner of a town whose gates run in its own process."""
_TOLD: set[str] = set()


def runner_for(rig: str, refinery: Refinery, remote: GateRunner | None) -> GateRunner:
    """The runner `refinery.gates_on` asks for: `remote` for `workers` when the town has one,
    else (saying so once per rig in the log) this process."""
    if refinery.gates_on != "workers":
        return LOCAL
    if remote is not None:
        return remote
    if rig not in _TOLD:
        _TOLD.add(rig)
        log.warning(
            "rig %s: refinery.gates_on is workers, but this process hands no work to workers "
            "(a SQLite town, or `gt refinery run`); its gates run here",
            rig,
        )
    return LOCAL
