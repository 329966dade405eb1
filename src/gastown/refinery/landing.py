"""The commit that lands: one new first-parent commit on the target per landing, whose tree is
exactly the tree the gates passed, so every commit on the target's first-parent line is one
they passed.

    fast-forward   a single merge request whose branch is one commit on the target lands as
                   that commit (`refinery.fast_forward`), made again only to add its trailers
                   (same tree, parent and author)
    merge          otherwise one merge commit: the gated tree on the old target and the fewest
                   heads that bring the batch, each branch's head (`refinery.merge_method =
                   merge`) or the stack of branches rebased onto the target (`rebase`: a
                   semi-linear history)

Its message names what it brings: "Merge gt-abc12: Fix the login redirect", "Land 3 beads:
…", a convoy's "Land convoy …"; and a `Gastown-Bead` trailer per bead (`Gastown-Convoy` for
a convoy's landing), so `git log --first-parent` on the target says which bead brought what.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gastown.git import merge as gm
from gastown.git.messages import BEAD_TRAILER, CONVOY_TRAILER
from gastown.model import MR_BEAD, MR_MERGED, MergeRequest
from gastown.record import Record

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep

SUBJECT_WIDTH = 72


class Brought(Record):
    """What one merge request brings onto the target: the beads and their titles."""

    mr: MergeRequest
    title: str
    beads: list[tuple[str, str]]
    """(bead id, title): its own bead, or every bead that landed on a convoy's branch."""


def commit(step: RigStep, base: str, stack: Sequence[tuple[MergeRequest, str]]) -> tuple[str, str]:
    """The one commit that lands `stack` (each merge request with its stack commit, the last
    one's tree gated) on `base`, and how it was made. What `base` holds already (landed by a
    step that stopped before recording it) is neither brought nor named again."""
    gated = stack[-1][1]
    mrs = [mr for mr, _ in stack if gm.brings(step.clone, base, mr.head_commit)]
    if not mrs:
        return base, "already on the target"
    brought = describe(step, mrs)
    marks = trailers(brought)
    head = mrs[0].head_commit
    if (
        len(mrs) == 1
        and step.sections.refinery.fast_forward
        and gm.parents(step.clone, head) == [base]
        and gm.tree(step.clone, head) == gm.tree(step.clone, gated)
    ):
        return gm.with_trailers(step.clone, head, marks, step.identity), "fast-forward"
    if step.sections.refinery.merge_method == "rebase":
        heads = [gated] if gated != base else []
    else:
        heads = gm.outermost(step.clone, base, [mr.head_commit for mr in mrs])
    if not heads:  # nothing to join: the stack's change is on the target already
        return base, "already on the target"
    tree, text = gm.tree(step.clone, gated), message(brought, marks)
    made = gm.commit_tree(step.clone, tree, [base, *heads], text, step.identity)
    return made, "merge" if len(mrs) == 1 else f"batch of {len(mrs)}"


def describe(step: RigStep, mrs: Sequence[MergeRequest]) -> list[Brought]:
    """Each merge request with its beads: its own, or for a convoy's landing every bead that
    landed on the convoy's branch."""
    found = []
    with step.ledger.store.reader() as tx:

        def title(bead_id: str, fallback: str) -> str:
            bead = tx.get_bead(bead_id)
            return bead.title if bead is not None else fallback

        for mr in mrs:
            fallback = mr.summary or mr.branch
            if mr.bead_id:
                named = title(mr.bead_id, fallback)
                found.append(Brought(mr, named, [(mr.bead_id, named)]))
                continue
            theirs = (
                tx.list_merge_requests(convoy_id=mr.convoy_id) if mr.convoy_id is not None else []
            )
            ids = dict.fromkeys(
                m.bead_id for m in theirs if m.kind == MR_BEAD and m.status == MR_MERGED
            )
            beads = [(b, title(b, b)) for b in ids if b]
            found.append(Brought(mr, fallback, beads))
    return found


def trailers(brought: Sequence[Brought]) -> list[tuple[str, str]]:
    marks: list[tuple[str, str]] = []
    for one in brought:
        if one.mr.bead_id is None and one.mr.convoy_id is not None:
            marks.append((CONVOY_TRAILER, one.mr.convoy_id))
        marks.extend((BEAD_TRAILER, b) for b, _ in one.beads)
    return list(dict.fromkeys(marks))


def message(brought: Sequence[Brought], marks: Sequence[tuple[str, str]]) -> str:
    """The subject ("Merge gt-abc12: <title>" for one bead, a convoy landing's own summary,
    "Land 3 beads: gt-a, gt-b, gt-c" for a batch), what each brings, then the trailers."""
    if len(brought) == 1:
        (one,) = brought
        if one.mr.bead_id:
            subject, body = f"Merge {one.mr.bead_id}: {one.title}", f"From {one.mr.branch}."
        else:
            listed = "".join(f"\n- {b}: {t}" for b, t in one.beads)
            subject, body = one.title, f"From {one.mr.branch}:{listed}" if listed else ""
    else:
        ids = [b for one in brought for b, _ in one.beads]
        subject = (
            f"Land {len(ids)} beads: {', '.join(ids)}"
            if ids
            else f"Land {len(brought)} merge requests"
        )
        if len(subject) > SUBJECT_WIDTH:
            subject = subject[: SUBJECT_WIDTH - 2].rsplit(", ", 1)[0] + ", …"
        body = "\n".join(
            f"- {one.mr.bead_id}: {one.title} ({one.mr.branch})"
            if one.mr.bead_id
            else f"- {one.title} ({one.mr.branch}): {', '.join(b for b, _ in one.beads)}"
            for one in brought
        )
    block = "\n".join(f"{key}: {value}" for key, value in marks)
    return "\n\n".join(part for part in (subject, body, block) if part) + "\n"
