"""One checkup of a town: every check in order, and with `fix` the safe repairs, then a second
look at what was repaired, so the report says how things stand afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from gastown import config
from gastown.doctor import (
    FAIL,
    OK,
    WARN,
    Finding,
    Patient,
    files,
    ledger,
    ok,
    online,
    programs,
    worktrees,
)
from gastown.errors import GastownError
from gastown.model import ACTIVE_RUN_STATUSES, RUNNING, Rig
from gastown.record import Record, field
from gastown.sections import sections
from gastown.townrun import state


class Report(Record):
    findings: list[Finding]
    """Every finding, in the order checked."""
    fixed: list[str] = field(default_factory=list)
    """What `--fix` did, in sentences."""

    @property
    def failed(self) -> bool:
        """Whether any check failed (`gt doctor` then exits non-zero)."""
        return any(f.status == FAIL for f in self.findings)

    def to_json(self) -> dict[str, object]:
        """The report as `gt doctor --json` prints it: counts by status, then each check."""
        counts = {s: sum(f.status == s for f in self.findings) for s in ("ok", "warn", "fail")}
        return {
            "ok": not self.failed,
            "counts": counts,
            "checks": [f.to_json() for f in self.findings],
            "fixed": self.fixed,
        }


class Ledger(Record):
    """What the checks read from the ledger, in one reader transaction."""

    rigs: list[Rig]
    """The town's rigs."""
    expected: dict[str, dict[str, worktrees.Expected]]
    """Rig → polecat → what the ledger says of its worktree there."""
    in_progress: int = 0
    """Beads in progress."""
    active_runs: int = 0
    """Runs queued, starting or running."""


def checkup(
    patient: Patient,
    *,
    fix: bool = False,
    online_too: bool = False,
    git_running: Callable[[], bool] | None = None,
) -> Report:
    """Look at the town; with `fix`, repair what is safe to repair and look again."""
    running = git_running or (lambda: files.git_running_in(patient.folder))
    findings = _local(patient, running)
    done: list[str] = []
    if fix:
        for finding in findings:
            if finding.status != OK and finding.repair is not None:
                done.extend(_repair(finding))
        if done:
            findings = _local(patient, running)
    remote = asyncio.run(_programs(patient, online_too, _layers(patient, findings)))
    order = ["database", "git", "runtime", "town process", "run files", "git locks"]
    everything = [*findings, *remote]

    def rank(f: Finding) -> int:
        head = f.check.split(" ")[0] if f.check.startswith("runtime ") else f.check
        return order.index(head) if head in order else len(order)

    everything.sort(key=rank)  # stable: the worktrees, disk and endpoints keep their order
    return Report(everything, done)


def _repair(finding: Finding) -> list[str]:
    assert finding.repair is not None
    try:
        said = finding.repair()
    except (GastownError, OSError) as exc:
        message = exc.message if isinstance(exc, GastownError) else str(exc)
        return [f"Could not repair {finding.check}: {message}"]
    finding.fixed = said
    return said


def _local(patient: Patient, git_running: Callable[[], bool]) -> list[Finding]:
    """The checks of what is on this machine and in the ledger, each of which may repair."""
    town = patient.folder
    found = [ledger.database(patient)]
    seen: Ledger | None = _read(patient) if found[0].status == OK else None
    address = state.read_address(town)
    if seen is None:
        found.append(ledger.unchecked("town process", "the ledger cannot be read"))
    else:
        found.append(
            ledger.town_process(
                address.pid if address else None,
                address.url if address else "",
                seen.in_progress,
                seen.active_runs,
            )
        )
    found.append(files.pid_file(town))
    rigs = seen.rigs if seen else []
    found.extend(files.leftovers(town, [r.name for r in rigs]))
    clones = [town / r.path for r in rigs]
    found.extend(files.git_locks(clones, patient.now, git_running))
    if seen is None:
        found.append(ledger.unchecked("worktrees", "the ledger cannot be read"))
    for rig in rigs:
        found.extend(
            worktrees.check(
                rig.name,
                (town / rig.path).resolve(),
                town / "worktrees" / rig.name,
                seen.expected.get(rig.name, {}) if seen else {},
            )
        )
    found.extend(_pushes(rig) for rig in rigs)
    found.append(files.disk(town))
    return found


def _pushes(rig: Rig) -> Finding:
    """A rig whose remote is a local checkout with its target checked out: no landing takes."""
    from gastown.git import refusals

    path = refusals.checked_out_target(rig.url, rig.branch)
    if path is None:
        return ok(f"pushes {rig.name}", f"{rig.url} takes pushes to {rig.branch}.")
    return Finding(
        f"pushes {rig.name}",
        WARN,
        refusals.checkout_problem(path, rig.branch),
        refusals.checkout_fix(path),
    )


def _read(patient: Patient) -> Ledger:
    store = patient.town.open_store()
    try:
        with store.reader() as tx:
            rigs = tx.list_rigs()
            polecats = tx.list_polecats()
            running = tx.list_runs(statuses=[RUNNING])
            active = tx.list_runs(statuses=ACTIVE_RUN_STATUSES)
            counts = tx.count_by_status()
            expected: dict[str, dict[str, worktrees.Expected]] = {}
            for rig in rigs:
                folder = patient.folder / "worktrees" / rig.name
                mine = expected.setdefault(rig.name, {})
                for p in polecats:
                    here = p.rig == rig.name
                    if here or (
                        (folder / p.name).exists()
                        and tx.list_runs(rig=rig.name, polecat=p.name, limit=1)
                    ):
                        mine[p.name] = worktrees.Expected(p.name, current=here)
            for run in running:
                want = expected.setdefault(run.rig, {}).setdefault(
                    run.polecat, worktrees.Expected(run.polecat, current=True)
                )
                want.run_id, want.branch = run.id, run.branch
    finally:
        store.close()
    return Ledger(rigs, expected, counts.get("in_progress", 0), len(active))


def _layers(patient: Patient, findings: list[Finding]) -> dict[str, config.Resolved]:
    """The resolved settings of the town and of each rig (when the ledger can be read)."""
    town = patient.town
    layers = {"town": config.resolve(town.settings, None, patient.environ)}
    if findings[0].status != OK:
        return layers
    store = town.open_store()
    try:
        with store.reader() as tx:
            for rig in tx.list_rigs():
                layers[f"rig {rig.name}"] = config.resolve(
                    town.settings, rig.settings, patient.environ
                )
    finally:
        store.close()
    return layers


async def _programs(
    patient: Patient, online_too: bool, layers: dict[str, config.Resolved]
) -> list[Finding]:
    used = programs.runtimes_in_use({k: sections(v).agents.runtime for k, v in layers.items()})
    path, timeout = patient.path, patient.program_timeout
    git_found, runtime_found = await asyncio.gather(
        programs.git(path, timeout), programs.runtimes(used, path, timeout)
    )
    found = [git_found, *runtime_found]
    if online_too:
        found.extend(await online.check(_endpoints(patient, layers)))
    return found


def _endpoints(patient: Patient, layers: dict[str, config.Resolved]) -> list[online.Endpoint]:
    by_target: dict[tuple[str, str], online.Endpoint] = {}
    for layer, values in layers.items():
        agents = sections(values).agents
        target = online.endpoint_of(
            agents.runtime,
            agents.model_base_url,
            agents.model_api_key,
            dict(agents.env_vars),
            patient.environ,
        )
        if target is not None:
            found = by_target.setdefault(target, online.Endpoint(*target, []))
            found.used_by.append(layer)
    return list(by_target.values())


def patient_of(town_path: Path, environ: dict[str, str], now: float) -> Patient:
    """A patient for the town at `town_path`, its PATH the running town process's own."""
    from gastown.town import load

    town = load(town_path)
    address = state.read_address(town.path)
    path = programs.town_path(environ, address.pid if address else None)
    return Patient(town, environ, path, now)
