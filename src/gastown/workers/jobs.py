"""The job engine: procrastinate over the town's own PostgreSQL.

One task, `gastown.polecat`, carries one run id (another, `gastown.gates`, the refinery's gates
of one commit: see `gate_requests`). Its queue says which workers may take it: a
rig that asks for labels sends its runs to `polecats:<label>+<label>`, and a worker listens on
the plain queue and on every combination of its own labels. The job's queueing lock is the run
id, so a run is never queued twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import procrastinate
import procrastinate.exceptions
import psycopg
from procrastinate.schema import SchemaManager

from gastown.workers.placement import GATES, QUEUE, queue_for

TASK = "gastown.polecat"
"""The task that runs one polecat run (argument: `run_id`)."""
GATES_TASK = "gastown.gates"
"""The task that runs the refinery's gates on one commit (`workers.gate_work`)."""
SCHEMA_LOCK = 0x6761_7375
"""Advisory lock key taken while the job engine's tables are made (beside the migrations')."""


def queues_of(labels: Iterable[str]) -> list[str]:
    """Every queue a worker with `labels` takes jobs from: polecat runs, then gates."""
    have = sorted(set(labels))
    found = []
    for base in (QUEUE, GATES):
        found.append(base)
        for size in range(1, len(have) + 1):
            found.extend(queue_for(c, base) for c in itertools.combinations(have, size))
    return found


def job_app(db_url: str) -> procrastinate.App:
    """A procrastinate app on the town's database (open it before use)."""
    return procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=db_url))


def ensure_schema(db_url: str) -> None:
    """Make the job engine's tables in the town's database, once (under a lock, so two hosts
    starting together do not both try)."""
    with psycopg.connect(db_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", (SCHEMA_LOCK,))
        found = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if found is None or found[0] is None:
            conn.execute(SchemaManager.get_schema())


async def defer(app: procrastinate.App, run_id: str, queue: str) -> bool:
    """Queue `run_id` for a worker; False if it is already queued."""
    task = app.configure_task(TASK, queue=queue, queueing_lock=run_id)
    try:
        await task.defer_async(run_id=run_id)
    except procrastinate.exceptions.AlreadyEnqueued:
        return False
    return True
