"""Landing closes the loop with the forge: the issues a merge request's beads were made from.

    keywords        `Fixes #N` (GitHub) / `Closes #N` (GitLab) lines for a pull request's body,
                    so the forge closes each issue when the pull request merges
    close_landed    after a direct landing is recorded: each issue closed, with a comment
                    naming the landed commit

The landing is recorded before the forge is asked, so a forge that fails here never undoes
it: the failure is an event (`issue.close_failed`) and one escalation asking a person to
close the issue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gastown.errors import GastownError
from gastown.forge.base import Forge
from gastown.model import IssueLink, MergeRequest
from gastown.services import escalations
from gastown.store import BeadFilter, Tx

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep


def links_for(tx: Tx, mr: MergeRequest) -> list[IssueLink]:
    """The issues behind a merge request: its bead's, or every bead's of a convoy landing."""
    if mr.bead_id:
        ids = [mr.bead_id]
    elif mr.convoy_id:
        ids = [b.id for b in tx.list_beads(BeadFilter(convoy_id=mr.convoy_id, limit=None))]
    else:
        ids = []
    return [link for link in tx.issue_links_of(ids) if link.kind == "issue"]


def keywords(forge: Forge, links: Sequence[IssueLink]) -> str:
    """The lines that make the forge close these issues when the pull request merges."""
    word = "Closes" if forge.kind == "gitlab" else "Fixes"
    lines = []
    for link in links:
        if link.forge != forge.kind:
            continue
        ref = f"#{link.number}" if link.repo.lower() == forge.repo.lower() else link.url
        if ref:
            lines.append(f"{word} {ref}")
    return "\n".join(lines)


def close_landed(step: RigStep, mrs: Sequence[MergeRequest], commit: str) -> None:
    """Close the issues of merge requests that just landed directly at `commit`."""
    with step.ledger.store.reader() as tx:
        found = [(mr, link) for mr in mrs for link in links_for(tx, mr)]
    if not found:
        return
    forge = step.forge()
    for mr, link in found:
        text = (
            f"Landed on `{mr.target}` in {commit} by Gas Town "
            f"(bead {link.bead_id}, merge request {mr.id})."
        )
        if forge is None or forge.kind != link.forge or forge.repo.lower() != link.repo.lower():
            _failed(step, mr, link, "the rig has no forge client for it (no token?)")
            continue
        try:
            forge.close_issue(link.number, text)
        except GastownError as exc:
            _failed(step, mr, link, str(exc))
            continue
        with step.ledger.store.transaction() as tx:
            step.ledger.record_event(
                tx,
                "issue.closed",
                bead_id=link.bead_id,
                rig=mr.rig,
                after={"issue": link.url, "number": link.number, "commit": commit},
                reason=f"its work landed at {commit[:10]}",
            )


def _failed(step: RigStep, mr: MergeRequest, link: IssueLink, why: str) -> None:
    where = link.url or f"#{link.number} of {link.repo}"
    with step.ledger.store.transaction() as tx:
        step.ledger.record_event(
            tx,
            "issue.close_failed",
            bead_id=link.bead_id,
            rig=mr.rig,
            after={"issue": link.url, "number": link.number},
            reason=why,
        )
        escalations.raise_in(
            step.ledger,
            tx,
            "low",
            f"Bead {link.bead_id} landed, but closing its issue {where} failed: {why}. "
            "Close the issue by hand.",
            bead_id=link.bead_id,
            rig=mr.rig,
        )
