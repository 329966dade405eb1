"""An agent's output goes to files in its run folder, and the town follows them.

The agent runs under a small `sh` wrapper, in its own session: stdout and stderr go to
`stdout.log` and `stderr.log`, and its exit status to `exit` when it ends; its stdin is closed,
or the town's pipe for a CLI that reads messages mid-run (`session`). Nothing the agent
writes passes through the town process, so the agent outlives a crash of the town: a new town
process finds it still running, follows its files from where the transcript stopped
(`offsets.json`), and finishes the run as if nothing had happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO, TextIO

from gastown.record import Record
from gastown.runtimes.base import ProcessSpec

WRAPPER = (
    'd="$1"; shift; "$@" >>"$d/stdout.log" 2>>"$d/stderr.log" </dev/null; '
    'echo $? >"$d/exit.tmp" && mv "$d/exit.tmp" "$d/exit"'
)
TALKING_WRAPPER = WRAPPER.replace(" </dev/null", "")
"""For an agent that reads messages mid-run: its stdin is the town's pipe (see `session`)."""
TETHER = (
    '( while kill -0 "$PPID" 2>/dev/null'
    """ && [ "$(sed 's/.*) //;s/ .*//' /proc/$PPID/stat 2>/dev/null)" != Z ];"""
    " do sleep 1; done; kill -KILL 0 ) & t=$!; "
)
"""Put before a wrapper on a `gt worker`: a watcher that kills the agent's whole group once
the worker is gone. A town process's agents outlive it (the next one adopts them); a dead
worker's would work on beside the retry the town starts elsewhere, so they die with it (a
worker that died but is not yet reaped counts as gone). A frozen worker still exists: its
agents go on, and the ledger refuses what they would record."""
STREAMS = ("stdout", "stderr")


async def spawn(
    spec: ProcessSpec, run_dir: Path, tethered: bool = False
) -> asyncio.subprocess.Process:
    """Start the agent under the wrapper, as the leader of its own process group; `tethered`,
    it dies with this process (see `TETHER`)."""
    wrapper = TALKING_WRAPPER if spec.messages else WRAPPER
    if tethered:
        wrapper = TETHER + wrapper.replace("; echo $?", '; s=$?; kill "$t"; echo $s', 1)
    return await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        wrapper,
        "gt-run",
        str(run_dir),
        *spec.argv,
        cwd=spec.cwd,
        env=spec.env,
        stdin=asyncio.subprocess.PIPE if spec.messages else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )


class Follower:
    """Reads a run's output files line by line, remembering how far it got."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.offsets = dict.fromkeys(STREAMS, 0)
        self.partial = dict.fromkeys(STREAMS, b"")
        self.files: dict[str, BinaryIO] = {}
        with contextlib.suppress(OSError, ValueError):
            saved = json.loads((run_dir / "offsets.json").read_text())
            self.offsets.update({k: int(saved[k]) for k in STREAMS if k in saved})

    def read(self, stream: str, upto: int | None = None, final: bool = False) -> list[str]:
        """Complete lines written since the last read (up to byte `upto`); with `final`, a
        last line without its newline too. Files stay open between reads."""
        src = self.files.get(stream)
        if src is None:
            try:
                src = self.files[stream] = (self.run_dir / f"{stream}.log").open("rb")
            except FileNotFoundError:
                return []
            src.seek(self.offsets[stream])
        chunk = src.read() if upto is None else src.read(max(upto - src.tell(), 0))
        data = self.partial[stream] + chunk
        *lines, rest = data.split(b"\n")
        if final and rest:
            lines, rest = [*lines, rest], b""
        self.offsets[stream] += len(data) - len(rest)
        self.partial[stream] = rest
        return [line.decode("utf-8", errors="replace") for line in lines]

    def close(self) -> None:
        for src in self.files.values():
            src.close()
        self.files.clear()

    def save(self) -> None:
        """Remember how far the transcript got (called right after it is flushed)."""
        path = self.run_dir / "offsets.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.offsets))
        tmp.replace(path)

    def exit_status(self) -> int | None:
        """The agent's exit status once the wrapper has written it."""
        try:
            return int((self.run_dir / "exit").read_text().strip())
        except (OSError, ValueError):
            return None


class Transcript:
    """The run's transcript file and the follower whose offsets it must stay in step with."""

    def __init__(self, out: TextIO, follower: Follower) -> None:
        self.out, self.follower = out, follower

    def flush(self) -> None:
        self.out.flush()
        self.follower.save()


async def follow(
    follower: Follower,
    running: Callable[[], bool],
    take: Callable[[str, list[str]], None],
    every: float,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> int | None:
    """Hand over new lines every `every` seconds until the agent has ended; its exit status
    (None when it was killed before it could report one). `settle`, awaited once the end is
    seen and before the last read, waits until nothing of the run can write any more."""
    while True:
        ended = follower.exit_status() is not None or not running()
        if ended and settle is not None:
            await settle()
        for stream in STREAMS:
            lines = follower.read(stream, final=ended)
            if lines:
                take(stream, lines)
        if ended:
            follower.close()
            return follower.exit_status()
        await asyncio.sleep(every)


class Ending(Record):
    """How an agent's process ended, as far as the town can tell."""

    status: int | None
    """The exit status the wrapper wrote (None: it never wrote one)."""
    wrapper_signal: int | None = None
    """The signal that killed the wrapper itself, when the town saw it die."""

    @property
    def signal(self) -> int | None:
        """The signal that ended the agent: a status of 128 + n is the shell's way of saying
        the agent died of signal n; else the wrapper's own death."""
        if self.status is not None and 128 < self.status <= 128 + 64:
            return self.status - 128
        return self.wrapper_signal if self.status is None else None

    def describe(self) -> str:
        """The end in words, for a run's outcome: the signal, the status, or that none came."""
        sig = self.signal
        if sig is not None:
            killed = f"killed by signal {sig} ({signal_name(sig)})"
            return killed if self.status is not None else f"{killed} before it reported an exit"
        if self.status is None:
            return "ended without an exit status (its wrapper was killed)"
        return f"exit {self.status}"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
