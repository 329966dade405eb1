"""Traps a new town falls into, caught when the command that sets them up runs.

A runtime whose program the town process cannot find holds every bead slung to it; the town
process looks on the PATH it was started with, which may not be the PATH of the shell a person
types in. So the check reads the running town process's own environment when there is one.
A rig whose remote is a local checkout with the target branch checked out refuses every
landing; `gt rig add` says so, with the fix, and still adds the rig (the checkout may be on
another branch by the time work lands, and the fix is a command in that repository).
Each finding is one sentence for stderr; the command that found it still does its work.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO


def town_path_variable(town: Path, environ: Mapping[str, str]) -> tuple[str, str]:
    """The PATH the town process looks for programs on, and whose it is: the running town
    process's (read from /proc), else this command's (the one the next `gt up` would inherit
    when run from this shell)."""
    from gastown.townrun.state import read_address

    address = read_address(town)
    if address is not None:
        try:
            raw = Path(f"/proc/{address.pid}/environ").read_bytes()
        except OSError:  # not Linux, or not ours to read: this shell's is the best guess
            pass
        else:
            for entry in raw.split(b"\0"):
                if entry.startswith(b"PATH="):
                    return entry[5:].decode(errors="replace"), "the town process's PATH"
            return os.defpath, "the town process's PATH"
    return environ.get("PATH", os.defpath), "PATH"


def missing_runtime(name: str, path: str, whose: str = "PATH") -> str | None:
    """Why runtime `name` cannot start on `path`, in one sentence, or None when its program is
    there. Only the PATH is looked at: asking a CLI its version takes a second or more."""
    import shutil

    from gastown.runtimes.registry import REGISTRY

    found = REGISTRY.get(name)
    if found is None or shutil.which(found.binary, path=path) is not None:
        return None  # an unknown name is refused where it is set
    return (
        f"the runtime '{name}' needs `{found.binary}`, which is not on {whose}; install it "
        "there or choose another with `gt config set runtime NAME`."
    )


def warn(err: TextIO, lines: Sequence[str]) -> None:
    """Write each warning on a line of `err`."""
    for line in lines:
        err.write(line + "\n")


def runtime_warnings(
    town: Path, environ: Mapping[str, str], names: Sequence[str], when: str = ""
) -> list[str]:
    """One `gt: warning:` line per runtime in `names` that the town process cannot start."""
    path, whose = town_path_variable(town, environ)
    found = []
    for name in dict.fromkeys(names):
        why = missing_runtime(name, path, whose)
        if why is not None:
            found.append(f"gt: warning: {why}{when}")
    return found


def push_warnings(url: str, branch: str) -> list[str]:
    """One `gt: warning:` line when the rig's remote is a local checkout that will refuse
    every push landing work on `branch` (see `git.refusals.checked_out_target`)."""
    from gastown.git import refusals

    path = refusals.checked_out_target(url, branch)
    if path is None:
        return []
    problem = refusals.checkout_problem(path, branch).removesuffix(".")
    fix = refusals.checkout_fix(path)
    return [f"gt: warning: {problem}: {fix[0].lower()}{fix[1:]}"]
