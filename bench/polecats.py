"""Section 5: the town process's CPU while many scripted polecats stream output at once.

Several rigs (clones of one upstream), `max_polecats_per_rig` high enough for all beads, and
one bead per polecat, slung one after another once the town process is up. (Slung before
`gt up`, they are all dispatched in one pass, and concurrent git work in one rig's clone then
fails some runs with "could not start".) Each bead's script streams event lines for a while,
then writes a file and ends. The town process's CPU time (utime + stime of `/proc/PID/stat`,
all its threads, in clock ticks) is read at the start and end of the window in which at
least 90% of the runs are `running` at once; CPU seconds / wall seconds is its share of one
core. The main thread's own ticks (`/proc/PID/task/PID/stat`) are shown beside the total.

The streaming: the scripted agent's `run` step captures its command's output, so the
command writes its lines straight into the agent's own stdout (`/proc/$PPID/fd/1`, the pipe
the town process reads), one text event every `interval` seconds, from one small Python
process per agent rather than a fork per line.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import livetown
from gastown.model import RUNNING
from gastown.runtimes.events import Text
from livetown import LiveTown

GOAL = 5.0
"""The town process uses ≤ 5% of one core (issue 3, Performance)."""
TICKS = os.sysconf("SC_CLK_TCK")
STREAMER = """\
import sys, time
parent, lines, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
line = sys.argv[4]
with open(f"/proc/{parent}/fd/1", "a") as out:  # append: stdout may be a file
    for n in range(lines):
        out.write(line % n + "\\n")
        out.flush()
        time.sleep(interval)
"""


@dataclass(frozen=True, slots=True)
class Load:
    """How many polecats, and how much each streams."""

    rigs: int
    per_rig: int
    lines: int
    interval: float

    @property
    def beads(self) -> int:
        return self.rigs * self.per_rig

    @property
    def threshold(self) -> int:
        """Runs that must be `running` at once for the window to count."""
        return math.ceil(self.beads * 0.9)


def cpu_ticks(stat: Path) -> tuple[int, int]:
    """(utime, stime) of a process (all its threads) or one thread, in clock ticks."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)


@dataclass(frozen=True, slots=True)
class Ticks:
    """A reading of the town process's CPU clock ticks."""

    user: int
    system: int
    main: int
    """utime + stime of the main thread (the event loop) alone."""

    @classmethod
    def read(cls, pid: int) -> Ticks:
        user, system = cpu_ticks(Path(f"/proc/{pid}/stat"))
        return cls(user, system, sum(cpu_ticks(Path(f"/proc/{pid}/task/{pid}/stat"))))

    @property
    def total(self) -> int:
        return self.user + self.system

    def __sub__(self, other: Ticks) -> Ticks:
        return Ticks(self.user - other.user, self.system - other.system, self.main - other.main)


def streaming_script(streamer: Path, load: Load) -> list[dict[str, object]]:
    line = Text("streamed line %d").dumps().replace('"', '\\"')
    command = f'{sys.executable} -S {streamer} $PPID {load.lines} {load.interval} "{line}"'
    return [
        {"text": "Streaming."},
        {"run": command},
        {"write": "STREAMED.md", "content": "streamed\n"},
        {"text": "Done."},
    ]


@dataclass
class Window:
    """The stretch in which enough runs were running at once."""

    began: float = 0.0
    ended: float = 0.0
    ticks: Ticks = Ticks(0, 0, 0)
    peak: int = 0

    @property
    def seconds(self) -> float:
        return self.ended - self.began

    def share(self) -> float:
        """% of one core the town process used in the window."""
        return 100 * self.ticks.total / TICKS / self.seconds if self.seconds > 0 else math.nan


def watch(town: LiveTown, pid: int, load: Load, timeout: float) -> Window:
    """Poll the ledger every 0.2 s until the runs are done; the window is from the first
    poll with ≥ threshold runs `running` to the last one."""
    window, first_ticks = Window(), None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = len(town.runs(statuses=[RUNNING]))
        ticks, now = Ticks.read(pid), time.time()
        window.peak = max(window.peak, running)
        if running >= load.threshold:
            if first_ticks is None:
                first_ticks, window.began = ticks, now
            window.ticks, window.ended = ticks - first_ticks, now
        elif first_ticks is not None or all_ended(town):
            break  # the window has closed, or every run ended without one
        time.sleep(0.2)
    return window


def all_ended(town: LiveTown) -> bool:
    runs = town.runs()
    return bool(runs) and not any(r.active for r in runs)


def streamed_in(town: LiveTown, began: float, ended: float) -> tuple[int, int]:
    """(events in all transcripts, events stamped inside the window)."""
    total = inside = 0
    for transcript in (town.path / "logs" / "runs").glob("*/transcript.jsonl"):
        for raw in transcript.read_text(encoding="utf-8").splitlines():
            total += 1
            if began <= livetown.unix(json.loads(raw)["at"]) <= ended:
                inside += 1
    return total, inside


def bench(root: Path, load: Load) -> list[str]:
    """Section 5; returns the line that judges the goal."""
    print(
        f"\n5. {load.beads} scripted polecats at once ({load.rigs} rigs × {load.per_rig}), "
        f"each streaming {load.lines} lines {load.interval * 1000:.0f} ms apart: the town "
        f"process's CPU while ≥ {load.threshold} runs are running"
    )
    upstream = livetown.make_upstream(root / "upstream-polecats")
    rigs = {f"rig{n}": upstream for n in range(1, load.rigs + 1)}
    settings = {
        "runtime": "scripted",
        "max_polecats_per_rig": str(load.per_rig),
        "refinery.auto": "false",  # the polecats alone are measured here
    }
    streamer = root / "streamer.py"
    streamer.write_text(STREAMER, encoding="utf-8")
    body = livetown.script_body("Stream for a while.", streaming_script(streamer, load))
    with livetown.live_town(root / "polecats-town", rigs, settings) as town:
        up = time.time()
        pid = town.up()
        for n in range(load.beads):
            town.sling(f"Stream {n}", f"rig{n % load.rigs + 1}", body)
        window = watch(town, pid, load, timeout=60 + load.lines * load.interval * 3)
        for run in town.runs():
            if run.active:
                town.wait_until_ended(run.bead_id, timeout=120)
        last_end = max(livetown.unix(r.ended_at or r.created_at) for r in town.runs())
        total, inside = streamed_in(town, window.began, window.ended)
        outcomes = Counter(r.outcome or r.status for r in town.runs())
    print(
        f"  peak {window.peak} of {load.beads} runs running at once; window "
        f"{window.seconds:.1f} s of {last_end - up:.1f} s from `gt up` to the last run's end; "
        f"runs ended: {', '.join(f'{n} {o}' for o, n in outcomes.most_common())}"
    )
    t = window.ticks
    print(
        f"  town process: {t.total} clock ticks ({t.total / TICKS:.2f} s CPU: user {t.user}, "
        f"system {t.system}; main thread {t.main}, other threads {t.total - t.main}) in the "
        f"window; {total:,} events streamed in all, {inside:,} in the window "
        f"({inside / window.seconds if window.seconds else 0:,.0f}/s)"
    )
    share = window.share()
    verdict = "met" if share <= GOAL else f"MISSED by {share / GOAL:.2f}×"
    line = (
        f"town process CPU with {window.peak} polecats streaming: {share:.1f}% of one core "
        f"(goal ≤ {GOAL:g}%: {verdict})"
    )
    print("  " + line)
    return [line]
