"""A worker's side of gates on workers: the task `gastown.gates`.

The worker fetches the two refs the leader pushed into its clone of the rig (cloning it into
its home first if need be), resets a scratch worktree of its own (one per rig target, kept
between jobs so build caches survive) and runs the refinery's own `check` there, with the
timeout and environment the rig's settings give. It removes the refs from the remote, then
writes the answer to the ledger for the waiting step: the results, or a sentence saying why
there are none. A job cancelled (the leader stopped, or the worker drains) kills its gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gastown import config
from gastown.errors import GastownError
from gastown.forge.gitauth import authorize_url
from gastown.git import merge as gm
from gastown.git.repo import git
from gastown.git.worktree import clone_lock
from gastown.model import Rig
from gastown.refinery.gate_runs import Checked, GateJob, check
from gastown.refinery.gates import Stopped
from gastown.sections import sections
from gastown.store import Store, hosts, open_store
from gastown.workers.gate_requests import RESULT_KEY, delete_refs, gate_refs

log = logging.getLogger("gastown.worker")


class GateWork:
    """The task `gastown.gates` of one `gt worker`."""

    def __init__(self, db_url: str, home: Path, name: str, environ: Mapping[str, str]) -> None:
        self.db_url, self.home, self.name = db_url, home, name
        self.environ = dict(environ)

    async def run(self, **job: Any) -> None:
        """Run the gates of one commit (the job's arguments: `gate_requests.arguments`)."""
        stop = threading.Event()
        done = asyncio.ensure_future(asyncio.to_thread(self.answer, job, stop))
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:  # aborted by the leader, or the worker is going
            stop.set()
            with contextlib.suppress(Exception):
                await done
            raise

    def answer(self, job: dict[str, Any], stop: threading.Event) -> None:
        """Run the gates and write the answer (results, or why there are none)."""
        store = open_store(self.db_url)
        try:
            try:
                checked = self.gates(store, job, stop).to_json()
                answer: dict[str, Any] = {**checked, "worker": self.name}
            except GastownError as exc:
                answer = {"error": str(exc), "worker": self.name}
            with store.transaction() as tx:
                tx.set_meta(RESULT_KEY + str(job["request"]), json.dumps(answer))
        except Stopped:
            log.info("gates of %s stopped", str(job["commit"])[:10])
        finally:
            store.close()

    def gates(self, store: Store, job: dict[str, Any], stop: threading.Event) -> Checked:
        """The refinery's `check` on the job's commit, in this worker's scratch worktree."""
        with store.reader() as tx:
            rig = tx.get_rig(str(job["rig"]))
            record = hosts.town_record(tx)
        if rig is None:
            raise GastownError(f"The town has no rig {job['rig']} any more.")
        layer = record[2] if record is not None else {}
        settings = config.resolve(layer, rig.settings, self.environ)
        read = sections(settings)
        with contextlib.suppress(GastownError):  # no token: the fetch says what went wrong
            authorize_url(rig.url, settings, self.environ)
        refs = list(gate_refs(str(job["step_id"]), int(job["k"])))
        clone = self.fetch(rig, refs)
        try:
            scratch = self.scratch(clone, rig.name, str(job["target_branch"]))
            logs = self.home / "logs" / "gates" / rig.name / str(job["step_id"])
            gate_job = GateJob(
                rig=rig.name,
                target_branch=str(job["target_branch"]),
                step_id=str(job["step_id"]),
                k=int(job["k"]),
                commit=str(job["commit"]),
                target=str(job["target"]),
                commands=[str(c) for c in job["commands"]],
                skip=[str(c) for c in job["skip"]],
                timeout=float(read.refinery.gate_timeout_seconds),
                env=dict(read.agents.env_vars),
            )
            return check(gate_job, scratch, logs / f"top-{job['k']}", stop)
        finally:
            with clone_lock(clone):
                for ref in refs:
                    git("update-ref", "-d", ref, cwd=clone, check=False)
                delete_refs(clone, refs)

    def fetch(self, rig: Rig, refs: list[str]) -> Path:
        """The rig's clone in this worker's home (cloned once), with `refs` fetched."""
        clone = self.home / rig.path
        with clone_lock(clone):
            if not (clone / ".git").exists():
                clone.parent.mkdir(parents=True, exist_ok=True)
                git("clone", "--quiet", "--branch", rig.branch, rig.url, str(clone), timeout=1800)
            specs = [f"+{r}:{r}" for r in refs]
            got = git("fetch", "--quiet", "origin", *specs, cwd=clone, check=False, timeout=600)
        if got.code != 0:
            said = got.err.strip().splitlines()
            raise GastownError(
                f"Worker {self.name} could not fetch the commits under test: "
                f"{said[-1] if said else 'git gave no reason'}."
            )
        return clone

    def scratch(self, clone: Path, rig: str, target_branch: str) -> Path:
        """This worker's scratch worktree for one rig target (the engine's lock lets one job
        of a target run at a time)."""
        slug = hashlib.sha256(target_branch.encode()).hexdigest()[:12]
        with clone_lock(clone):
            return gm.scratch(clone, self.home / "worktrees" / rig / ".gates" / slug)
