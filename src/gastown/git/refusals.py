"""Why a remote refuses pushes, in git's own words or before the first push is tried.

A refused push is quoted whole, line by line: a pre-receive hook or a server explains itself
over several lines, and the line that says what to do is rarely the first. A local remote that
is a checkout with the target branch checked out refuses every push to that branch ("refusing
to update checked out branch"); `checked_out_target` finds it when a rig is added and when
`gt doctor` looks, so nobody learns it from the first landing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from gastown.limits import printable

QUOTE_CHARS = 3000
"""Most characters of git's words kept in a refusal: an escalation holds 4000 in all."""
_PUSHES_TAKEN = ("updateinstead", "ignore", "warn", "false", "no", "off", "0")
"""`receive.denyCurrentBranch` values that let a push move a checked-out branch."""


def said(stderr: str) -> list[str]:
    """The lines git and the remote wrote about a refused push, terminal escapes and control
    characters made harmless, `To <remote>` left out (the caller names the remote). When they
    run past `QUOTE_CHARS`, the first and last lines stay and the middle is counted."""
    lines = [
        printable(line.rstrip(), one_line=True, limit=1000)
        for line in stderr.splitlines()
        if line.strip() and not line.startswith("To ")
    ]
    if sum(len(line) + 1 for line in lines) <= QUOTE_CHARS:
        return lines
    head: list[str] = []
    used = 0
    for line in lines:  # two thirds from the start, where the reason usually is
        if used + len(line) + 1 > QUOTE_CHARS * 2 // 3:
            break
        head.append(line)
        used += len(line) + 1
    tail: list[str] = []
    for line in reversed(lines[len(head) :]):  # the rest from the end, where git sums up
        if used + len(line) + 1 > QUOTE_CHARS - 40:
            break
        tail.append(line)
        used += len(line) + 1
    left_out = len(lines) - len(head) - len(tail)
    return [*head, f"… ({left_out} more lines)", *tail[::-1]]


def reason(lines: list[str]) -> str:
    """The line that says best why: the remote's or git's first error, else the rejected ref,
    else the last line."""
    for line in lines:
        text = line.removeprefix("remote:").strip()
        if text.startswith(("error:", "fatal:")):
            return text.split(":", 1)[1].strip()
    for line in lines:
        if "[rejected]" in line or "[remote rejected]" in line:
            return line.lstrip(" !").strip()
    return lines[-1] if lines else "no message"


def quote(summary: str, lines: list[str]) -> str:
    """`summary` on the first line, git's lines indented below it."""
    return summary + "".join(f"\n    {line}" for line in lines)


def checked_out_target(url: str, branch: str) -> Path | None:
    """The repository `url` names when it is local, not bare, has `branch` checked out in one
    of its worktrees and refuses pushes to it (git's default); None otherwise (a bare
    repository, another branch checked out, pushes let in, or a remote URL)."""
    path = Path(url.removeprefix("file://")) if url.startswith(("/", "file://")) else None
    if path is None or not path.is_dir():
        return None

    def ask(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(path), *args],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    if (ask("rev-parse", "--is-bare-repository") or "true").strip() != "false":
        return None
    deny = (ask("config", "--get", "receive.denyCurrentBranch") or "").strip().lower()
    if deny in _PUSHES_TAKEN:
        return None
    listed = (ask("worktree", "list", "--porcelain") or "").splitlines()
    return path if f"branch refs/heads/{branch}" in listed else None


def checkout_problem(path: Path, branch: str) -> str:
    """Why pushes to the checkout at `path` are refused, in one sentence."""
    return (
        f"{path} is a checkout with {branch} checked out, so it refuses every push that "
        f'lands work on {branch} ("refusing to update checked out branch").'
    )


def checkout_fix(path: Path) -> str:
    """The two ways to let the rig's remote at `path` take pushes, in one sentence."""
    return (
        f"Point the rig at a bare clone (`git clone --bare {path} {path}.git`, then add that), "
        f"or let it take pushes: `git -C {path} config receive.denyCurrentBranch updateInstead`."
    )
