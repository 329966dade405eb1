"""The review stage: each merge request not yet approved at its head goes to the reviewer;
requested changes become a rework bead carrying the comments, or, after
`refinery.max_review_cycles` rounds, a person is asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gastown.git import merge as gm
from gastown.knowledge import section
from gastown.model import APPROVE, MergeRequest
from gastown.refinery import outcome
from gastown.refinery.review import Reviewer, ReviewFailed, ReviewRequest, Verdict, spend_row
from gastown.services import knowledge
from gastown.store import BeadFilter

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep


def review(step: RigStep, batch: list[MergeRequest], target: str) -> list[MergeRequest]:
    """The merge requests the reviewer approves (or all, with review off)."""
    if not step.sections.refinery.code_review:
        return batch
    reviewer: Reviewer | None = None
    approved = []
    for mr in batch:
        if mr.verdict == APPROVE and (mr.review or {}).get("head") == mr.head_commit:
            approved.append(mr)
            continue
        reviewer = reviewer or step.seams.reviewer(step.settings)
        request = review_request(step, mr, target)
        try:
            verdict = reviewer.review(request)
        except ReviewFailed as exc:
            if exc.spent is not None:
                charge(step, mr, exc.spent)
            step.unfinished([mr], str(exc))
            continue
        charge(step, mr, verdict)
        record = {**verdict.to_json(), "head": mr.head_commit}
        tokens = {"input_tokens": verdict.input_tokens, "output_tokens": verdict.output_tokens}
        if verdict.decision == APPROVE:
            got = outcome.update(
                step.ledger,
                mr,
                "mr.reviewed",
                f"approved: {verdict.summary}",
                {"verdict": APPROVE, **tokens},
                verdict=APPROVE,
                review=record,
            )
            if got is not None:
                approved.append(got)
            continue
        changes_requested(step, mr, verdict.summary, record, tokens)
    return approved


def charge(step: RigStep, mr: MergeRequest, verdict: Verdict) -> None:
    """Keep what the review spent, on the merge request's bead, convoy and rig."""
    from gastown.services import costs

    with step.ledger.store.transaction() as tx:
        bead = tx.get_bead(mr.bead_id) if mr.bead_id else None
        row = spend_row(
            verdict,
            step.ledger.now(),
            rig=mr.rig,
            bead_id=mr.bead_id,
            convoy_id=mr.convoy_id or (bead.convoy_id if bead else None),
            mr_id=mr.id,
        )
        costs.record(tx, row)


def review_request(step: RigStep, mr: MergeRequest, target: str) -> ReviewRequest:
    title, body = mr.summary or mr.branch, ""
    with step.ledger.store.reader() as tx:
        bead = tx.get_bead(mr.bead_id) if mr.bead_id else None
        convoy = tx.get_convoy(mr.convoy_id) if mr.convoy_id else None
        if bead is not None:
            title, body = bead.title, bead.body
        elif convoy is not None:
            done = tx.list_beads(BeadFilter(convoy_id=convoy.id, limit=None))
            title = f"Convoy {convoy.id}: {convoy.title}"
            body = "It delivers:\n" + "\n".join(f"- {b.id} {b.title}" for b in done)
        budget = int(step.sections.knowledge.prompt_budget_tokens)
        notes = knowledge.choose(tx, step.rig.name, budget, title, body)
    text, cut = gm.diff(step.clone, target, mr.head_commit)
    return ReviewRequest(
        title,
        body,
        mr.branch,
        mr.target,
        text,
        cut,
        step.sections.refinery.custom_instructions,
        clone=step.clone,
        head=mr.head_commit,
        logs=step.town.path / "logs" / "refinery" / step.rig.name / step.step_id / mr.id,
        stop=step.seams.stop,
        knowledge=section(notes),
    )


def learn_from(step: RigStep, mr: MergeRequest, comments: list[dict[str, Any]]) -> None:
    """Count each comment of a requested change against the rig: one that keeps coming back
    on several merge requests is proposed as a note (`services.knowledge`)."""
    with step.ledger.store.transaction() as tx:
        for c in comments:
            body = str(c.get("body") or "").strip()
            if body:
                knowledge.review_comment_seen(step.ledger, tx, mr.rig, mr.id, mr.bead_id, body)


def changes_requested(
    step: RigStep, mr: MergeRequest, summary: str, record: dict[str, Any], tokens: dict[str, int]
) -> None:
    from gastown.refinery.review import Verdict, comments_text

    learn_from(step, mr, record.get("comments") or [])
    cycles = mr.review_cycles + 1
    fields: dict[str, Any] = {"verdict": "changes", "review": record, "review_cycles": cycles}
    if mr.pr_number is not None:  # its pull request is open already: say it there too
        from gastown.record import replace
        from gastown.refinery import review_out

        said = replace(mr, verdict="changes", review=record)
        review_out.post_for(step, said, mr.pr_number, mr.head_commit)
    if cycles >= step.sections.refinery.max_review_cycles:
        outcome.hold(
            step.ledger,
            mr,
            f"the reviewer asked for changes {cycles} times; the last: {summary}",
            **fields,
        )
        step.progress.held.append(mr.id)
        return
    comments = comments_text(Verdict("changes", summary, record.get("comments") or []))
    body = (
        f"The reviewer asked for changes to merge request {mr.id} (branch `{mr.branch}`, "
        f"onto `{mr.target}`), round {cycles}.\n\n{summary}\n\n{comments}\n\n"
        "Make the changes on this branch and commit them; the merge request is reviewed "
        "again when you are done."
    )
    outcome.send_back(
        step.ledger,
        mr,
        f"the reviewer asked for changes: {summary}",
        f"Rework: {step.title_of(mr)}",
        body,
        ["review"],
        step.sections.refinery.max_reworks,
        **fields,
    )
    step.progress.reworked.append(mr.id)
