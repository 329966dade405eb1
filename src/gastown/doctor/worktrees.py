"""Polecat worktrees and branches against the ledger, one rig at a time.

Each polecat has a worktree per rig (`worktrees/<rig>/<polecat>`), kept between beads. What
can go wrong: a folder there that no run of the ledger ever used (left by a crash, a copy, an
older town), a polecat whose worktree is gone, a running run whose worktree is on another
branch than its own, and git's records of worktrees whose folders were deleted by hand.
Repairs remove only what holds no uncommitted work: `git worktree remove` without `--force`
refuses anything else, and a folder that is no worktree is left for a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gastown.doctor import FAIL, OK, WARN, Finding
from gastown.errors import GitError
from gastown.git.repo import git
from gastown.record import Record

SCRATCH = ".refinery"
"""The refinery's own scratch worktree in `worktrees/<rig>/`, not a polecat's."""


class Listed(Record):
    """One worktree as `git worktree list --porcelain` tells it."""

    path: Path
    """Its folder."""
    branch: str | None
    """Its branch (`gt/birch/gt-4k2x9`), None when detached."""
    prunable: bool = False
    """Its folder is gone; `git worktree prune` forgets it."""


class Expected(Record):
    """What the ledger says about one polecat's worktree on this rig."""

    polecat: str
    """The polecat's name."""
    current: bool
    """The polecat's latest worktree (a missing one is worth saying)."""
    run_id: str | None = None
    """Its running run, if it has one now."""
    branch: str | None = None
    """The branch that run works on."""


def listed(clone: Path) -> list[Listed]:
    """The clone's linked worktrees (not the clone itself)."""
    out = git("worktree", "list", "--porcelain", cwd=clone).out
    found: list[Listed] = []
    for block in out.strip().split("\n\n")[1:]:
        lines = block.splitlines()
        path = Path(lines[0].removeprefix("worktree "))
        branch = next(
            (x.removeprefix("branch refs/heads/") for x in lines if x.startswith("branch ")), None
        )
        found.append(Listed(path, branch, any(x.startswith("prunable") for x in lines)))
    return found


def check(rig: str, clone: Path, folder: Path, expected: Mapping[str, Expected]) -> list[Finding]:
    """Findings for rig `rig`: `clone` is its canonical clone, `folder` its `worktrees/<rig>/`,
    `expected` the ledger's polecats that have worked it, by name."""
    name = f"worktrees {rig}"
    if not (clone / ".git").exists():
        return [
            Finding(
                name,
                FAIL,
                f"The rig's clone {clone} is missing or is not a git repository.",
                fix=f"`gt rig remove {rig}` and `gt rig add {rig} URL` clone it again.",
            )
        ]
    try:
        records = listed(clone)
    except GitError as exc:
        return [Finding(name, FAIL, exc.message, fix=f"Run `git -C {clone} worktree list`.")]
    by_path = {r.path.resolve(): r for r in records if not r.prunable}
    findings = [*_gone(name, clone, records), *_strays(name, clone, folder, expected, by_path)]
    for polecat, want in sorted(expected.items()):
        path = (folder / polecat).resolve()
        have = by_path.get(path)
        if have is None and want.run_id is not None:
            findings.append(
                Finding(
                    name,
                    FAIL,
                    f"Polecat {polecat}'s run {want.run_id} works in {path}, which is not there.",
                    fix=f"`gt agent reset {polecat}` retries its bead in a fresh worktree.",
                )
            )
        elif have is None and want.current and path.exists():
            findings.append(_not_a_worktree(name, clone, path))
        elif have is None and want.current:
            findings.append(
                Finding(
                    name,
                    WARN,
                    f"Polecat {polecat}'s worktree {path} is missing; its next run makes it again.",
                )
            )
        elif have is not None and want.run_id is not None and have.branch != want.branch:
            findings.append(
                Finding(
                    name,
                    FAIL,
                    f"Polecat {polecat}'s worktree is on {have.branch or 'a detached HEAD'}, but "
                    f"its run {want.run_id} works on {want.branch}.",
                    fix=f"`gt agent reset {polecat}` retries its bead on its own branch.",
                )
            )
    if not findings:
        findings.append(Finding(name, OK, f"{len(by_path)} worktree(s), as the ledger has them."))
    return findings


def _gone(name: str, clone: Path, records: list[Listed]) -> list[Finding]:
    gone = [r.path for r in records if r.prunable]
    if not gone:
        return []

    def prune() -> list[str]:
        git("worktree", "prune", cwd=clone)
        return [f"Ran `git worktree prune` in {clone} ({len(gone)} record(s) forgotten)."]

    return [
        Finding(
            name,
            WARN,
            f"git still records {len(gone)} worktree(s) whose folders are gone: "
            + ", ".join(map(str, gone))
            + ".",
            fix=f"`git -C {clone} worktree prune` (or `gt doctor --fix`).",
            repair=prune,
        )
    ]


def _strays(
    name: str,
    clone: Path,
    folder: Path,
    expected: Mapping[str, Expected],
    by_path: Mapping[Path, Listed],
) -> list[Finding]:
    """Folders in `worktrees/<rig>/` that no polecat of the ledger ever worked in."""
    if not folder.is_dir():
        return []
    found: list[Finding] = []
    for entry in sorted(folder.iterdir()):
        if entry.name == SCRATCH or entry.name in expected or not entry.is_dir():
            continue
        path = entry.resolve()
        if path not in by_path:
            found.append(_not_a_worktree(name, clone, path))
            continue
        changes = git("status", "--porcelain", cwd=path, check=False).out.strip()
        if changes:
            found.append(
                Finding(
                    name,
                    WARN,
                    f"{path} is a worktree the ledger does not know, with uncommitted changes.",
                    fix=f"Commit or copy what you want of it, then `git -C {clone} worktree "
                    f"remove {path}`.",
                )
            )
            continue

        def remove(path: Path = path) -> list[str]:
            # Without --force git refuses a worktree with changes: the last guard of the work.
            git("worktree", "remove", str(path), cwd=clone)
            return [f"Removed the worktree {path} (no uncommitted changes; its branch is kept)."]

        found.append(
            Finding(
                name,
                WARN,
                f"{path} is a worktree the ledger does not know (on "
                f"{by_path[path].branch or 'a detached HEAD'}, nothing uncommitted).",
                fix=f"`git -C {clone} worktree remove {path}` (or `gt doctor --fix`).",
                repair=remove,
            )
        )
    return found


def _not_a_worktree(name: str, clone: Path, path: Path) -> Finding:
    return Finding(
        name,
        WARN,
        f"{path} is not a worktree of {clone}.",
        fix="Look inside, keep what you need, and remove the folder by hand.",
    )
