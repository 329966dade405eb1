"""The mayor's time-to-first-token benchmark runs end to end (`bench/mayor.py --quick`, a real
subprocess against the scripted model server); its figures belong in the issue note, from
`make bench`, and are never asserted here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "mayor.py"


def test_the_mayor_benchmark_prints_what_the_mayor_adds() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"mayor time to first token: [+-][0-9.]+ ms over the SDK alone \([0-9.]+ ms against "
        r"[0-9.]+ ms\) \(goal ≤ 50 ms: (met|MISSED)\)",
        done.stdout,
    ), done.stdout
    assert "(the SDK alone sending the mayor's last request)" in done.stdout
