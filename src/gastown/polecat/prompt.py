"""The polecat's prompt ("prime"): what to do, what it builds on, and exactly how to finish.

Rendered from a template with `$placeholders` (Python's `string.Template`). A town overrides the
built-in one by putting its own in `<town>/templates/polecat.md`; unknown placeholders are left
as they are, so a custom template cannot break a dispatch.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from gastown.model import Bead, Convoy
from gastown.record import Record, field

TEMPLATE_FILE = Path("templates") / "polecat.md"

DEFAULT_TEMPLATE = """\
You are $polecat, a polecat (a coding agent) in Gas Town, working on rig $rig.
Your working copy is this folder, on branch $branch. Work only here.

# Your bead: $bead_id — $title

$body
$convoy
$delivered
$rework
$earlier
$instructions
$knowledge
# How to finish

1. Make the change, and check it the way this repository checks itself (its tests, linters).
2. Commit your work on this branch: `git add -A && git commit -m "<what you did>"`.
3. Run `gt done --summary "<one line on what you did>"`. That hands the branch to the refinery.

Now and then save where you are: `gt checkpoint '{"done": "...", "next": "..."}'`. If this run
fails, the next attempt at this bead is given your last checkpoint.

While you work: `gt status "<what you are doing>"` keeps the town informed. If you cannot go on
(missing access, a contradiction in the task, a decision that is not yours), run
`gt escalate --severity medium "<what blocks you>"` and stop. Do not push, and do not switch
branches.
"""


class Delivered(Record):
    """A dependency this bead builds on, already closed."""

    bead_id: str
    title: str
    summary: str | None = None


class PromptContext(Record):
    """Everything a prompt may mention."""

    bead: Bead
    polecat: str
    rig: str
    branch: str
    convoy: Convoy | None = None
    delivered: list[Delivered] = field(default_factory=list)
    instructions: str = ""
    """The rig's `custom_instructions.polecat`."""
    rework: str | None = None
    """Why this bead came back: the failing gate's log tail, review comments, conflicts."""
    knowledge: str = ""
    """The town's accepted notes most relevant to the bead, one per line, within the budget."""
    earlier: str | None = None
    """What the bead's earlier attempts came to and where this one starts (a retry)."""


def render(ctx: PromptContext, town_path: Path | None = None) -> str:
    """The prompt for one dispatch, from the town's template or the built-in one."""
    template = DEFAULT_TEMPLATE
    if town_path is not None and (town_path / TEMPLATE_FILE).is_file():
        template = (town_path / TEMPLATE_FILE).read_text(encoding="utf-8")
    text = Template(template).safe_substitute(
        polecat=ctx.polecat,
        rig=ctx.rig,
        branch=ctx.branch,
        bead_id=ctx.bead.id,
        title=ctx.bead.title,
        body=ctx.bead.body.strip() or "(No further description: the title is the task.)",
        convoy=_convoy(ctx),
        delivered=_delivered(ctx),
        rework=_section("This is rework", ctx.rework),
        earlier=_section("Earlier attempts at this bead", ctx.earlier),
        instructions=_section("Instructions for this rig", ctx.instructions),
        knowledge=_section("What this town knows", ctx.knowledge),
    )
    return re.sub(r"\n{3,}", "\n\n", text)


def _section(heading: str, text: str | None) -> str:
    return f"# {heading}\n\n{text.strip()}\n" if text and text.strip() else ""


def _convoy(ctx: PromptContext) -> str:
    if ctx.convoy is None:
        return ""
    c = ctx.convoy
    return _section(
        "Part of a convoy",
        f'This bead is one of {c.total} in convoy {c.id}, "{c.title}". Other polecats work '
        "the other beads; keep to yours.",
    )


def _delivered(ctx: PromptContext) -> str:
    if not ctx.delivered:
        return ""
    lines = [
        f"- {d.bead_id} {d.title}" + (f": {d.summary}" if d.summary else "") for d in ctx.delivered
    ]
    return _section("Already done, which this builds on", "\n".join(lines))
