"""A run on a `gt worker`: its work reaches the rig's remote, where the leader's refinery
fetches it.

Before the run's end is recorded, its head is pushed to a ref of its own,
`refs/gastown/runs/<run>`, which no other run ever writes; the merge request names that
commit. Only once the ledger has accepted the end does the branch itself move on the remote
(forced: the ledger, not the remote, says which attempt's work counts). A worker whose run was
taken from it while it was frozen may still push its own run ref when it wakes, but its end is
refused, so that commit is never a merge request's head and the branch never moves to it.
"""

from __future__ import annotations

from pathlib import Path

from gastown.errors import RuntimeFailure
from gastown.git.merge import checked_out
from gastown.git.repo import git
from gastown.git.worktree import clone_lock, ensure_clone
from gastown.model import Run
from gastown.record import Record

RUN_REFS = "refs/gastown/runs"


def run_ref(run_id: str) -> str:
    """The remote ref that holds run `run_id`'s head."""
    return f"{RUN_REFS}/{run_id}"


class Remote(Record):
    """What a worker does with a run's work besides what the town process does."""

    host: str
    """The worker's name."""

    def prepare(self, clone: Path, url: str, target: str, branch: str, earlier: bool) -> None:
        """Have the rig's clone in the worker's home (cloned once, whole, by the first run that
        needs it; fetched by each run) and, when the bead was worked before (`earlier`: a
        retry or a rework continues its branch), `branch` as the remote has it."""
        ensure_clone(clone, url, target)
        if not earlier:
            return
        with clone_lock(clone):
            found = git("ls-remote", "origin", f"refs/heads/{branch}", cwd=clone, timeout=120)
            if found.out.strip() and not checked_out(clone, branch):
                git(
                    "fetch",
                    "--quiet",
                    "origin",
                    f"+refs/heads/{branch}:refs/heads/{branch}",
                    cwd=clone,
                    timeout=600,
                )

    def publish(self, worktree: Path, run: Run, head: str) -> None:
        """Push the run's head to its own ref on the remote, before its end is recorded."""
        _push(worktree, f"+{head}:{run_ref(run.id)}")

    def settle(self, worktree: Path, run: Run, head: str) -> None:
        """Move the run's branch on the remote to its head, once the ledger took its end."""
        _push(worktree, f"+{head}:refs/heads/{run.branch}")


def _push(worktree: Path, spec: str) -> None:
    done = git("push", "--quiet", "origin", spec, cwd=worktree, check=False, timeout=600)
    if done.code != 0:
        said = done.err.strip().splitlines()
        raise RuntimeFailure(
            f"Pushing {spec.partition(':')[2]} to the rig's remote failed: "
            f"{said[-1] if said else 'git gave no reason'}."
        )


def fetch_runs(clone: Path, run_ids: list[str]) -> None:
    """Bring the heads of runs that ran on workers into the leader's clone (the refinery
    merges by commit)."""
    if run_ids:
        specs = [f"+{run_ref(r)}:{run_ref(r)}" for r in run_ids]
        git("fetch", "--quiet", "origin", *specs, cwd=clone, timeout=600)
