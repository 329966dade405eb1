"""The refinery's git: a scratch worktree, branches put onto a target, the one commit that
lands, diffs, and pushes that can only move a branch forward.

The scratch worktree (`worktrees/<rig>/.refinery`) is always on a detached HEAD, so it never
holds a branch another worktree needs, and nothing here deletes a branch. Pushes go through
`push`, which takes nothing but `<sha>:refs/heads/<branch>` onto the rig's target or a branch
the town made, and no flag outside a short allow-list: a branch is never rewritten or removed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from gastown.errors import GitError, Refused, RuntimeFailure
from gastown.git import refusals
from gastown.git.repo import git
from gastown.git.worktree import Identity, is_worktree
from gastown.record import Record

PUSH_FLAGS = frozenset({"--quiet", "--porcelain", "--atomic", "--verbose"})
"""The only flags a refinery push may carry (never --force, --force-with-lease, --no-verify,
--mirror or --delete)."""


class PushRejected(RuntimeFailure):
    """The remote refused a push (it moved on, or a hook or protection said no): the reason
    on the first line, every line git and the remote wrote quoted below it. Nothing the
    person at the command line asked for was wrong, so it is a runtime failure."""

    code = "push_rejected"


class Applied(Record):
    """One branch put onto the scratch HEAD: the commit it made, or the files that conflict."""

    commit: str | None
    """The commit it made, or None when it conflicted."""
    conflicts: list[str]
    """The files that conflict (empty when it applied)."""


def refinery_identity(rig: str) -> Identity:
    """Who the refinery commits as in `rig` (merges and squashes)."""
    return Identity(f"{rig}/refinery", f"refinery@{rig}.gastown.invalid")


def scratch(clone: Path, path: Path) -> Path:
    """The refinery's worktree of `clone` at `path`, made on first use (detached)."""
    if not is_worktree(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        git("worktree", "prune", cwd=clone)
        git("worktree", "add", "--quiet", "--detach", str(path), "HEAD", cwd=clone)
    return path


def reset(worktree: Path, commit: str) -> None:
    """Put the scratch worktree exactly on `commit`, dropping whatever a step left there
    (ignored files stay, as in a developer's checkout: build caches survive)."""
    for leftover in ("MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD"):
        if (git_dir(worktree) / leftover).exists():
            git("merge", "--abort", cwd=worktree, check=False)
            git("rebase", "--abort", cwd=worktree, check=False)
            git("cherry-pick", "--abort", cwd=worktree, check=False)
            break
    git("checkout", "--quiet", "--force", "--detach", commit, cwd=worktree)
    git("reset", "--quiet", "--hard", commit, cwd=worktree)
    git("clean", "-ffdq", cwd=worktree)


def git_dir(worktree: Path) -> Path:
    """The worktree's own git folder (where MERGE_HEAD and the like are kept)."""
    found = Path(git("rev-parse", "--git-dir", cwd=worktree).out.strip())
    return found if found.is_absolute() else worktree / found


def rev(repo: Path, ref: str) -> str | None:
    """The commit `ref` names in `repo`, or None when it names none."""
    found = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repo, check=False)
    return found.out.strip() if found.code == 0 else None


def is_ancestor(repo: Path, older: str, newer: str) -> bool:
    """Whether `older` is `newer` or one of its ancestors."""
    return git("merge-base", "--is-ancestor", older, newer, cwd=repo, check=False).code == 0


def brings(repo: Path, base: str, head: str) -> bool:
    """Whether `head` has a change `base` lacks. A commit whose change is in `base` already
    counts as in: a landing made it again (to add its trailers) or rebased it, and a step that
    stopped after its push but before recording it must not land it twice."""
    if is_ancestor(repo, head, base):
        return False
    out = git("rev-list", "--right-only", "--cherry-pick", f"{base}...{head}", cwd=repo).out
    return bool(out.strip())


def put_on(
    worktree: Path,
    head: str,
    message: str,
    identity: Identity,
    *,
    method: str = "merge",
    fast_forward: bool = True,
) -> Applied:
    """Put commit `head` onto the worktree's HEAD (the stack the gates test, not what lands):
    a fast-forward when it is one commit ahead and `fast_forward` allows, else a merge commit
    (`merge`) or its commits replayed (`rebase`).
    A conflict leaves the worktree as it was and names the conflicting files."""
    env = identity.env()
    current = git("rev-parse", "HEAD", cwd=worktree).out.strip()
    if not brings(worktree, current, head):  # already in: nothing to add
        return Applied(current, [])
    if (
        fast_forward
        and is_ancestor(worktree, current, head)
        and _count(worktree, current, head) == 1
    ):
        git("merge", "--quiet", "--ff-only", head, cwd=worktree, env=env)
        return Applied(git("rev-parse", "HEAD", cwd=worktree).out.strip(), [])
    if method == "rebase":
        base = git("merge-base", current, head, cwd=worktree).out.strip()
        done = git(
            "rebase", "--quiet", "--onto", current, base, head, cwd=worktree, env=env, check=False
        )
        if done.code != 0:
            files = _unmerged(worktree)
            git("rebase", "--abort", cwd=worktree, check=False)
            git("checkout", "--quiet", "--force", "--detach", current, cwd=worktree)
            return Applied(None, files or _mentioned(done.out + done.err))
        return Applied(git("rev-parse", "HEAD", cwd=worktree).out.strip(), [])
    done = git(
        "merge", "--quiet", "--no-ff", "--no-edit", "-m", message, head,
        cwd=worktree, env=env, check=False,
    )  # fmt: skip
    if done.code != 0:
        files = _unmerged(worktree)
        git("merge", "--abort", cwd=worktree, check=False)
        git("reset", "--quiet", "--hard", current, cwd=worktree)
        if not files:
            raise GitError(f"git merge failed: {(done.err or done.out).strip()}")
        return Applied(None, files)
    return Applied(git("rev-parse", "HEAD", cwd=worktree).out.strip(), [])


def tree(repo: Path, commit: str) -> str:
    """The tree of `commit`."""
    return git("rev-parse", f"{commit}^{{tree}}", cwd=repo).out.strip()


def parents(repo: Path, commit: str) -> list[str]:
    """The parents of `commit`, first parent first."""
    return git("rev-list", "--parents", "-n", "1", commit, cwd=repo).out.split()[1:]


def outermost(repo: Path, base: str, heads: Sequence[str]) -> list[str]:
    """The fewest of `heads` that bring all of them onto `base`: those neither `base` nor
    another head already holds, in their order."""
    kept = []
    for head in dict.fromkeys(heads):
        if is_ancestor(repo, head, base):
            continue
        if any(other != head and is_ancestor(repo, head, other) for other in heads):
            continue
        kept.append(head)
    return kept


def commit_tree(
    repo: Path,
    tree: str,
    parents: Sequence[str],
    message: str,
    identity: Identity,
    author_of: str | None = None,
) -> str:
    """A new commit of `tree` on `parents`, committed by `identity` (and authored by it, or
    by whoever authored `author_of`, date included)."""
    env = identity.env()
    if author_of is not None:
        who = git("show", "-s", "--format=%an%x00%ae%x00%ad", "--date=raw", author_of, cwd=repo)
        name, email, date = who.out.rstrip("\n").split("\0")
        env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_DATE=date)
    linked = [arg for parent in parents for arg in ("-p", parent)]
    made = git("commit-tree", tree, *linked, "-F", "-", cwd=repo, env=env, input=message)
    return made.out.strip()


def with_trailers(
    repo: Path, commit: str, trailers: Sequence[tuple[str, str]], identity: Identity
) -> str:
    """`commit` if its message has every one of `trailers`; else the same change (tree,
    parents, author) committed again by `identity` with the missing ones appended."""
    have = git("show", "-s", "--format=%(trailers:only,unfold)", commit, cwd=repo).out
    present = {
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in have.splitlines())
    }
    missing = [t for t in trailers if t not in present]
    if not missing:
        return commit
    message = git("show", "-s", "--format=%B", commit, cwd=repo).out.rstrip("\n") + "\n"
    added = [arg for key, value in missing for arg in ("--trailer", f"{key}: {value}")]
    amended = git("interpret-trailers", *added, cwd=repo, input=message).out
    return commit_tree(
        repo, tree(repo, commit), parents(repo, commit), amended, identity, author_of=commit
    )


def _count(repo: Path, older: str, newer: str) -> int:
    return int(git("rev-list", "--count", f"{older}..{newer}", cwd=repo).out.strip() or 0)


def _unmerged(worktree: Path) -> list[str]:
    out = git("diff", "--name-only", "--diff-filter=U", cwd=worktree, check=False).out
    return sorted({line.strip() for line in out.splitlines() if line.strip()})


def _mentioned(text: str) -> list[str]:
    """Files named in git's `CONFLICT (...): Merge conflict in PATH` lines."""
    marker = "Merge conflict in "
    return sorted({ln.split(marker, 1)[1].strip() for ln in text.splitlines() if marker in ln})


def conflict_context(repo: Path, target: str, head: str, files: Sequence[str]) -> str:
    """What each side did to the conflicting files since they parted, for the polecat that
    resolves the conflict (bounded)."""
    base = git("merge-base", target, head, cwd=repo, check=False).out.strip()
    if not base:
        return ""
    parts = []
    for label, tip in (("the target", target), ("this branch", head)):
        diff = git("diff", "--stat", f"{base}..{tip}", "--", *files, cwd=repo, check=False).out
        log = git("log", "--oneline", "-n", "10", f"{base}..{tip}", "--", *files, cwd=repo).out
        parts.append(f"On {label} since they parted:\n{log.strip()}\n{diff.strip()}")
    return "\n\n".join(parts)[:6000]


def diff(repo: Path, target: str, head: str, limit: int = 60_000) -> tuple[str, bool]:
    """The change `head` brings onto `target` (three-dot), cut at `limit` characters; and
    whether it was cut."""
    text = git("diff", "--no-color", "--no-ext-diff", f"{target}...{head}", cwd=repo).out
    return (text[:limit], True) if len(text) > limit else (text, False)


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")


def owned(branch: str) -> bool:
    """A branch the town made: a polecat's `gt/<polecat>/<bead>` or a convoy's feature branch
    `convoy/<slug>/<id>`."""
    parts = branch.split("/")
    return len(parts) == 3 and parts[0] in ("gt", "convoy") and all(parts)


def push(
    repo: Path,
    remote: str,
    refspecs: Sequence[str],
    *flags: str,
    target: str,
    pull_branch: str | None = None,
) -> None:
    """Push commits onto branches, never forcing and never deleting. Every refspec must be
    exactly `<sha>:refs/heads/<branch>`, the branch being `target` (the rig's target branch,
    named by the caller), one the town made (`owned`), or `pull_branch`: the head branch of
    the one person's pull request the caller babysits; every flag must be in `PUSH_FLAGS`.
    Anything else is refused before git runs. A rejection by the remote is a `PushRejected`
    with git's own words."""
    for flag in flags:
        if flag not in PUSH_FLAGS:
            raise Refused(f"The refinery does not push with {flag}.")
    if not remote or remote.startswith("-"):
        raise Refused(f"The refinery does not push to the remote '{remote}'.")
    if not refspecs:
        raise Refused("The refinery pushes only named commits onto named branches.")
    for spec in refspecs:
        sha, colon, ref = spec.partition(":")
        branch = ref.removeprefix("refs/heads/")
        if not (
            colon
            and _SHA.fullmatch(sha)
            and ref.startswith("refs/heads/")
            and _BRANCH.fullmatch(branch)
            and ".." not in branch
            and not branch.endswith(".lock")
        ):
            raise Refused(
                f"The refinery pushes only `<commit sha>:refs/heads/<branch>`, not '{spec}'."
            )
        if branch != target and not owned(branch) and branch != pull_branch:
            raise Refused(
                f"The refinery does not push to '{branch}': it is neither {target} nor a "
                "branch the town made."
            )
    done = git("push", *flags, remote, *refspecs, cwd=repo, check=False, timeout=600)
    if done.code != 0:
        lines = refusals.said(done.err)
        summary = f"The push to {remote} was rejected: {refusals.reason(lines).rstrip('.')}."
        raise PushRejected(refusals.quote(summary, lines))


def remote_tip(repo: Path, remote: str, branch: str) -> str | None:
    """Where `branch` is on the remote now (None if it has no such branch)."""
    out = git("ls-remote", remote, f"refs/heads/{branch}", cwd=repo, timeout=120).out.split()
    return out[0] if out else None


def checked_out(repo: Path, branch: str) -> bool:
    """Whether some worktree of `repo` has `branch` checked out."""
    out = git("worktree", "list", "--porcelain", cwd=repo).out
    return f"branch refs/heads/{branch}" in out.splitlines()


def follow_local(repo: Path, branch: str, commit: str) -> None:
    """Move a local branch that no worktree has checked out to `commit` (a convoy's feature
    branch after a landing on it), so work cut from it later starts from what landed."""
    current = rev(repo, f"refs/heads/{branch}")
    if current is None or current == commit or checked_out(repo, branch):
        return
    if is_ancestor(repo, current, commit):
        git("update-ref", f"refs/heads/{branch}", commit, current, cwd=repo)


def merge_base(repo: Path, one: str, other: str) -> str:
    """The best common ancestor of `one` and `other` (git refuses if there is none)."""
    return git("merge-base", one, other, cwd=repo).out.strip()
