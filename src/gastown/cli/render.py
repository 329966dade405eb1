"""Human-readable output: aligned tables and short status marks, no dependencies."""

from __future__ import annotations

from collections.abc import Sequence

from gastown.model import Bead

STATUS_MARK = {
    "open": "○",
    "in_progress": "◐",
    "in_review": "◑",
    "closed": "●",
    "failed": "✗",
    "landed": "●",
}


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], widths: dict[int, int] | None = None
) -> str:
    """Left-aligned columns; `widths` caps a column (by index), cutting with an ellipsis."""
    cells = [[str(c) for c in headers]]
    for row in rows:
        line = []
        for i, value in enumerate(row):
            text = "" if value is None else str(value)
            cap = (widths or {}).get(i)
            if cap is not None and len(text) > cap:
                text = text[: cap - 1] + "…"
            line.append(text)
        cells.append(line)
    sizes = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(sizes[i]) for i, c in enumerate(r)).rstrip() for r in cells)


def beads_table(beads: Sequence[Bead]) -> str:
    return table(
        ["ID", "P", "STATUS", "TYPE", "RIG", "TITLE"],
        [
            (
                b.id,
                f"P{b.priority}",
                f"{STATUS_MARK.get(b.status, ' ')} {b.status}" + (" (held)" if b.held else ""),
                b.type,
                b.rig or "-",
                b.title,
            )
            for b in beads
        ],
        {5: 70},
    )


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
