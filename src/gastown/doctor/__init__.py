"""`gt doctor`: what is wrong with a town, and how to fix it.

Each check is a small function that looks at one thing and returns `Finding`s (ok, warn or
fail, with the fix a person would apply); those that can be repaired safely carry a `repair`
that `gt doctor --fix` calls. A repair never deletes uncommitted work.

    programs.py   git and each configured runtime's program on the town's PATH, with versions
    ledger.py     the database reachable and migrated; the town process down with work at hand
    worktrees.py  polecat worktrees and branches against the ledger's polecats and runs
    files.py      stale files in `run/` (a pid whose process is gone), stale git locks, disk space
    online.py     model endpoints and keys, one cheap request each (only with --online)
    checkup.py    runs them all in order, applies the repairs with --fix, says what it did
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from gastown.record import Record, field
from gastown.town import Town

Status = Literal["ok", "warn", "fail"]
OK: Status = "ok"
WARN: Status = "warn"
FAIL: Status = "fail"

Repair = Callable[[], list[str]]
"""A safe repair: does it, and says in sentences what it did."""


class Finding(Record):
    """One line of the report: what was checked, how it stands, and what to do about it."""

    check: str
    """What was checked: `git`, `runtime claude`, `database`, `worktrees app`, ..."""
    status: Status
    """`ok`, `warn` or `fail`."""
    message: str
    """What was found, in one sentence."""
    fix: str = ""
    """What a person should do (a command, where one helps); empty when all is well."""
    repair: Repair | None = None
    """What `gt doctor --fix` may do about it by itself (never deleting uncommitted work)."""
    fixed: list[str] = field(default_factory=list)
    """What `--fix` did, in sentences."""

    def to_json(self) -> dict[str, Any]:
        """The finding as `gt doctor --json` prints it (whether it can be repaired, not how)."""
        return {
            "check": self.check,
            "status": self.status,
            "message": self.message,
            "fix": self.fix,
            "repairable": self.repair is not None,
            "fixed": self.fixed,
        }


def ok(check: str, message: str) -> Finding:
    """A finding that all is well with `check`."""
    return Finding(check, OK, message)


class Patient(Record):
    """The town being checked, and what the checks read from outside it."""

    town: Town
    """The town checked."""
    environ: Mapping[str, str]
    """The environment `gt up` would start the town process with."""
    path: str
    """The town process's PATH: the running process's own, else the environment's."""
    now: float
    """Seconds since the epoch (file ages are measured against it)."""
    program_timeout: float = 10.0
    """How long `<program> --version` may take."""

    @property
    def folder(self) -> Path:
        """The town's folder."""
        return self.town.path
