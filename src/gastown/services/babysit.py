"""Babysitting a person's pull request: `gt sling <PR URL>`.

The pull request stays the person's. A bead is made for a polecat to work on the pull
request's own branch: fix the checks that fail and answer the review comments (its body names
both). It goes the way rework goes: a merge request of kind `pull` waits for the bead
(`rework`), its branch the pull request's head branch, fetched from the rig's remote into the
clone; the polecat's run continues that branch, and when it is done the refinery pushes the
new commits to that branch, and to no other (`refinery.babysat`), then follows the pull
request. The town never merges it. Nothing is written before the forge has answered, and a
pull request babysat already answers with the bead working on it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gastown.errors import Conflict, GitError, InvalidValue
from gastown.forge.base import Forge, PullRequest
from gastown.forge.feedback import feedback
from gastown.forge.urls import WorkRef, parse_work
from gastown.git import merge as gm
from gastown.git import worktree as wt
from gastown.git.repo import git
from gastown.limits import printable
from gastown.model import MR_PULL, MR_REWORK, Bead, MergeRequest, Rig
from gastown.services import beads, rigs
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger

if TYPE_CHECKING:
    from gastown.town import Town

LABEL = "babysit"


def sling_pull(
    ledger: Ledger,
    town: Town,
    environ: Mapping[str, str],
    url_or_ref: str | WorkRef,
    *,
    runtime: str | None = None,
    hold: bool = False,
    forge: Forge | None = None,
    model: str | None = None,
) -> Bead:
    """A bead for a polecat to babysit the pull request `url_or_ref` on its own branch (or the
    bead already doing so). `forge` stands in for the rig's client (None: its settings')."""
    from gastown.forge.select import require

    model = beads.model(model)  # refused before the forge is asked anything
    ref = parse_work(url_or_ref) if isinstance(url_or_ref, str) else url_or_ref
    if ref is None or ref.kind != "pull":
        raise InvalidValue(
            f"'{str(url_or_ref)[:200]}' is not the address of a pull or merge request.",
            hint="Give one like https://github.com/OWNER/REPO/pull/7.",
        )
    rig, settings, ref = rigs.of_pull(ledger, town, environ, ref.url)
    forge = forge or require(settings, rig, environ)
    known = _babysat(ledger, rig.name, ref.number)
    if known is not None:
        return known
    pull = forge.get_pull(ref.number)
    if pull.state != "open":
        what = "merged" if pull.merged else "closed"
        raise Conflict(f"Pull request #{pull.number} on {forge.repo} is {what}.")
    if pull.head_ref in (rig.branch, pull.base_ref) or gm.owned(pull.head_ref):
        raise Conflict(
            f"Pull request #{pull.number} comes from `{pull.head_ref}`, which the town does not "
            "babysit: only a person's branch, not the target or one of the town's own."
        )
    lines, seen = feedback(forge, pull, forge.list_check_runs(pull.head_sha), {})
    head = _fetch_branch(town, rig, pull)
    title = printable(f"Babysit pull request #{pull.number}: {pull.title}", one_line=True)
    spec = NewBead(
        title=title[:200],
        body=printable(_body(pull, lines)),
        type="task",
        labels=[LABEL],
        rig=rig.name,
        slung=True,
        held=hold,
        runtime=beads.runtime(runtime),
        model=model,
    )
    with ledger.store.transaction() as tx:
        (bead,) = beads.build(ledger, tx, [spec])
        beads.insert(ledger, tx, [bead], reason=f"babysitting pull request {pull.url}")
        now = ledger.now()
        mr = MergeRequest(
            id=f"mr-{secrets.token_hex(4)}",
            bead_id=None,
            run_id=None,
            rig=rig.name,
            branch=pull.head_ref,
            target=pull.base_ref,
            base_commit=head,
            head_commit=head,
            status=MR_REWORK,
            summary=pull.title,
            created_at=now,
            updated_at=now,
            kind=MR_PULL,
            pr_url=pull.url,
            pr_number=pull.number,
            pr_state={**seen, "babysit": True},
            rework_bead_id=bead.id,
            note=f"babysitting {pull.url} by {pull.author or 'someone'}",
        )
        tx.insert_merge_request(mr)
        ledger.record_event(
            tx,
            "pr.babysat",
            bead_id=bead.id,
            rig=rig.name,
            after={"mr": mr.id, "pr": pull.number, "url": pull.url, "branch": mr.branch},
            reason=mr.note,
        )
    return bead


def _babysat(ledger: Ledger, rig: str, number: int) -> Bead | None:
    """The bead babysitting pull request `number` now, if any."""
    with ledger.store.reader() as tx:
        for mr in tx.list_merge_requests(rig=rig, kind=MR_PULL):
            if mr.pr_number == number and not mr.done and mr.rework_bead_id:
                return tx.get_bead(mr.rework_bead_id)
    return None


def _fetch_branch(town: Town, rig: Rig, pull: PullRequest) -> str:
    """The pull request's head branch from the rig's remote, as a local branch of the same
    name for the polecat's worktree to continue; its tip."""
    clone = (town.path / rig.path).resolve()
    branch = pull.head_ref
    with wt.clone_lock(clone):
        wt.fetch(clone)
        tip = gm.rev(clone, f"refs/remotes/origin/{branch}")
        if tip is None:
            raise GitError(
                f"The branch `{branch}` of pull request #{pull.number} is not on the rig's "
                f"remote (a fork?); the town pushes only to {rig.name}'s own repository."
            )
        local = gm.rev(clone, f"refs/heads/{branch}")
        if local != tip and not gm.checked_out(clone, branch):
            git("update-ref", f"refs/heads/{branch}", tip, cwd=clone)
    return tip


def _body(pull: PullRequest, feedback: list[str]) -> str:
    what = "\n".join(feedback) or (
        "No check fails and no review comment waits: look the change over and fix only what "
        "is clearly broken."
    )
    return (
        f"Babysit pull request #{pull.number} ({pull.url}) by {pull.author or 'someone'}: "
        f"{pull.title}.\n\n"
        f"You work on its own branch `{pull.head_ref}` (onto `{pull.base_ref}`). Fix the "
        "failing checks and answer the review comments below, then commit; the town pushes "
        "your commits to that branch. It is the author's pull request: never merge it, "
        "never rewrite its history.\n\n"
        f"Failing checks and review comments:\n{what}"
    )
