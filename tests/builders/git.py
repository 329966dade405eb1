"""Plain git in a work tree as the developer `Dev`, for the forge tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(*args: str, cwd: Path) -> str:
    """Run git as `Dev` in `cwd`; its output, stripped."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **IDENTITY},
    )
    return done.stdout.strip()


def commit(work: Path, branch: str, name: str, text: str) -> str:
    """Commit `name` with `text` on `branch` (cut from main if new), push it; the new tip."""
    exists = git("branch", "--list", branch, cwd=work)
    git("checkout", "-q", branch if exists else "-b", *([] if exists else [branch]), cwd=work)
    (work / name).write_text(text)
    git("add", name, cwd=work)
    git("commit", "-q", "-m", f"{branch}: {name}", cwd=work)
    git("push", "-q", "origin", branch, cwd=work)
    git("checkout", "-q", "main", cwd=work)
    return git("rev-parse", branch, cwd=work)
