"""The town's processes as people see them: who leads, who stands by, each worker's slots and
runs, and why a run meant for a worker has not started.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gastown import config
from gastown.model import QUEUED, Run
from gastown.sections import sections
from gastown.services.ledger import Ledger
from gastown.store import Tx
from gastown.store import hosts as stored


def window(settings: Mapping[str, Any], environ: Mapping[str, str]) -> float:
    """Seconds of silence after which a worker counts as gone."""
    return float(sections(config.resolve(settings, None, environ)).workers.stalled_seconds)


def listed(tx: Tx, now: datetime, silence: float) -> list[dict[str, Any]]:
    """Every registered process, with its runs and whether it still beats."""
    running = stored.running(tx)
    return [
        {
            **h.to_json(),
            "running": running.get(h.name, 0),
            "alive": h.alive(now, silence),
        }
        for h in stored.all_hosts(tx)
    ]


def town_hosts(
    ledger: Ledger, settings: Mapping[str, Any], environ: Mapping[str, str]
) -> list[dict[str, Any]]:
    """`listed`, read now."""
    with ledger.store.reader() as tx:
        return listed(tx, ledger.clock.now(), window(settings, environ))


def describe(host: Mapping[str, Any]) -> str:
    """One line for `gt status`: `leader town@db1:4121`, `worker w1 on db2: 2 of 4 slots`."""
    age = "" if host["alive"] else " (silent)"
    if host["role"] != stored.WORKER:
        return f"{host['role']} {host['name']}{age}"
    labels = f", labels {', '.join(host['labels'])}" if host["labels"] else ""
    drain = ", draining" if host["draining"] else ""
    return (
        f"worker {host['name']} on {host['hostname']} (pid {host['pid']}): "
        f"{host['running']} of {host['slots']} slots{labels}{drain}; "
        f"last heartbeat {host['heartbeat_at'][11:19]} UTC{age}"
    )


def waiting_for_worker(tx: Tx, run: Run, now: datetime, silence: float) -> str | None:
    """Why a run queued for a worker has not been taken, in words (None if it is not
    waiting for one)."""
    if run.queue is None or run.host is not None or run.status != QUEUED:
        return None
    found = listed(tx, now, silence)
    workers = [h for h in found if h["role"] == stored.WORKER and h["alive"]]
    wanted = run.queue.partition(":")[2].split("+") if ":" in run.queue else []
    fit = [w for w in workers if set(wanted) <= set(w["labels"]) and not w["draining"]]
    if not workers:
        return "waiting for a worker: none is up (`gt worker --db URL` starts one)"
    if not fit:
        return f"waiting for a worker with labels {', '.join(wanted)}: none of those up has them"
    busy = sum(min(w["running"], w["slots"]) for w in fit)
    slots = sum(w["slots"] for w in fit)
    return f"waiting for a free worker slot: {busy} of {slots} busy on {len(fit)} worker(s)"


def bead_waiting(
    ledger: Ledger, bead_id: str, settings: Mapping[str, Any], environ: Mapping[str, str]
) -> str | None:
    """Why the bead's run has not started, when it waits for a worker (else None)."""
    with ledger.store.reader() as tx:
        active = [r for r in tx.list_runs(bead_id=bead_id) if r.active and r.queue]
        if not active:
            return None
        return waiting_for_worker(tx, active[-1], ledger.clock.now(), window(settings, environ))
