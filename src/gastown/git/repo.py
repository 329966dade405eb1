"""Run git; read remotes; clone. Every failure becomes a GitError with git's own words."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from gastown.errors import GitError
from gastown.record import Record

# Never stop for a password or a host-key question: a town runs unattended.
QUIET_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes", "LC_ALL": "C"}


_auth: dict[str, str] = {}
"""URL prefix → an `Authorization: …` header every git this process runs sends there."""


def authorize(prefix: str, header: str | None) -> None:
    """Have every git this process runs send `header` to URLs under `prefix` (None forgets
    it). It goes to git through the environment (`GIT_CONFIG_*`), never into a remote URL, a
    config file, an argument list or a log; agents, started with their own environment, never
    get it."""
    if header is None:
        _auth.pop(prefix, None)
    else:
        _auth[prefix] = header


def _auth_env() -> dict[str, str]:
    if not _auth:
        return {}
    base = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    env: dict[str, str] = {}
    for n, (prefix, header) in enumerate(sorted(_auth.items()), start=base):
        env[f"GIT_CONFIG_KEY_{n}"] = f"http.{prefix}.extraHeader"
        env[f"GIT_CONFIG_VALUE_{n}"] = header
    env["GIT_CONFIG_COUNT"] = str(base + len(_auth))
    return env


class GitResult(Record):
    code: int
    """git's exit code."""
    out: str
    """What it printed on stdout."""
    err: str
    """What it printed on stderr."""


def git(
    *args: str,
    cwd: Path | None = None,
    check: bool = True,
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> GitResult:
    """Run git with no prompts; `env` adds to the environment (an author identity, say);
    `input` is written to its standard input."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            env={**os.environ, **QUIET_ENV, **_auth_env(), **(env or {})},
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH.") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took longer than {timeout:.0f} s and was stopped.") from None
    result = GitResult(done.returncode, done.stdout, done.stderr)
    if check and done.returncode != 0:
        raise GitError(f"git {args[0]} failed: {_first_line(done.stderr)}")
    return result


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line.split(":", 1)[1].strip()
    return lines[-1] if lines else "no message"


def normalize_url(url: str) -> str:
    """Local paths become absolute; URLs stay as they are."""
    if "://" in url or (":" in url and not url.startswith(("/", ".", "~"))):
        return url
    return str(Path(url).expanduser().resolve())


def remote_branches(url: str) -> tuple[str | None, list[str]]:
    """The remote's HEAD branch (None if it has none) and all its branches."""
    result = git("ls-remote", "--symref", url, check=False, timeout=60)
    if result.code != 0:
        raise GitError(
            f"'{url}' is not a git repository Gas Town can reach: {_first_line(result.err)}",
            hint="Check the path or URL, and that you can `git clone` it.",
        )
    head: str | None = None
    branches: list[str] = []
    for line in result.out.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            head = line.split()[1].removeprefix("refs/heads/")
        else:
            parts = line.split("\t")
            if len(parts) == 2 and parts[1].startswith("refs/heads/"):
                branches.append(parts[1].removeprefix("refs/heads/"))
    return head, branches


def default_branch(url: str, wanted: str | None = None) -> str:
    """The branch work should land on: `wanted` if the remote has it, else the remote's HEAD."""
    head, branches = remote_branches(url)
    if wanted is not None:
        if wanted not in branches:
            raise GitError(
                f"'{url}' has no branch '{wanted}'.",
                hint=("Its branches: " + ", ".join(sorted(branches)[:10]))
                if branches
                else "It has no branches yet; push a first commit.",
            )
        return wanted
    if head and head in branches:
        return head
    if len(branches) == 1:
        return branches[0]
    if not branches:
        raise GitError(f"'{url}' has no branches yet.", hint="Push a first commit, then add it.")
    raise GitError(
        f"Cannot tell the default branch of '{url}'.",
        hint="Name it with --branch (one of: " + ", ".join(sorted(branches)[:10]) + ").",
    )


def clone(url: str, dest: Path, branch: str) -> None:
    """Clone `url` into `dest` with `branch` checked out."""
    git("clone", "--quiet", "--branch", branch, url, str(dest), timeout=1800)
