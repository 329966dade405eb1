"""The agent's process group: who in it still lives, and how it is stopped and emptied.

Every agent starts under a wrapper that leads a session of its own, so the wrapper's pid is
also the group id of the agent and of whatever the agent starts. Killing the wrapper alone
would leave the agent writing into a worktree the town believes is free; so a run ends only
once its whole group is gone, and the town signals the group, never one pid.

On Linux the members are read from `/proc` and only those carrying the run's `GT_RUN_ID` count
(a group id can be reused after a reboot; a stranger's group is never signalled), and zombies
are not members (an orphan's zombie may wait a while for a parent to reap it). Elsewhere, the
group is whatever `killpg` reaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("gastown.run")

PROC = Path("/proc")
GRACE = 3.0
"""Seconds a group gets between SIGTERM and SIGKILL when the town empties it after its run."""


def members(pgid: int, run_id: str | None = None) -> list[int]:
    """The live (not zombie) processes of group `pgid`; with `run_id`, only the run's own."""
    if not PROC.is_dir():
        return [pgid] if _reachable(pgid) else []
    return [
        pid
        for pid, group in _living()
        if group == pgid and (run_id is None or _belongs(pid, run_id))
    ]


def _living() -> Iterator[tuple[int, int]]:
    """Each live (not zombie) process on the machine, with its process group."""
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = (PROC / entry.name / "stat").read_bytes()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) >= 3 and fields[0] not in (b"Z", b"X"):
            yield int(entry.name), int(fields[2])


def _belongs(pid: int, run_id: str) -> bool:
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:  # gone already, or not ours to read
        return False
    return f"GT_RUN_ID={run_id}".encode() in environ.split(b"\0")


def _reachable(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def alive(pgid: int, run_id: str | None = None) -> bool:
    """Whether any process of the group lives (cheap when it plainly does not)."""
    return _reachable(pgid) and bool(members(pgid, run_id))


def signal_group(pgid: int, sig: int, run_id: str | None = None) -> None:
    """Send `sig` to the group (only if it is still the run's, when `run_id` is given)."""
    if run_id is not None and not members(pgid, run_id):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def empty(pgid: int, run_id: str | None = None, grace: float = GRACE) -> None:
    """Return only once no process of the group lives: SIGTERM, then SIGKILL after `grace`,
    then SIGKILL again until the group is gone (a process stuck in the kernel dies late)."""
    if not alive(pgid, run_id):
        return
    signal_group(pgid, signal.SIGTERM, run_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    warned = loop.time() + 30
    while alive(pgid, run_id):
        if loop.time() >= deadline:
            signal_group(pgid, signal.SIGKILL, run_id)
        if loop.time() >= warned:
            log.warning("process group %s of run %s will not die; still waiting", pgid, run_id)
            warned = loop.time() + 30
        await asyncio.sleep(0.05)


def stop(pgid: int, run_id: str | None = None, grace: float = 10.0) -> None:
    """SIGTERM the group now; SIGKILL it if it lingers past `grace` seconds (in the
    background: the run's own task notices the end and empties what is left)."""
    signal_group(pgid, signal.SIGTERM, run_id)

    async def escalate() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while alive(pgid, run_id) and loop.time() < deadline:
            await asyncio.sleep(0.1)
        signal_group(pgid, signal.SIGKILL, run_id)

    asyncio.get_running_loop().create_task(escalate())


def strays(run_id: str) -> list[int]:
    """Live processes anywhere that carry the run's `GT_RUN_ID`: an agent started by a town
    process that died before it could record the agent's pid (Linux only; elsewhere none)."""
    if not PROC.is_dir():
        return []
    me = os.getpid()
    return [pid for pid, _ in _living() if pid != me and _belongs(pid, run_id)]


def kill_strays(run_id: str, timeout: float = 10.0) -> int:
    """SIGKILL every process of a run no town watches, and wait (a bounded while) until they
    are gone; how many there were."""
    found = strays(run_id)
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while found and strays(run_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    return len(found)
