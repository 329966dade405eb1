"""The programs a town runs: git, and each configured runtime's agent CLI, on the town's PATH.

The PATH is the town process's own when it runs (read from `/proc`), else the one `gt up` would
give it: a program found on your shell's PATH but not the town's is exactly the trap that holds
beads. Every program is asked `--version`, all at once, each with a time limit (a node CLI can
take a second to answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from gastown.doctor import FAIL, OK, WARN, Finding

MIN_GIT = (2, 28)
"""The oldest git the town works with (`git init -b`, `git worktree remove`)."""


def town_path(environ: Mapping[str, str], pid: int | None, proc: Path = Path("/proc")) -> str:
    """The PATH of the town process `pid` when it runs and `/proc` shows it, else `environ`'s."""
    if pid is not None:
        with contextlib.suppress(OSError):
            for entry in (proc / str(pid) / "environ").read_bytes().split(b"\0"):
                if entry.startswith(b"PATH="):
                    return entry[5:].decode("utf-8", errors="replace")
    return environ.get("PATH", os.defpath)


async def version_of(program: str, timeout: float) -> tuple[int | None, str]:
    """`program --version`: its exit status (None when it did not answer in time) and the
    first line it printed."""
    try:
        proc = await asyncio.create_subprocess_exec(
            program,
            "--version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # a CLI that spawns helpers is stopped with them
        )
    except OSError as exc:
        return 127, exc.strerror or str(exc)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        await proc.wait()
        return None, ""
    text = (out or err).decode("utf-8", errors="replace").strip()
    return proc.returncode, (text.splitlines() or [""])[0].strip()


async def program(check: str, binary: str, path: str, timeout: float, needed_by: str) -> Finding:
    """Whether `binary` is on `path` and answers `--version`."""
    found = shutil.which(binary, path=path)
    if found is None:
        return Finding(
            check,
            FAIL,
            f"`{binary}` is not on the town's PATH ({needed_by}).",
            fix=f"Install `{binary}` or put its folder on PATH, then restart the town "
            "(`gt down && gt up -d`); or choose another runtime with `gt config set runtime NAME`.",
        )
    code, line = await version_of(found, timeout)
    if code is None:
        return Finding(
            check,
            WARN,
            f"{found} did not answer `--version` within {timeout:.0f} s.",
            fix=f"Run `{found} --version` by hand to see what it waits for.",
        )
    if code != 0:
        return Finding(
            check,
            WARN,
            f"{found} --version failed (exit {code}): {line or 'no output'}.",
            fix=f"Run `{found} --version` by hand; reinstall `{binary}` if it is broken.",
        )
    return Finding(check, OK, f"{line or 'version unknown'} ({found}).")


def git_version(line: str) -> tuple[int, int] | None:
    """(major, minor) from `git version 2.39.5`, or None when it says no such thing."""
    found = re.search(r"(\d+)\.(\d+)", line)
    return (int(found[1]), int(found[2])) if found else None


async def git(path: str, timeout: float) -> Finding:
    finding = await program("git", "git", path, timeout, "the town runs git for every worktree")
    if finding.status != OK:
        return finding
    version = git_version(finding.message)
    if version is not None and version < MIN_GIT:
        want = ".".join(map(str, MIN_GIT))
        finding.status, finding.fix = WARN, f"Upgrade git to {want} or later."
        finding.message = f"{finding.message[:-1]}; Gas Town needs git {want} or later."
    return finding


def runtimes_in_use(layers: Mapping[str, str]) -> dict[str, list[str]]:
    """Runtime name → the layers that use it (`town`, `rig app`), from {layer: runtime}."""
    used: dict[str, list[str]] = {}
    for layer, name in layers.items():
        used.setdefault(name, []).append(layer)
    return used


async def runtimes(used: Mapping[str, Sequence[str]], path: str, timeout: float) -> list[Finding]:
    """A finding per runtime in use: its program on `path`, and its version."""
    from gastown.runtimes.registry import REGISTRY

    async def one(name: str, where: Sequence[str]) -> Finding:
        check = f"runtime {name}"
        adapter = REGISTRY.get(name)
        if adapter is None:
            return Finding(
                check,
                FAIL,
                f"The runtime setting ({', '.join(where)}) is '{name}', which Gas Town does not "
                "know.",
                fix="Choose one of " + ", ".join(REGISTRY) + " with `gt config set runtime NAME`.",
            )
        return await program(check, adapter.binary, path, timeout, "used by " + ", ".join(where))

    return list(await asyncio.gather(*(one(n, w) for n, w in sorted(used.items()))))
