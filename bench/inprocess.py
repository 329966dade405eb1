"""One `gt` command inside a fresh interpreter, timed in parts (run by `profile_cli`).

    python bench/inprocess.py TOWN RUNS TOP -- gt-arguments...

Prints one JSON object: the seconds to import `gastown.cli.main` (timed before anything
else is imported, so nothing of it is cached), the cold first call of `main()` (what a real
process does), the median warm call, and one profiled warm call split by `attribution`.
"""

from __future__ import annotations

import sys
import time


def run(town: str, runs: int, top: int, args: list[str]) -> dict[str, object]:
    start = time.perf_counter()
    from gastown.cli.main import main

    imported = time.perf_counter()

    import cProfile
    import os
    import pstats
    import statistics
    from pathlib import Path

    import attribution

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GT_"))}
    with open(os.devnull, "w", encoding="utf-8") as sink:

        def call() -> float:
            began = time.perf_counter()
            code = main(args, environ=env, cwd=Path(town), out=sink, err=sys.stderr)
            if code != 0:
                raise SystemExit(f"gt {' '.join(args)} exited {code}")
            return time.perf_counter() - began

        first = call()
        warm = statistics.median(call() for _ in range(runs))
        profiler = cProfile.Profile()
        profiler.runcall(call)
    stats = pstats.Stats(profiler)
    return {
        "import_s": imported - start,
        "first_s": first,
        "warm_s": warm,
        "categories": attribution.calibrate(attribution.by_category(stats), warm),
        "top": attribution.top_functions(stats, top),
    }


if __name__ == "__main__":
    town, runs, top, sep, *rest = sys.argv[1:]
    if sep != "--":
        raise SystemExit(__doc__)
    import json

    print(json.dumps(run(town, int(runs), int(top), rest)))
