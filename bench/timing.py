"""Measuring on a noisy machine: whole processes run interleaved, medians, ratios.

Absolute times on a shared 2-core machine drift from minute to minute, so every figure the
benchmark reports is a ratio of two medians taken in the same run, with the commands taking
turns (in a shuffled order each round) so that drift hits all of them alike.
"""

from __future__ import annotations

import os
import random
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Command:
    """One whole-process command line to time."""

    label: str
    argv: Sequence[str]
    cwd: Path | None = None


@dataclass(slots=True)
class Samples:
    """Wall-clock and CPU (user + system) seconds of each timed run of one command."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.wall) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without settings that change how Python or `gt` start
    (PYTHONDONTWRITEBYTECODE, PYTHONPROFILEIMPORTTIME, GT_TOWN, ...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GT_"))}
    env.update(extra or {})
    return env


def run_once(cmd: Command, env: Mapping[str, str], out: Path) -> tuple[float, float]:
    """Run `cmd` to completion with stdout going to the file `out`; (wall, cpu) seconds.

    Raises CalledProcessError (with its stderr) if the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with out.open("wb") as sink:
        start = time.perf_counter()
        done = subprocess.run(
            list(cmd.argv), cwd=cmd.cwd, env=env, stdout=sink, stderr=subprocess.PIPE, check=False
        )
        wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, cmd.argv, stderr=done.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def interleaved(
    commands: Sequence[Command],
    runs: int,
    warmup: int,
    env: Mapping[str, str],
    out: Path,
    rng: random.Random,
    before_each: Callable[[Command], None] | None = None,
) -> dict[str, Samples]:
    """`warmup` untimed rounds, then `runs` rounds in which every command runs once, in a
    shuffled order. `before_each` (untimed) can reset state a command changes."""
    samples = {c.label: Samples() for c in commands}
    order = list(commands)
    for round_no in range(warmup + runs):
        rng.shuffle(order)
        for cmd in order:
            if before_each is not None:
                before_each(cmd)
            wall, cpu = run_once(cmd, env, out)
            if round_no >= warmup:
                samples[cmd.label].wall.append(wall)
                samples[cmd.label].cpu.append(cpu)
    return samples


def alternating(
    fns: Mapping[str, Callable[[], object]], runs: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Seconds per call of each function, calling them in turn `runs` times after `warmup`
    untimed rounds."""
    times: dict[str, list[float]] = {label: [] for label in fns}
    for round_no in range(warmup + runs):
        for label, fn in fns.items():
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            if round_no >= warmup:
                times[label].append(elapsed)
    return times


def median_ms(times: Sequence[float]) -> float:
    return statistics.median(times) * 1000
