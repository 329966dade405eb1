"""Chaos in the suite: a convoy of twelve beads worked while the town process, agents, their
wrappers and the refinery mid-step are killed with SIGKILL at random moments.

`bench/chaos.py` does the work and checks every promise (each bead closed, none ran twice at
once, no commit holds another bead's file, no finished run redone, every first-parent commit
gated and naming its bead, nothing lost or duplicated); it exits 1 naming what broke. Its
seed is random and printed, so a failure can be replayed with `--seed`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHAOS = Path(__file__).resolve().parent.parent / "bench" / "chaos.py"
ROUND = ("--beads", "12", "--kills", "10", "--rounds", "1")


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_convoy_lands_whole_under_random_kills(db: str) -> None:
    done = subprocess.run(
        [sys.executable, str(CHAOS), *ROUND, "--db", db],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    report = done.stdout + done.stderr
    print(report)
    assert done.returncode == 0, report
    assert "BROKEN" not in report
    kills = int(report.split("kills: ", 1)[1].split()[0])
    assert kills >= 4, report  # the round really was under fire
