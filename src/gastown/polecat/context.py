"""What a dispatch reads from the ledger before it starts: the bead, its rig and convoy, and
what its dependencies delivered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gastown.errors import NotFound
from gastown.knowledge import section
from gastown.model import (
    BLOCKS,
    CLOSED,
    MR_REWORK,
    REVIEW_THEN_LAND,
    Bead,
    Convoy,
    MergeRequest,
    Rig,
    Run,
)
from gastown.polecat.earlier import Attempt, earlier_attempts
from gastown.polecat.prompt import Delivered, PromptContext
from gastown.record import Record, field
from gastown.services.convoys import feature_branch
from gastown.store import Tx

if TYPE_CHECKING:
    from gastown.knowledge import Note


class PolecatContext(Record):
    run: Run
    bead: Bead
    rig: Rig
    convoy: Convoy | None
    delivered: list[Delivered]
    rework: MergeRequest | None = None
    """The merge request this bead reworks (its branch is the run's branch)."""
    original: Bead | None = None
    """The bead whose merge request this bead reworks: what the work was for."""
    attempts: list[Attempt] = field(default_factory=list)
    """The bead's earlier attempts, oldest first (what a retry is told)."""
    notes: list[Note] | None = None
    """The accepted notes for this bead that fit the budget, most relevant first
    (`services.knowledge.choose`); read with the rest before the run starts."""

    @property
    def base_branch(self) -> str:
        """Where the run's branch is cut from and its merge request lands: the convoy's
        feature branch for a convoy that lands as a whole (`review-then-land`), else the
        rig's target branch; a rework's merge request's target."""
        if self.rework is not None:
            return self.rework.target
        if self.convoy is not None and self.convoy.merge_mode == REVIEW_THEN_LAND:
            return feature_branch(self.convoy)
        return self.rig.branch

    def prompt(self, instructions: str, earlier: str = "") -> PromptContext:
        return PromptContext(
            bead=self.bead,
            polecat=self.run.polecat,
            rig=self.rig.name,
            branch=self.run.branch,
            convoy=self.convoy,
            delivered=self.delivered,
            instructions=instructions,
            knowledge=section(self.notes or []),
            rework=self.reworked(),
            earlier=earlier,
        )

    def reworked(self) -> str | None:
        """What a rework bead's polecat must know besides the comments (its own description):
        what the work it changes was for, the original bead's description, quoted."""
        if self.rework is None:
            return None
        mr, what = self.rework, self.original
        head = f"The refinery sent merge request {mr.id} back; its work is on your branch"
        if what is None:
            return head + ". Change that work as the description above asks."
        body = what.body.strip() or "(No further description: the title is the task.)"
        quoted = "\n".join(f"> {line}".rstrip() for line in body.splitlines())
        return (
            f'{head}. That work is bead {what.id}, "{what.title}", which asked for:\n\n'
            f"{quoted}\n\nChange that work as the description above asks, and keep to what "
            "it was for."
        )


def prompt_notes(
    tx: Tx, ctx: PolecatContext, town_settings: Mapping[str, Any], environ: Mapping[str, str]
) -> list[Note]:
    """The notes the run's prompt carries: the accepted notes of its rig and the town most
    relevant to the bead's title and description (and the files it names), within
    `knowledge.prompt_budget_tokens`."""
    from gastown import config
    from gastown.sections import sections
    from gastown.services import knowledge

    read = sections(config.resolve(town_settings, ctx.rig.settings, environ))
    bead = ctx.bead
    return knowledge.choose(
        tx, ctx.rig.name, read.knowledge.prompt_budget_tokens, bead.title, bead.body
    )


def load_prompt_context(tx: Tx, run: Run) -> PolecatContext:
    bead = tx.get_bead(run.bead_id)
    if bead is None:
        raise NotFound(f"Run {run.id} is for bead {run.bead_id}, which is not in the ledger.")
    rig = tx.get_rig(run.rig)
    if rig is None:
        raise NotFound(f"Run {run.id} is for rig '{run.rig}', which has been removed.")
    convoy = tx.get_convoy(bead.convoy_id) if bead.convoy_id else None
    delivered = []
    for dep in bead.dependencies:
        if dep.type != BLOCKS:
            continue
        blocker = tx.get_bead(dep.depends_on_id)
        if blocker is not None and blocker.status == CLOSED:
            summaries = [r.summary for r in tx.list_runs(bead_id=blocker.id) if r.summary]
            summary = summaries[-1] if summaries else blocker.close_reason
            delivered.append(Delivered(blocker.id, blocker.title, summary))
    waiting = tx.list_merge_requests(rework_bead_id=bead.id, status=MR_REWORK)
    rework = waiting[0] if waiting else None
    original = tx.get_bead(rework.bead_id) if rework is not None and rework.bead_id else None
    attempts = earlier_attempts(tx, run)
    return PolecatContext(
        run, bead, rig, convoy, delivered, rework, original=original, attempts=attempts
    )
