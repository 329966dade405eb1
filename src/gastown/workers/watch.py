"""The leader's side of the job engine: where a run goes, sending it, and taking runs back
from workers that went silent.

Where a run goes is `placement`'s to say.

Taking back: procrastinate marks a job stalled once its worker's heartbeat is older than the
window. Its run is then ended `lost` in the ledger (its attempt given back, its bead requeued),
and the job is closed. The ledger ending is the fence: every write a run makes is refused once
the run has ended, so the silent worker, should it wake, records nothing.
"""

from __future__ import annotations

import asyncio
import logging

from procrastinate.jobs import Status

from gastown.polecat.finish import end_lost
from gastown.services.ledger import Ledger
from gastown.store.rows import ACTIVE_RUNS
from gastown.workers import jobs

log = logging.getLogger("gastown.workers")

_ACTIVE = ACTIVE_RUNS
ORPHANS = f"""
SELECT r.id, r.queue, r.host FROM runs r
 WHERE r.queue IS NOT NULL AND r.status IN ({_ACTIVE})
   AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                    WHERE j.queueing_lock = r.id AND j.status IN ('todo', 'doing'))
"""
"""Runs meant for a worker with no live job: never sent (the leader died first), or whose
job ended without the run being recorded."""


class Watch:
    """The job engine as the leader uses it."""

    def __init__(self, ledger: Ledger, db_url: str) -> None:
        self.ledger = ledger
        self.app = jobs.job_app(db_url)
        self.db_url = db_url
        self.opened = False

    async def open(self) -> None:
        """Make the engine's tables if need be and open its connection pool."""
        await asyncio.to_thread(jobs.ensure_schema, self.db_url)
        await self.app.open_async()
        self.opened = True

    async def close(self) -> None:
        """Close the pool."""
        if self.opened:
            await self.app.close_async()
            self.opened = False

    async def send(self, run_id: str, queue: str) -> None:
        """Queue a run for a worker (nothing if it is queued already)."""
        await jobs.defer(self.app, run_id, queue)

    async def check(self, window: float) -> int:
        """Take back the runs of silent workers and resend runs with no job; how many runs
        were taken back."""
        taken = 0
        stalled = await self.app.job_manager.get_stalled_jobs(
            task_name=jobs.TASK, seconds_since_heartbeat=window
        )
        for job in stalled:
            run_id = str(job.task_kwargs.get("run_id", ""))
            taken += self._take_back(run_id, "stopped answering")
            await self.app.job_manager.finish_job(job, Status.FAILED, delete_job=False)
        with self.ledger.store.reader() as tx:
            orphans = tx.db.execute(ORPHANS).fetchall()
        for run_id, queue, host in orphans:
            if host is None:
                await self.send(str(run_id), str(queue))
            else:
                taken += self._take_back(str(run_id), "ended its job without recording the run")
        return taken

    def _take_back(self, run_id: str, why: str) -> int:
        with self.ledger.store.reader() as tx:
            run = tx.get_run(run_id)
        if run is None or not run.active:
            return 0
        why = f"its worker {run.host or '(none yet)'} {why}"
        log.warning("run %s: %s; retrying it elsewhere", run_id, why)
        end_lost(self.ledger, run, why)
        return 1
