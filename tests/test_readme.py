"""What the README says is what the code does, where a table can be checked against it."""

from __future__ import annotations

from pathlib import Path

from gastown.model import TRANSITIONS

README = Path(__file__).parents[1] / "README.md"


def lifecycle_table(text: str) -> dict[str, set[str]]:
    """The README's lifecycle table as moves: each status to the statuses it may go to."""
    after = text.split("The lifecycle is", 1)[1].splitlines()[1:]
    start = next(i for i, line in enumerate(after) if line.startswith("|"))
    rows = []
    for line in after[start + 2 :]:  # past the header and its rule
        if not line.startswith("|"):
            break
        rows.append(line)
    moves: dict[str, set[str]] = {}
    for line in rows:
        sources, targets = (cell.strip() for cell in line.strip("|").split("|"))
        to = {t.split("(")[0].strip() for t in targets.split(",")}
        for source in sources.split(","):
            moves[source.strip()] = to
    return moves


def test_the_readme_lifecycle_table_lists_every_legal_status_change() -> None:
    """Given the README's lifecycle table, then it allows exactly what `TRANSITIONS` does."""
    table = lifecycle_table(README.read_text())

    assert table == {status: set(to) for status, to in TRANSITIONS.items()}
