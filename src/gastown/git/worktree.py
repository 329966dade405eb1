"""Polecat worktrees: one per polecat per rig, inside the town, reused from bead to bead.

A run's branch is `gt/<polecat>/<bead-id>`, cut from the freshly fetched target branch (or a
convoy's feature branch). Nothing here deletes a branch or throws work away: uncommitted
changes left in a worktree are committed to the branch they were made on before the worktree
moves to another branch, and a retry of a bead continues on the branch it already has.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from gastown.errors import GitError
from gastown.git.messages import earlier_run
from gastown.git.repo import git
from gastown.record import Record


class Identity(Record):
    """Who commits: polecats commit as `<rig>/polecat/<name>`."""

    name: str
    """The author and committer name."""
    email: str
    """The author and committer email (under `gastown.invalid`: never mailed)."""

    def env(self) -> dict[str, str]:
        """Environment that makes git (and the agent's own git calls) commit as this identity."""
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }


def polecat_identity(rig: str, polecat: str) -> Identity:
    """Who a polecat commits as in `rig`: `<rig>/polecat/<name>`."""
    return Identity(f"{rig}/polecat/{polecat}", f"{polecat}.polecat@{rig}.gastown.invalid")


def branch_name(polecat: str, bead_id: str) -> str:
    """The branch a polecat works on for a bead: `gt/<polecat>/<bead-id>`."""
    return f"gt/{polecat}/{bead_id}"


_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def clone_lock(clone: Path) -> threading.Lock:
    """One lock per rig clone (by its resolved path): whatever writes the clone's shared refs
    or worktree list (a dispatch preparing a worktree, a refinery fetch or push) takes it."""
    with _locks_guard:
        return _locks.setdefault(clone, threading.Lock())


def ensure_clone(clone: Path, url: str, branch: str) -> bool:
    """Clone the rig at `clone` unless it is there already (a town folder that joined a town
    another host made, or a rig another host added); whether it cloned. The clone is made
    beside and moved in whole, so a clone cut short is never taken for the rig's."""
    if (clone / ".git").exists():
        return False
    with clone_lock(clone):
        if (clone / ".git").exists():
            return False
        clone.parent.mkdir(parents=True, exist_ok=True)
        making = clone.with_name(f".{clone.name}.cloning")
        shutil.rmtree(making, ignore_errors=True)
        git("clone", "--quiet", "--branch", branch, url, str(making), timeout=1800)
        if clone.is_dir():  # an empty folder left where the clone goes
            clone.rmdir()
        making.rename(clone)
    return True


def fetch(clone: Path) -> None:
    """Bring the canonical clone's view of the remote up to date."""
    git("fetch", "--quiet", "--prune", "origin", cwd=clone, timeout=600)


def base_commit(clone: Path, base: str, create_from: str | None = None) -> str:
    """The commit a new branch starts from: the remote's `base`, else a local branch `base`;
    when neither exists and `create_from` is given, `base` is made from that branch first (a
    convoy's feature branch starts at the rig's target)."""
    for ref in (f"refs/remotes/origin/{base}", f"refs/heads/{base}"):
        found = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=clone, check=False)
        if found.code == 0:
            return found.out.strip()
    if create_from is not None:
        start = base_commit(clone, create_from)
        git("branch", base, start, cwd=clone)
        return start
    raise GitError(f"The branch '{base}' is not in {clone} or its remote.")


def is_worktree(path: Path) -> bool:
    """Whether `path` is a git checkout (a worktree or a clone)."""
    return (path / ".git").exists()


def dirty(worktree: Path) -> bool:
    """Whether the worktree has changes not committed (untracked files too)."""
    return bool(git("status", "--porcelain", cwd=worktree).out.strip())


def head(repo: Path) -> str:
    """The commit HEAD is on."""
    return git("rev-parse", "HEAD", cwd=repo).out.strip()


def current_branch(worktree: Path) -> str:
    """The branch checked out (`HEAD` when detached)."""
    return git("rev-parse", "--abbrev-ref", "HEAD", cwd=worktree).out.strip()


def commit_all(worktree: Path, message: str, identity: Identity) -> bool:
    """Commit everything in the worktree (new files too) as `identity`; False if clean."""
    if not dirty(worktree):
        return False
    git("add", "--all", cwd=worktree)
    git("commit", "--quiet", "--no-verify", "-m", message, cwd=worktree, env=identity.env())
    return True


def ahead(worktree: Path, base: str) -> int:
    """Commits on HEAD that `base` (a commit) does not have."""
    return int(git("rev-list", "--count", f"{base}..HEAD", cwd=worktree).out.strip() or 0)


def commit_folders(worktree: Path) -> list[Path]:
    """The folders a commit on `worktree`'s branch writes, all outside the worktree itself: its
    own git folder (index, HEAD), the clone's objects, and the folders holding its branch's ref
    and reflog (git writes `<ref>.lock` beside the ref). A sandboxed agent is given these, and
    nothing more of the clone: its config and hooks, which the town's own git runs, stay shut."""
    asked = ("--path-format=absolute", "--git-dir", "--git-common-dir", "--symbolic-full-name")
    own, common, ref = git("rev-parse", *asked, "HEAD", cwd=worktree).out.splitlines()
    shared = Path(common)
    folders = [Path(own), shared / "objects"]
    if ref.startswith("refs/heads/"):  # a detached HEAD (a review) has no branch to move
        folders += [(shared / ref).parent, (shared / "logs" / ref).parent]
    return [f for f in folders if f.is_dir()]


def prepare(
    clone: Path,
    worktree: Path,
    branch: str,
    base: str,
    identity: Identity,
    *,
    refresh: bool = True,
    create_from: str | None = None,
) -> str:
    """Put `worktree` on `branch` for a new run and return the base commit it is measured
    against. A new branch is cut from the freshly fetched `base`; an existing one (a retry)
    is checked out as it is. Work left uncommitted by an earlier run is committed first."""
    clone, worktree = clone.resolve(), worktree.resolve()
    with clone_lock(clone):  # git's own locks refuse a second fetch or worktree add at once
        return _prepare(clone, worktree, branch, base, identity, refresh, create_from)


def _prepare(
    clone: Path,
    worktree: Path,
    branch: str,
    base: str,
    identity: Identity,
    refresh: bool,
    create_from: str | None,
) -> str:
    if refresh:
        fetch(clone)
    start = base_commit(clone, base, create_from)
    if not is_worktree(worktree):
        worktree.parent.mkdir(parents=True, exist_ok=True)
        made = git(
            "worktree", "add", "--quiet", "-b", branch, str(worktree), start, cwd=clone, check=False
        )
        if made.code != 0:  # the branch exists (a retry, a rework): check it out as it is
            release(clone, branch, identity)
            git("worktree", "add", "--quiet", str(worktree), branch, cwd=clone)
            catch_up(worktree, start)
        return start
    was = current_branch(worktree)
    if was == branch:  # a retry on the same polecat: carry on
        catch_up(worktree, start)
        return start
    # One look at what the earlier run left: changes are committed to its own branch, and
    # ignored output (a build, a cache) is noted to be cleaned away after the switch.
    left = git("status", "--porcelain", "--ignored", cwd=worktree).out.splitlines()
    if any(not line.startswith("!!") for line in left):
        commit_all(worktree, earlier_run(was), identity)
    # Try a new branch first (the common case); an existing one (a retry) is checked out.
    created = git("checkout", "--quiet", "-b", branch, start, cwd=worktree, check=False)
    if created.code != 0:
        release(clone, branch, identity, keep=worktree)
        git("checkout", "--quiet", branch, cwd=worktree)
        catch_up(worktree, start)
    # Exactly the branch, nothing else: a run must not find, or land, another bead's files.
    if any(line.startswith("!!") for line in left):
        git("clean", "-ffdxq", cwd=worktree)
    return start


def catch_up(worktree: Path, start: str) -> None:
    """A branch taken up again with no commits of its own (an attempt that failed before it
    committed) moves to the fresh `start`, so the retry does not work on an old target."""
    if ahead(worktree, start) == 0:
        git("merge", "--ff-only", "--quiet", start, cwd=worktree, check=False)


def release(clone: Path, branch: str, identity: Identity, keep: Path | None = None) -> None:
    """Free `branch` for another worktree: the idle worktree still on it (the polecat that
    made it, say) saves what it left uncommitted there and lets go of it (detached HEAD)."""
    holder: Path | None = None
    for line in git("worktree", "list", "--porcelain", cwd=clone).out.splitlines():
        if line.startswith("worktree "):
            path = Path(line.removeprefix("worktree "))
        elif line == f"branch refs/heads/{branch}":
            holder = path
    if holder is None or holder.resolve() in (clone, keep):
        return
    commit_all(holder, earlier_run(branch), identity)
    git("checkout", "--quiet", "--detach", cwd=holder)
