"""What a merge request or a run changed, read with git from the rig's clone.

A merge request shows what it would bring onto its target: from the merge base of the target
and its head (the refinery's reviewer sees the same). Once landed, the target holds its head,
so it shows from the commit its branch was cut from. A run shows its own commits: from the
commit its worktree started at (`logs/runs/<run>/base`) to the head it left (`head` beside
it, else its merge request's), or to its branch as it is now while it works.

Bad input is a `UserError` in one sentence: an unknown id (`NotFound`) or commits the clone no
longer has (`GitError`). A run that made no commits is not an error: `Change.empty` says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from gastown.errors import GitError, NotFound
from gastown.git import diff as gd
from gastown.git import merge as gm
from gastown.model import MergeRequest, Run
from gastown.record import Record, field
from gastown.services import merge_requests
from gastown.store import Tx


class Change(Record):
    """A merge request's or a run's change, ready to show."""

    kind: Literal["mr", "run"]
    """`mr` for a merge request's change, `run` for a run's."""
    id: str
    """The merge request's or the run's id."""
    rig: str
    """The rig it is in."""
    branch: str
    """The branch that holds it."""
    diff: gd.Diff | None
    """None when there is nothing to show (`empty` says why)."""
    comments: list[dict[str, Any]] = field(default_factory=list)
    """The reviewer's `{"path", "line", "body"}` (line in the new version; either may be None)."""
    empty: str | None = None
    """Why there is no diff to show, in words (None when there is one)."""

    def to_json(self) -> dict[str, Any]:
        """The change as the API gives it: the files in brief, the counts, the review's
        comments."""
        d = self.diff
        return {
            "kind": self.kind,
            "id": self.id,
            "rig": self.rig,
            "branch": self.branch,
            "base": d.base if d else None,
            "head": d.head if d else None,
            "files": [f.summary() for f in d.files] if d else [],
            "added": d.added if d else 0,
            "removed": d.removed if d else 0,
            "cut": d.cut if d else False,
            "comments": self.comments,
            "empty": self.empty,
        }


def of_merge_request(tx: Tx, town: Path, text: str, limit: int = gd.LIMIT) -> Change:
    """The change merge request `text` (an id or its start) brings onto its target."""
    mr = merge_requests.resolve(tx, text)
    clone = _clone(tx, town, mr.rig)
    head = _commit(clone, mr.head_commit, f"merge request {mr.id}", mr.branch)
    target = gm.rev(clone, f"refs/remotes/origin/{mr.target}") or gm.rev(
        clone, f"refs/heads/{mr.target}"
    )
    base = None
    if target is not None and not gm.is_ancestor(clone, head, target):
        base = gd.merge_base(clone, target, head)
    base = _commit(clone, base or mr.base_commit, f"merge request {mr.id}", mr.target)
    return Change("mr", mr.id, mr.rig, mr.branch, gd.read(clone, base, head, limit), _said(mr))


def of_run(tx: Tx, town: Path, run_id: str, limit: int = gd.LIMIT) -> Change:
    """The commits run `run_id` made on its branch."""
    run = tx.get_run(run_id)
    if run is None:
        raise NotFound(f"There is no run '{run_id}'.", hint="`gt runs` lists runs.")
    mr = merge_request_of(tx, run)
    clone = _clone(tx, town, run.rig)
    change = Change("run", run.id, run.rig, run.branch, None, _said(mr) if mr else [])
    saved = town / "logs" / "runs" / run.id
    base = _saved(saved / "base") or (mr.base_commit if mr else None)
    if base is None:
        change.empty = f"Run {run.id} made no commits: it never got as far as its worktree."
        return change
    head = _saved(saved / "head") or (mr.head_commit if mr else None) or _branch(clone, run)
    where = f"run {run.id}"
    base, head = _commit(clone, base, where, run.branch), _commit(clone, head, where, run.branch)
    if gd.commits(clone, base, head) == 0:
        change.empty = f"Run {run.id} made no commits on {run.branch}."
        return change
    change.diff = gd.read(clone, base, head, limit)
    return change


def merge_request_of(tx: Tx, run: Run) -> MergeRequest | None:
    """The merge request `run` made, if it made one."""
    made = tx.list_merge_requests(bead_id=run.bead_id)
    return next((m for m in made if m.run_id == run.id), None)


def _said(mr: MergeRequest) -> list[dict[str, Any]]:
    return [c for c in (mr.review or {}).get("comments") or [] if isinstance(c, dict)]


def _clone(tx: Tx, town: Path, rig_name: str) -> Path:
    rig = tx.get_rig(rig_name)
    if rig is None or not (town / rig.path).is_dir():
        raise GitError(
            f"The clone of rig '{rig_name}' is not in this town any more.",
            hint="`gt rig list` shows the town's rigs.",
        )
    return town / rig.path


def _saved(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _branch(clone: Path, run: Run) -> str:
    found = gm.rev(clone, f"refs/heads/{run.branch}")
    if found is None:
        raise GitError(
            f"The branch {run.branch} of run {run.id} is gone from the rig's clone.",
            hint="It was deleted or pruned; its commits cannot be shown.",
        )
    return found


def _commit(clone: Path, sha: str, whose: str, branch: str) -> str:
    if not gd.has_commit(clone, sha):
        raise GitError(
            f"Commit {sha[:10]} of {whose} ({branch}) is no longer in the rig's clone.",
            hint="Its branch was deleted or pruned, so its change cannot be shown.",
        )
    return sha
