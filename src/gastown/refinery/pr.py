"""Landing through pull requests (`merge_strategy = pr`): open one, then follow it.

Following a pull request, at most every `refinery.pr_poll_seconds`: merged → the merge request
is merged and its bead closed; closed unmerged → the merge request failed and its bead too;
new review comments, requested changes or failing checks → a fix-up bead for a polecat on the
same branch (`refinery.auto_resolve_pr_feedback`; otherwise a person is asked); conflicts → a
conflict bead; all green for `refinery.auto_merge_delay_minutes` → merged through the API.
When a fix-up closes, the merge request goes through the refinery again and its branch is
pushed to the same pull request.

Each look is five reads (the pull request, its reviews, line comments, conversation comments,
the head's check runs), each conditional in the GitHub adapter: a look at a pull request
where nothing changed is answered 304 five times and costs nothing of the rate limit, so an
idle town may look every `refinery.pr_poll_seconds` and still see a check run that changed
alone (which does not move a pull request's `updated_at`) within one poll period.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from gastown.clock import stamp
from gastown.errors import GastownError
from gastown.forge.base import CheckRun, Forge, PullRequest
from gastown.forge.feedback import FAILING, feedback
from gastown.git import merge as gm
from gastown.model import FAILED, IN_REVIEW, MR_PR, MR_PULL, MergeRequest
from gastown.refinery import closing, land, outcome, prepare, review_out
from gastown.services import beads

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep


def open_pull(step: RigStep, mr: MergeRequest, gates: list[dict[str, Any]]) -> None:
    """Push the branch (never forced) and open its pull request (or find the one it has)."""
    gh = step.forge()
    if gh is None:
        outcome.hold(
            step.ledger,
            mr,
            "merge_strategy is pr, but there is no forge token (github.token or GITHUB_TOKEN, "
            "gitlab.token or GITLAB_TOKEN) or no repository name (github.repo or gitlab.repo, "
            "or a github.com or gitlab.com rig URL).",
            gates=gates,
        )
        step.progress.held.append(mr.id)
        return
    try:
        step.push(mr.head_commit, mr.branch)
    except gm.PushRejected as exc:
        land.rejected(step, [mr], mr.branch, str(exc))
        return
    title = step.title_of(mr)
    with step.ledger.store.reader() as tx:
        fixes = closing.keywords(gh, closing.links_for(tx, mr))  # the forge closes them on merge
    body = "\n\n".join(
        part
        for part in (
            mr.summary or "",
            f"Bead: {mr.bead_id}" if mr.bead_id else f"Convoy: {mr.convoy_id}",
            fixes,
            _gates_text(gates),
        )
        if part
    )
    try:
        pull = gh.create_pull(mr.branch, mr.target, title, body)
    except GastownError as exc:
        step.unfinished([mr], f"opening its pull request failed: {exc}")
        return
    now = step.ledger.now()
    opened = outcome.update(
        step.ledger,
        mr,
        "mr.pr_opened",
        f"pull request #{pull.number} opened: {pull.url}",
        {"pr": pull.url},
        status=MR_PR,
        pr_url=pull.url,
        pr_number=pull.number,
        gates=gates,
        pr_state={
            **mr.pr_state,
            "opened_at": mr.pr_state.get("opened_at", now),
            "checked_at": None,
        },
    )
    if opened is not None:
        review_out.post_for(step, opened, pull.number, mr.head_commit)
    step.progress.changed = True


def _gates_text(gates: Sequence[dict[str, Any]]) -> str:
    if not gates:
        return ""
    lines = [f"- `{g['command']}`: {'passed' if g['ok'] else 'failed'}" for g in gates]
    return "Gates run by the refinery:\n" + "\n".join(lines)


def follow_all(step: RigStep, mrs: Sequence[MergeRequest]) -> None:
    gh = step.forge()
    if gh is None:
        return
    now = step.seams.clock.now()
    every = timedelta(seconds=step.sections.refinery.pr_poll_seconds)
    for mr in mrs:
        checked = mr.pr_state.get("checked_at")
        last = _LOOKED.get(mr.id) or (
            datetime.fromisoformat(checked.replace("Z", "+00:00")) if checked else None
        )
        if last is not None and last + every > now:
            continue
        _LOOKED[mr.id] = now
        try:
            follow(step, gh, mr)
        except GastownError as exc:
            failed = f"checking pull request #{mr.pr_number} failed: {exc}"
            if mr.note != failed:  # the same failure again is nothing new
                outcome.update(
                    step.ledger,
                    mr,
                    "mr.pr_checked",
                    failed,
                    pr_state={**mr.pr_state, "checked_at": stamp(now)},
                )


_LOOKED: dict[str, datetime] = {}
"""When this process last looked at each merge request's pull request: a look that finds
nothing new writes nothing, so the time between looks is kept here, not in the ledger."""


def look_again(mr_ids: Iterable[str]) -> None:
    """Look at these merge requests' pull requests on the next step, however recently they
    were looked at: a webhook said they changed."""
    for mr_id in mr_ids:
        _LOOKED[mr_id] = datetime.min.replace(tzinfo=UTC)


def _checked(step: RigStep, mr: MergeRequest, state: dict[str, Any]) -> None:
    """Record what following the pull request saw, only when that changed."""

    def seen(values: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if k != "checked_at" and v is not None}

    if seen(state) != seen(mr.pr_state):
        outcome.update(step.ledger, mr, "mr.pr_checked", reason=None, pr_state=state)


def follow(step: RigStep, gh: Forge, mr: MergeRequest) -> None:
    """One look at the merge request's pull request, and what it calls for."""
    assert mr.pr_number is not None
    pull = gh.get_pull(mr.pr_number)
    now = step.seams.clock.now()
    state = {**mr.pr_state, "checked_at": stamp(now)}
    if pull.merged:
        _merged(step, mr, pull)
        return
    if pull.state == "closed":
        _closed(step, mr, pull)
        return
    if pull.mergeable_state == "dirty" and state.get("conflict_at") != pull.head_sha:
        state["conflict_at"] = pull.head_sha
        prepare.conflict(step, mr, f"origin/{mr.target}", [])
        _checked(step, mr, state)
        return
    runs = gh.list_check_runs(pull.head_sha)
    lines, state = feedback(gh, pull, runs, state)
    if lines:
        _feedback_bead(step, mr, pull, lines, state)
        return
    green = _green(pull, runs)
    # A person's pull request the town only babysits is theirs to merge, never the town's.
    delay = None if mr.kind == MR_PULL else step.sections.refinery.auto_merge_delay_minutes
    if not green or delay is None:
        state["green_since"] = None
        _checked(step, mr, state)
        return
    since = state.get("green_since") or stamp(now)
    state["green_since"] = since
    if datetime.fromisoformat(since.replace("Z", "+00:00")) + timedelta(minutes=delay) > now:
        _checked(step, mr, state)
        return
    gh.merge_pull(pull.number, pull.head_sha)
    _merged(step, mr, pull, f"merged through the API after {delay} green minute(s)")


def _merged(step: RigStep, mr: MergeRequest, pull: PullRequest, how: str = "") -> None:
    step.fetch()
    commit = gm.rev(step.clone, f"refs/remotes/origin/{mr.target}") or pull.head_sha
    done = outcome.landed(
        step.ledger, [(mr, {})], commit, how or f"pull request #{pull.number} merged"
    )
    step.progress.landed.extend(m.id for m in done)


def _closed(step: RigStep, mr: MergeRequest, pull: PullRequest) -> None:
    reason = f"its pull request #{pull.number} was closed without merging"
    outcome.fail(step.ledger, mr, reason)
    if mr.bead_id:
        with step.ledger.store.transaction() as tx:
            bead = tx.get_bead(mr.bead_id, lock=True)
            if bead is not None and bead.status == IN_REVIEW:
                beads.write(step.ledger, tx, bead, {"status": FAILED}, reason=reason)
    step.progress.changed = True


def _feedback_bead(
    step: RigStep, mr: MergeRequest, pull: PullRequest, lines: list[str], state: dict[str, Any]
) -> None:
    what = "\n".join(lines)
    if not step.sections.refinery.auto_resolve_pr_feedback:
        outcome.update(
            step.ledger, mr, "mr.pr_feedback", "new feedback for a person", pr_state=state
        )
        from gastown.services import escalations

        escalations.raise_(
            step.ledger,
            "medium",
            f"Pull request {pull.url} has new feedback:\n{what}",
            bead_id=mr.bead_id,
            rig=mr.rig,
        )
        return
    body = (
        f"Pull request #{pull.number} ({pull.url}) of merge request {mr.id} has feedback. "
        f"Address it on branch `{mr.branch}` and commit; the branch is pushed to the same "
        f"pull request when you are done.\n\n{what}"
    )
    outcome.send_back(
        step.ledger,
        mr,
        f"pull request #{pull.number} has feedback",
        f"Address pull request feedback: {step.title_of(mr)}",
        body,
        ["pr-feedback"],
        step.sections.refinery.max_reworks,
        pr_state=state,
    )
    step.progress.reworked.append(mr.id)


def _green(pull: PullRequest, runs: Sequence[CheckRun]) -> bool:
    """Mergeable, nothing requested, every check finished and passed."""
    if pull.mergeable is not True or pull.mergeable_state not in ("clean", "has_hooks"):
        return False
    return all(r.status == "completed" and r.conclusion not in FAILING for r in runs)
