"""The one error tree of Gas Town.

    GastownError
    ├── UserError            you asked for something that cannot be done; shown as one sentence
    │   ├── UsageError       the input itself is malformed (exit status 2)
    │   │   ├── InvalidValue       a value out of range or of the wrong type
    │   │   ├── PlanError          a convoy plan file that does not validate
    │   │   └── ImportFormatError  a JSONL line that cannot be read
    │   ├── NotFound         no bead, rig, convoy or town by that name
    │   ├── Conflict         the ledger is not in a state that allows it
    │   │   ├── IllegalTransition  a status change the lifecycle forbids
    │   │   └── CycleError         a `blocks` edge that would close a cycle
    │   ├── GitError         git refused (a rig URL that does not exist, a missing branch)
    │   └── Refused          a run token that is not good for this (its run has ended)
    └── RuntimeFailure       something broke underneath us (database down, disk full)
        ├── PushRejected     a remote refused the refinery's push (`git.merge`)
        └── ForgeDown        a forge answered with a server error, 5xx (`forge.base`)

User errors carry a plain sentence and, where one helps, a hint. Runtime failures carry what
was being done when they happened. The CLI maps UsageError to exit 2 and the rest to exit 1.
"""

from __future__ import annotations


class GastownError(Exception):
    """Base of every error Gas Town raises on purpose."""

    code = "error"
    exit_status = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_json(self) -> dict[str, str]:
        """The error as `--json` prints it: its code, message and hint."""
        out = {"code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class UserError(GastownError):
    """The request cannot be done as asked; nothing was changed."""

    code = "user_error"


class UsageError(UserError):
    """The input is malformed: a bad flag, value or file."""

    code = "usage"
    exit_status = 2


class InvalidValue(UsageError):
    code = "invalid_value"


class PlanError(UsageError):
    code = "invalid_plan"


class ImportFormatError(UsageError):
    code = "invalid_import"


class NotFound(UserError):
    code = "not_found"


class Conflict(UserError):
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class CycleError(Conflict):
    code = "dependency_cycle"

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__(
            f"That dependency would create a cycle: {' → '.join(cycle)}.",
            hint="Remove one of those dependencies first, or reverse the one you are adding.",
        )


class GitError(UserError):
    code = "git"


class Refused(UserError):
    """A caller who may not do this: an agent whose run has ended, or that names another run."""

    code = "refused"


class RuntimeUnavailable(UserError):
    code = "runtime_unavailable"


class RuntimeFailure(GastownError):
    """Something underneath failed; the message says what was being done."""

    code = "runtime_failure"
