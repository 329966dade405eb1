"""Commit messages that name their work, so `git log` says which bead brought what.

A commit the town makes of work left uncommitted is titled from its bead
(`gt-abc12: Fix the login redirect`), and every commit that lands on a target carries a
`Gastown-Bead: gt-abc12` trailer per bead it brings (and `Gastown-Convoy: gt-cv1` for a
convoy's landing), which `git log --format='%(trailers:key=Gastown-Bead)'` reads back.
"""

from __future__ import annotations

BEAD_TRAILER = "Gastown-Bead"
CONVOY_TRAILER = "Gastown-Convoy"

AGENT_LEFT = "Work the agent left uncommitted."
EARLIER_RUN = "Work left uncommitted by an earlier run."


def bead_of_branch(branch: str) -> str | None:
    """The bead a polecat branch `gt/<polecat>/<bead-id>` (or a fresh retry's
    `gt/<polecat>/attempt-<n>/<bead-id>`) is for (None for any other)."""
    parts = branch.split("/")
    if len(parts) == 4 and parts[2].startswith("attempt-"):
        del parts[2]
    return parts[2] if len(parts) == 3 and parts[0] == "gt" and all(parts) else None


def leftovers(bead_id: str | None, title: str | None, note: str) -> str:
    """The message of a commit the town makes of work left uncommitted: titled from its bead
    (`gt-abc12: Fix the login redirect`), `note` below, and the bead's trailer."""
    if bead_id is None:
        return note
    if not title:
        return f"{bead_id}: {note.rstrip('.')}\n\n{BEAD_TRAILER}: {bead_id}"
    return f"{bead_id}: {title}\n\n{note}\n\n{BEAD_TRAILER}: {bead_id}"


def earlier_run(branch: str) -> str:
    """The message for work an earlier run left on `branch`, saved before the worktree moves."""
    return leftovers(bead_of_branch(branch), None, EARLIER_RUN)
