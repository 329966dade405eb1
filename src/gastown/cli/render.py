"""Human-readable output: aligned tables and short status marks, no dependencies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gastown.store.projection import BeadLine

STATUS_MARK = {
    "open": "○",
    "in_progress": "◐",
    "in_review": "◑",
    "closed": "●",
    "failed": "✗",
    "landed": "●",
    "cancelled": "⊘",
}


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], widths: dict[int, int] | None = None
) -> str:
    """Left-aligned columns; `widths` caps a column (by index), cutting with an ellipsis."""
    caps = list((widths or {}).items())
    cells = [[str(c) for c in headers]]
    for row in rows:
        line = ["" if value is None else str(value) for value in row]
        for i, cap in caps:
            if i < len(line) and len(line[i]) > cap:
                line[i] = line[i][: cap - 1] + "…"
        cells.append(line)
    # A last cell of several lines (git's words in an escalation) goes on under its column.
    more = {i: line[-1].split("\n") for i, line in enumerate(cells) if "\n" in line[-1]}
    for i, parts in more.items():
        cells[i][-1] = parts[0]
    sizes = [max(map(len, column)) for column in zip(*cells, strict=True)]
    # One format string pads a whole line in C: a town's table has thousands of lines.
    pad = "  ".join(f"{{:<{size}}}" for size in sizes)
    out = [pad.format(*line).rstrip() for line in cells]
    if more:
        indent = "\n" + " " * (sum(sizes[:-1]) + 2 * (len(sizes) - 1))
        for i, parts in more.items():
            out[i] += "".join(indent + part for part in parts[1:])
    return "\n".join(out)


def beads_table(lines: Iterable[BeadLine], notes: Mapping[str, str] | None = None) -> str:
    """A table of beads; `notes` adds words after a bead's status (`gt ready`'s "retry at …")."""
    notes = notes or {}
    return table(
        ["ID", "P", "STATUS", "TYPE", "RIG", "TITLE"],
        [
            (
                bead_id,
                f"P{priority}",
                f"{STATUS_MARK.get(status, ' ')} {status}"
                + (" (held)" if held else "")
                + (f" ({notes[bead_id]})" if bead_id in notes else ""),
                kind,
                rig or "-",
                title,
            )
            for bead_id, priority, status, held, kind, rig, title in lines
        ],
        {5: 70},
    )


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
