"""Races between processes: eight workers started together on one store, for the
concurrency tests (`race`)."""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from collections.abc import Callable
from typing import Any

WORKERS = 8
"""Processes in a race."""
HANG_LIMIT = 120
"""Seconds before a race that never finishes is reported as hung (a guard, not a measure)."""

SPAWN = multiprocessing.get_context("spawn")

Start = Callable[[], None]
"""Called by a worker to wait until every worker is ready; the race begins when all are."""


def _run(
    task: Callable[..., Any], url: str, index: int, barrier: Any, results: Any, args: Any
) -> None:
    try:
        outcome = ("ok", task(url, index, lambda: barrier.wait(HANG_LIMIT), *args))
    except threading.BrokenBarrierError:
        outcome = ("released", f"worker {index} stopped: another worker failed")
    except BaseException:
        barrier.abort()  # release the others rather than leave them waiting for us
        outcome = ("error", f"worker {index}:\n{traceback.format_exc()}")
    results.put((index, *outcome))


def race(task: Callable[..., Any], url: str, *args: Any) -> list[Any]:
    """Run `task(url, index, start, *args)` in eight processes at once; their results by index."""
    barrier = SPAWN.Barrier(WORKERS)
    results = SPAWN.Queue()
    workers = [
        SPAWN.Process(target=_run, args=(task, url, i, barrier, results, args), daemon=True)
        for i in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes = sorted(results.get(timeout=HANG_LIMIT) for _ in workers)
    finally:
        for worker in workers:  # each has reported (or hung): it has only to exit
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
                worker.join()
    errors = [value for _, status, value in outcomes if status == "error"]
    assert not errors, "\n".join(errors)
    assert all(status == "ok" for _, status, _ in outcomes)
    return [value for _, _, value in outcomes]
