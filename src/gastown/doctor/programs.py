"""The programs a town runs: git, and each configured runtime's agent CLI, on the town's PATH.

The PATH is the town process's own when it runs (read from `/proc`), else the one `gt up` would
give it: a program found on your shell's PATH but not the town's is exactly the trap that holds
beads. Every program is asked `--version`, all at once, each with a time limit (a node CLI can
take a second to answer); a runtime's program is held to its adapter's `min_version` by the same
function a run's preflight uses (`runtimes.preflight.check_version`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from gastown.doctor import FAIL, OK, WARN, Finding
from gastown.errors import UserError
from gastown.runtimes import preflight
from gastown.runtimes.base import AgentRuntime

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


def missing(check: str, binary: str, needed_by: str) -> Finding:
    """The failure of a program not on the town's PATH, saying who needs it."""
    return Finding(
        check,
        FAIL,
        f"`{binary}` is not on the town's PATH ({needed_by}).",
        fix=f"Install `{binary}` or put its folder on PATH, then restart the town "
        "(`gt down && gt up -d`); or choose another runtime with `gt config set runtime NAME`.",
    )


async def program(check: str, binary: str, path: str, timeout: float, needed_by: str) -> Finding:
    """Whether `binary` is on `path` and answers `--version` (asked as a run's preflight asks)."""
    found = shutil.which(binary, path=path)
    if found is None:
        return missing(check, binary, needed_by)
    answer = await asyncio.to_thread(preflight.ask_version, found, timeout)
    if answer.code is None:
        return Finding(
            check,
            WARN,
            f"{found} did not answer `--version` within {timeout:.0f} s.",
            fix=f"Run `{found} --version` by hand to see what it waits for.",
        )
    if answer.code != 0:
        return Finding(
            check,
            WARN,
            f"{found} --version failed (exit {answer.code}): {answer.line or 'no output'}.",
            fix=f"Run `{found} --version` by hand; reinstall `{binary}` if it is broken.",
        )
    return Finding(check, OK, f"{answer.line or 'version unknown'} ({found}).")


async def git(path: str, timeout: float) -> Finding:
    """Whether git is on the town's PATH and recent enough."""
    finding = await program("git", "git", path, timeout, "the town runs git for every worktree")
    if finding.status != OK:
        return finding
    version = preflight.parse_version(finding.message)
    if version is not None and version < MIN_GIT:
        want = preflight.shown(MIN_GIT)
        finding.status, finding.fix = WARN, f"Upgrade git to {want} or later."
        finding.message = f"{finding.message[:-1]}; Gas Town needs git {want} or later."
    return finding


async def agent_program(
    check: str, adapter: AgentRuntime, path: str, timeout: float, needed_by: str
) -> Finding:
    """A runtime's program, held to its adapter's `min_version` by the very check a run's
    preflight makes, so doctor and the town refuse the same programs in the same words."""
    found = shutil.which(adapter.binary, path=path)
    if found is None:
        return missing(check, adapter.binary, needed_by)
    try:
        answer = await asyncio.to_thread(preflight.check_version, adapter, found, timeout)
    except UserError as exc:
        return Finding(check, FAIL, exc.message, fix=exc.hint or "")
    if answer is None:  # no minimum to hold it to: only whether it answers
        return await program(check, adapter.binary, path, timeout, needed_by)
    minimum = preflight.shown(getattr(adapter, "min_version", ()))
    return Finding(check, OK, f"{answer.line} ({found}); Gas Town needs {minimum} or newer.")


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
        return await agent_program(check, adapter, path, timeout, "used by " + ", ".join(where))

    return list(await asyncio.gather(*(one(n, w) for n, w in sorted(used.items()))))
