"""Sorting measured time into kinds of work: imports by module, profiled time by category.

Two readers of what Python itself reports: the lines of `python -X importtime`, and the
stats of a `cProfile` run. cProfile charges a few hundred nanoseconds to every Python call it
sees, so a category made of many small Python calls (building row objects) looks bigger
under it than it is, while one made of a few calls into C (SQLite, the json encoder) does
not. `calibrate` rescales the Python-heavy categories to fit an unprofiled total.
"""

from __future__ import annotations

import pstats
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")

CATEGORIES = (
    ("SQL: execute + fetch (sqlite3, C)", "c"),
    ("json.dumps (mostly C)", "c"),
    ("write to stdout", "c"),
    ("rows → records (store, model __init__)", "py"),
    ("to_json (model)", "py"),
    ("dag (ready set)", "py"),
    ("argparse + gettext (parser)", "py"),
    ("services + cli code", "py"),
    ("other", "py"),
)
"""Each category, and whether its profiled time is trusted as is (`c`) or rescaled (`py`)."""


@dataclass(frozen=True, slots=True)
class ImportRow:
    self_us: int
    cumulative_us: int
    depth: int
    module: str


def parse_importtime(text: str) -> list[ImportRow]:
    """The rows of `-X importtime` output (stderr)."""
    rows = []
    for line in text.splitlines():
        m = IMPORT_LINE.match(line)
        if m:
            rows.append(ImportRow(int(m[1]), int(m[2]), len(m[3]) // 2, m[4]))
    return rows


def import_groups(rows: Iterable[ImportRow]) -> Counter[str]:
    """Self time (µs) by group: each `gastown` module by name, anything else by its top-level
    package (so `json.decoder` counts under `json`)."""
    groups: Counter[str] = Counter()
    for row in rows:
        key = row.module if row.module.startswith("gastown") else row.module.split(".")[0]
        groups[key] += row.self_us
    return groups


def category(file: str, func: str) -> str:
    """The category of one profiled function (pstats key parts)."""
    if "sqlite3." in func:
        return CATEGORIES[0][0]
    if "/json/" in file:
        return CATEGORIES[1][0]
    if "method 'write'" in func:
        return CATEGORIES[2][0]
    if func == "to_json":
        return CATEGORIES[4][0]
    if "/gastown/store/" in file or (file == "<string>" and func in ("__init__", "__new__")):
        return CATEGORIES[3][0]
    if file.endswith("/gastown/dag.py"):
        return CATEGORIES[5][0]
    if file.endswith(("argparse.py", "gettext.py", "locale.py")):
        return CATEGORIES[6][0]
    if "/gastown/" in file:
        return CATEGORIES[7][0]
    return CATEGORIES[8][0]


def by_category(stats: pstats.Stats) -> dict[str, float]:
    """Own (exclusive) profiled seconds per category."""
    out = dict.fromkeys((name for name, _ in CATEGORIES), 0.0)
    raw: Mapping[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    for (file, _line, func), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        out[category(file, func)] += tottime
    return out


def calibrate(profiled: Mapping[str, float], unprofiled_total: float) -> dict[str, float]:
    """Keep the C-bound categories, scale the Python ones so that all add up to the
    unprofiled total (never scaling up: if profiling did not inflate, keep as measured)."""
    kinds = dict(CATEGORIES)
    fixed = sum(v for k, v in profiled.items() if kinds[k] == "c")
    python = sum(v for k, v in profiled.items() if kinds[k] == "py")
    scale = min(1.0, max(0.0, unprofiled_total - fixed) / python) if python else 1.0
    return {k: v if kinds[k] == "c" else v * scale for k, v in profiled.items()}


def top_functions(stats: pstats.Stats, n: int) -> list[tuple[str, int, float, float]]:
    """The `n` functions with the most own time: (name, calls, own s, cumulative s)."""
    raw: Mapping[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    rows = sorted(raw.items(), key=lambda kv: -kv[1][2])[:n]
    out = []
    for (file, line, func), (_cc, calls, tottime, cumtime, _callers) in rows:
        where = file.split("/site-packages/")[-1].split("/src/")[-1].split("/lib/python3")[-1]
        name = func if file == "~" else f"{where}:{line} {func}"
        out.append((name, calls, tottime, cumtime))
    return out
