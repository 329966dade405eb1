"""The leader's side of gates on workers (`refinery.gates_on = workers`): hand the gates of one
commit to a `gt worker` and wait for what they said.

The commit under test and the target's commit (which may be a convoy's feature branch that
exists only in the leader's clone) are pushed to refs of the step's own on the rig's remote,
`refs/gastown/gates/<step>/<k>` and `refs/gastown/gates/<step>/target`. A job `gastown.gates`
goes to the `gates` queue (or the one of the rig's `worker_labels`) with the rig target as its
lock, so the engine runs one gate job per rig target at a time, on whichever worker takes it.
The worker writes its answer to the ledger (`meta` key `gates.result:<request>`), which the
step, waiting in its thread, reads every half second.

A job no worker has taken yet waits as long as it takes (the merge requests say so in their
note); one taken by a worker that then goes silent past `workers.stalled_seconds`, or that
outlives every command's timeout twice over (each may run on the target too) plus a margin,
ends the step with a sentence: its batch is requeued as any unfinished step's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import procrastinate
from procrastinate.jobs import Status

from gastown.errors import RuntimeFailure
from gastown.git.repo import git
from gastown.git.worktree import clone_lock
from gastown.refinery.gate_runs import Checked, GateJob
from gastown.refinery.gates import Stopped
from gastown.store import Store
from gastown.workers import jobs
from gastown.workers.placement import GATES, queue_for

log = logging.getLogger("gastown.refinery")

GATE_REFS = "refs/gastown/gates"
RESULT_KEY = "gates.result:"
"""The `meta` key prefix of a worker's answer; the request id follows."""
POLL = 0.5
"""Seconds between looks at the ledger for the answer."""
SLACK = 120.0
"""Seconds allowed beyond the gates' own timeouts (fetching, checking out)."""
_STATE = """
SELECT j.status, j.worker_id IS NOT NULL
       AND (w.id IS NULL OR w.last_heartbeat < NOW() - make_interval(secs => ?))
  FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
 WHERE j.id = ?
"""
_OVER = {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.ABORTED}


def gate_refs(step_id: str, k: int) -> tuple[str, str]:
    """The remote refs of the commit under test and of the target, for prefix `k` of a step."""
    return f"{GATE_REFS}/{step_id}/{k}", f"{GATE_REFS}/{step_id}/target"


def delete_refs(repo: Path, refs: list[str]) -> None:
    """Remove `refs` from the rig's remote, if they are there (nothing else is touched)."""
    git("push", "--quiet", "origin", *[f":{r}" for r in refs], cwd=repo, check=False, timeout=300)


class RemoteGates:
    """The gate runner of a PostgreSQL town's leader: gates run on `gt worker`s."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def run(
        self,
        job: GateJob,
        scratch: Path,
        logs: Path,
        store: Store,
        stop: threading.Event,
        told: Callable[[str], None],
    ) -> Checked:
        """Push both commits, queue the job, and wait for a worker's answer."""
        request = f"{job.step_id}-{job.k}-{secrets.token_hex(4)}"
        refs = gate_refs(job.step_id, job.k)
        with clone_lock(job.clone):
            specs = [f"+{job.commit}:{refs[0]}", f"+{job.target}:{refs[1]}"]
            pushed = git("push", "--quiet", "origin", *specs, cwd=job.clone, check=False)
        if pushed.code != 0:
            said = pushed.err.strip().splitlines()
            raise RuntimeFailure(
                "Pushing the commits under test to the rig's remote for a worker failed: "
                f"{said[-1] if said else 'git gave no reason'}."
            )
        try:
            return asyncio.run(self._ask(job, request, store, stop, told))
        finally:
            with clone_lock(job.clone):
                delete_refs(job.clone, list(refs))
            with store.transaction() as tx:
                tx.db.execute("DELETE FROM meta WHERE key = ?", (RESULT_KEY + request,))

    async def _ask(
        self,
        job: GateJob,
        request: str,
        store: Store,
        stop: threading.Event,
        told: Callable[[str], None],
    ) -> Checked:
        app = jobs.job_app(self.db_url)
        await asyncio.to_thread(jobs.ensure_schema, self.db_url)
        async with app.open_async():
            task = app.configure_task(
                jobs.GATES_TASK,
                queue=queue_for(job.labels, GATES),
                lock=f"{job.rig}:{job.target_branch}",
                queueing_lock=request,
            )
            job_id = await task.defer_async(**arguments(job, request))
            try:
                return await self._wait(job, (app, job_id), request, store, stop, told)
            except BaseException:  # nothing waits for it any more
                with contextlib.suppress(Exception):
                    await app.job_manager.cancel_job_by_id_async(job_id, abort=True)
                raise

    async def _wait(
        self,
        job: GateJob,
        queued: tuple[procrastinate.App, int],
        request: str,
        store: Store,
        stop: threading.Event,
        told: Callable[[str], None],
    ) -> Checked:
        app, job_id = queued
        taken_at: float | None = None
        said = ""
        limit = job.timeout * 2 * len(job.commands) + SLACK
        while True:
            answer, status, silent = read(store, request, job_id, job.stalled_seconds)
            if answer is not None:
                return answer
            if stop.is_set():
                raise Stopped
            if status is None or status in _OVER:
                raise RuntimeFailure(
                    f"The worker's gates job for {job.commit[:10]} ended without an answer."
                )
            if status == Status.DOING and taken_at is None:
                taken_at = time.monotonic()
            news = (
                "waiting for a gt worker to take its gates (none has yet)"
                if taken_at is None
                else "its gates run on a gt worker"
            )
            if news != said:
                said = news
                told(news)
            if silent:  # its job ends here, so the next one of the rig target may start
                with contextlib.suppress(Exception):
                    await app.job_manager.finish_job_by_id_async(job_id, Status.FAILED, False)
                raise RuntimeFailure(
                    f"The worker running the gates of {job.commit[:10]} stopped answering "
                    f"for over {job.stalled_seconds:.0f} s."
                )
            if taken_at is not None and time.monotonic() - taken_at > limit:
                raise RuntimeFailure(
                    f"The worker running the gates of {job.commit[:10]} gave no answer "
                    f"within {limit:.0f} s."
                )
            await asyncio.sleep(POLL)


def read(
    store: Store, request: str, job_id: int, window: float
) -> tuple[Checked | None, Status | None, bool]:
    """The worker's answer (None: not yet), the job's status (None: gone) and whether the
    worker that took it went silent. An answer that is an error is raised."""
    with store.reader() as tx:
        text = tx.get_meta(RESULT_KEY + request)
        row = tx.db.execute(_STATE, (window, job_id)).fetchone()
    if text is not None:
        data: dict[str, Any] = json.loads(text)
        if "error" in data:
            raise RuntimeFailure(str(data["error"]))
        return Checked.from_json(data), None, False
    if row is None:
        return None, None, False
    return None, Status(str(row[0])), bool(row[1])


def arguments(job: GateJob, request: str) -> dict[str, Any]:
    """The job's arguments (plain JSON): what the worker needs besides its own settings."""
    return {
        "request": request,
        "rig": job.rig,
        "target_branch": job.target_branch,
        "step_id": job.step_id,
        "k": job.k,
        "commit": job.commit,
        "target": job.target,
        "commands": list(job.commands),
        "skip": list(job.skip),
    }
