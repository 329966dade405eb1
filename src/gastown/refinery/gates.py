"""Quality gates: the rig's shell commands, run in the scratch worktree with a timeout.

Each command's output goes to a log file of its own; the result keeps the log's path and its
tail, which is what a rework bead carries. A command that outlives the timeout is killed with
its whole process group and fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from gastown.record import Record

TAIL_LINES = 40
TAIL_CHARS = 4000


class GateResult(Record):
    command: str
    ok: bool
    exit: int | None
    """None when it was stopped for taking too long."""
    seconds: float
    log: str
    """Path of the full output."""
    log_tail: str
    excused: bool = False
    """It failed on the untouched target too: not this change's fault."""

    def to_json(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__fields__}


def tail(text: str) -> str:
    lines = text.rstrip().splitlines()[-TAIL_LINES:]
    return "\n".join(lines)[-TAIL_CHARS:]


class Stopped(Exception):
    """The refinery is stopping: a gate was cut short and decides nothing."""


def run_gate(
    command: str,
    cwd: Path,
    log: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
) -> GateResult:
    """Run one gate command with `sh -c` in `cwd`, its output (both streams) to `log`.
    Setting `stop` kills it and raises `Stopped`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["sh", "-c", command],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        code = wait_for(proc, started + timeout, stop)
    seconds = round(time.monotonic() - started, 3)
    text = log.read_text(encoding="utf-8", errors="replace")
    if code is None:
        text += f"\n[stopped after {timeout:.0f} s: the gate took too long]\n"
        log.write_text(text, encoding="utf-8")
    return GateResult(command, code == 0, code, seconds, str(log), tail(text))


def wait_for(
    proc: subprocess.Popen[bytes], deadline: float, stop: threading.Event | None
) -> int | None:
    """The exit status of `proc` (started in a session of its own), or None when the deadline
    passed; then, or when `stop` is set, its process group is killed (and `Stopped` raised
    for a stop)."""
    while True:
        left = deadline - time.monotonic()
        try:
            return proc.wait(timeout=max(0.0, min(left, 0.2)))
        except subprocess.TimeoutExpired:
            stopping = stop is not None and stop.is_set()
            if left > 0.2 and not stopping:
                continue
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if stopping:
                raise Stopped from None
            return None


def run_gates(
    commands: Sequence[str],
    cwd: Path,
    log_dir: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    skip: frozenset[str] = frozenset(),
    stop: threading.Event | None = None,
) -> list[GateResult]:
    """Run `commands` in order, stopping at the first failure; those in `skip` (known to fail
    on the target already) are not run again."""
    results = []
    for n, command in enumerate(commands, 1):
        if command in skip:
            continue
        result = run_gate(command, cwd, log_dir / f"gate-{n}.log", timeout, env, stop)
        results.append(result)
        if not result.ok:
            break
    return results


def first_failure(results: Sequence[GateResult]) -> GateResult | None:
    return next((r for r in results if not r.ok and not r.excused), None)
