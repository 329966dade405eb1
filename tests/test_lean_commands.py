"""The commands people and scripts run most start lean: they import no event loop, HTTP client,
template engine, highlighter or terminal UI. Their speed goals in `bench/` are ratios to bare
`python -c "import sqlite3, json"`, and one stray import (asyncio alone is ~20 ms) misses them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Gt

HEAVY = ("asyncio", "httpx", "jinja2", "pygments", "textual", "anthropic", "openai", "uvicorn")

PROBE = f"""
import contextlib, io, json, sys
from gastown.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(json.dumps({{"code": code, "loaded": loaded}}))
"""


@pytest.mark.parametrize(
    "args",
    [
        ("ready", "--json"),
        ("bead", "list", "--json"),
        ("costs", "--by", "day", "--json"),
    ],
)
def test_a_frequent_command_imports_nothing_heavy(rig_gt: Gt, args: tuple[str, ...]) -> None:
    rig_gt.ok("bead", "create", "Something to do", "--rig", "app")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=Path(rig_gt.cwd),
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"code": 0, "loaded": []}
