"""Files that outlive the process that wrote them, and the room left on the town's disk.

`run/town.json` names the town process's pid: once that process is gone without clearing it,
it is stale. Half-written files (`*.tmp`) in `run/` are left by a crash mid-write. A refinery
lock (`run/refinery-<rig>.lock`) of a rig that no longer exists is litter. git's own lock files
(`index.lock`, `HEAD.lock`, ...) in a rig's clone or a worktree, left by a git that was killed,
make every later git there fail with "File exists"; one is stale when no git process runs in
the town and it is older than a minute. Each is removed by `--fix` only when nothing holds it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from gastown.doctor import FAIL, OK, WARN, Finding
from gastown.townrun import state

GIT_LOCKS = ("index.lock", "HEAD.lock", "config.lock", "packed-refs.lock", "shallow.lock")
STALE_AFTER_S = 60.0
"""A git lock file younger than this may belong to a git that is about to finish."""
WARN_FREE = 2 << 30
"""Below this many free bytes on the town's file system, say so (worktrees, transcripts)."""
FAIL_FREE = 200 << 20
"""Below this, git and the database start failing mid-write."""


def pid_file(town: Path, alive: Callable[[int], bool] = state.alive) -> Finding:
    """`run/town.json` naming a process that is gone, or one that no longer holds the lock."""
    path = town / state.RUN_DIR / "town.json"
    if not path.exists():
        return Finding("run files", OK, "No town process recorded in run/.")
    held = state.locked(town)
    try:
        import json

        pid = int(json.loads(path.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        pid = None
    if pid is not None and alive(pid) and held:
        return Finding("run files", OK, f"run/town.json names process {pid}, which runs.")

    def remove() -> list[str]:
        if state.locked(town):  # a town came up meanwhile: the file is its own now
            return []
        path.unlink(missing_ok=True)
        return [f"Removed {path} (it named process {pid}, which is gone)."]

    who = "no readable pid" if pid is None else f"process {pid}, which is gone"
    if pid is not None and alive(pid):
        who = f"process {pid}, which no longer holds the town's lock"
    return Finding(
        "run files",
        WARN,
        f"run/town.json is stale: it names {who}.",
        fix=f"Remove {path} (or `gt doctor --fix`); `gt up` writes a new one.",
        repair=remove,
    )


def leftovers(town: Path, rigs: Iterable[str]) -> list[Finding]:
    """Half-written files and refinery locks of removed rigs in `run/`."""
    folder = town / state.RUN_DIR
    if not folder.is_dir():
        return []
    known = {f"refinery-{rig}.lock" for rig in rigs}
    stale = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file()
        and (
            p.name.endswith(".tmp")
            or (p.name.startswith("refinery-") and p.name.endswith(".lock") and p.name not in known)
        )
        and not _held(p)
    ]
    if not stale:
        return []

    def remove() -> list[str]:
        done = []
        for path in stale:
            if not _held(path):
                path.unlink(missing_ok=True)
                done.append(f"Removed {path}.")
        return done

    return [
        Finding(
            "run files",
            WARN,
            "Left over in run/: " + ", ".join(p.name for p in stale) + ".",
            fix="Remove them (or `gt doctor --fix`).",
            repair=remove,
        )
    ]


def _held(path: Path) -> bool:
    """Whether some process holds a flock on `path` (a refinery step at work)."""
    try:
        with path.open("a") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(probe, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def git_dirs(repos: Iterable[Path]) -> Iterator[Path]:
    """The git folders of `repos` (clones) and of each of their worktrees."""
    for repo in repos:
        top = repo / ".git"
        if top.is_dir():
            yield top
            linked = top / "worktrees"
            if linked.is_dir():
                yield from sorted(p for p in linked.iterdir() if p.is_dir())


def git_locks(repos: Iterable[Path], now: float, git_running: Callable[[], bool]) -> list[Finding]:
    """git lock files older than a minute while no git runs in the town."""
    old = [
        lock
        for folder in git_dirs(repos)
        for lock in (folder / name for name in GIT_LOCKS)
        if _age(lock, now) >= STALE_AFTER_S
    ]
    if not old:
        return [Finding("git locks", OK, "No git lock files left behind.")]
    if git_running():
        return [
            Finding(
                "git locks",
                WARN,
                f"{len(old)} git lock file(s) while git is at work in the town: "
                + ", ".join(map(str, old))
                + ".",
                fix="Run `gt doctor` again once it is done.",
            )
        ]

    def remove() -> list[str]:
        if git_running():
            return []
        for lock in old:
            lock.unlink(missing_ok=True)
        return [f"Removed the stale git lock {lock}." for lock in old]

    return [
        Finding(
            "git locks",
            FAIL,
            "Stale git lock file(s), left by a git that was stopped: "
            + ", ".join(map(str, old))
            + "; git refuses to work there until they are gone.",
            fix="Remove them (or `gt doctor --fix`).",
            repair=remove,
        )
    ]


def _age(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except OSError:
        return -1.0


def git_running_in(town: Path, proc: Path = Path("/proc")) -> bool:
    """Whether a git process runs with its working folder inside `town` (Linux; else assume
    one might, so nothing is removed)."""
    if not proc.is_dir():
        return True
    inside = str(town.resolve())
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            if (proc / entry.name / "comm").read_text().strip() != "git":
                continue
            cwd = os.readlink(proc / entry.name / "cwd")
        except OSError:
            continue
        if cwd == inside or cwd.startswith(inside + os.sep):
            return True
    return False


def disk(
    town: Path,
    warn_below: int = WARN_FREE,
    fail_below: int = FAIL_FREE,
    usage: Callable[[Path], tuple[int, int, int]] = shutil.disk_usage,
) -> Finding:
    """Free space on the file system that holds the town."""
    free = usage(town)[2]
    said = f"{free / (1 << 30):.1f} GiB free on the town's file system"
    if free < fail_below:
        return Finding(
            "disk space",
            FAIL,
            f"Only {said}: git, the ledger and transcripts fail when it runs out.",
            fix="Free some space (old transcripts are in logs/runs/).",
        )
    if free < warn_below:
        return Finding(
            "disk space",
            WARN,
            f"{said}, under {warn_below / (1 << 30):.1f} GiB.",
            fix="Free some space soon (old transcripts are in logs/runs/).",
        )
    return Finding("disk space", OK, f"{said}.")
