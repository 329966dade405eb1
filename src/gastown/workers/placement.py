"""Where a run goes: a worker's job queue, or the town process.

With `workers.placement = auto` a run goes to the job queue while some worker is up and not
draining (or when its rig asks for worker labels, which only a worker has); `workers` always
queues; `town` never does. Capacity stays the reconciler's: `max_polecats_per_rig` counts runs
wherever they run, and a worker takes a job only into a free slot. Imports no job engine: a
SQLite town never needs one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from gastown import config
from gastown.sections import sections
from gastown.services.ledger import Ledger
from gastown.store import hosts

QUEUE = "polecats"
GATES = "gates"
"""The queue of the refinery's gates (`refinery.gates_on = workers`)."""


def queue_for(labels: Iterable[str], base: str = QUEUE) -> str:
    """The queue (of polecat runs, or of `base`'s jobs) of a rig that asks for `labels` (all
    of them) on its worker."""
    wanted = sorted(set(labels))
    return base if not wanted else f"{base}:{'+'.join(wanted)}"


def live_workers(ledger: Ledger, now: datetime, window: float) -> list[hosts.Host]:
    """Workers that beat within the window and are not draining."""
    with ledger.store.reader() as tx:
        found = hosts.all_hosts(tx)
    return [h for h in found if h.role == hosts.WORKER and h.alive(now, window) and not h.draining]


def placer(
    town_layer: Mapping[str, Any],
    rig_layers: Mapping[str, Mapping[str, Any]],
    environ: Mapping[str, str],
    workers: list[hosts.Host],
) -> Callable[[str], str | None]:
    """Which queue a run of each rig goes to (None: the town process runs it)."""

    def queue_of(rig: str) -> str | None:
        resolved = config.resolve(town_layer, rig_layers.get(rig, {}), environ)
        chosen = sections(resolved).workers
        if chosen.placement == "town":
            return None
        if chosen.placement == "auto" and not workers and not chosen.labels:
            return None
        return queue_for(chosen.labels)

    return queue_of
