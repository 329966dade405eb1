"""The shared SQL for issue links: which bead each forge issue became (`IssueLinkQueries`, a
mixin of `Tx`). An issue is keyed by forge, repository, number and kind, so it has at most one
bead whichever way it came in (`gt sling URL`, a poll, a webhook)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.model import IssueLink

if TYPE_CHECKING:
    from gastown.store.sql import Executor

LINK_FIELDS = IssueLink.__fields__
LINK_COLUMNS = ", ".join(LINK_FIELDS)


def link_of(row: Sequence[Any]) -> IssueLink:
    """The issue link a row of `LINK_COLUMNS` holds."""
    values = list(row)
    values[LINK_FIELDS.index("number")] = int(values[LINK_FIELDS.index("number")])
    return IssueLink(*values)


class IssueLinkQueries:
    """Issue links: add one, find one by issue or by bead, record what was last taken in."""

    db: Executor

    def insert_issue_link(self, link: IssueLink) -> None:
        """Tie a bead to its issue; the database refuses a second bead for one issue."""
        marks = ", ".join("?" for _ in LINK_FIELDS)
        self.db.execute(
            f"INSERT INTO issue_links ({LINK_COLUMNS}) VALUES ({marks})",
            [getattr(link, name) for name in LINK_FIELDS],
        )

    def get_issue_link(
        self, forge: str, repo: str, number: int, kind: str = "issue", *, lock: bool = False
    ) -> IssueLink | None:
        """The link of one issue (repository names compare without case, as forges do)."""
        row = self.db.execute(
            f"SELECT {LINK_COLUMNS} FROM issue_links WHERE forge = ? AND LOWER(repo) = ? "
            f"AND number = ? AND kind = ?{self.db.lock_clause if lock else ''}",
            (forge, repo.lower(), number, kind),
        ).fetchone()
        return None if row is None else link_of(row)

    def issue_links_of(self, bead_ids: Sequence[str]) -> list[IssueLink]:
        """The links of these beads, by bead then issue."""
        if not bead_ids:
            return []
        marks = ", ".join("?" for _ in bead_ids)
        rows = self.db.execute(
            f"SELECT {LINK_COLUMNS} FROM issue_links WHERE bead_id IN ({marks}) "
            "ORDER BY bead_id, forge, repo, number",
            list(bead_ids),
        ).fetchall()
        return [link_of(r) for r in rows]

    def mark_issue_link(
        self, forge: str, repo: str, number: int, kind: str, updated_at: str, state: str
    ) -> None:
        """Record the issue's `updated_at` and state as the town has now taken them in."""
        self.db.execute(
            "UPDATE issue_links SET issue_updated_at = ?, issue_state = ? "
            "WHERE forge = ? AND LOWER(repo) = ? AND number = ? AND kind = ?",
            (updated_at, state, forge, repo.lower(), number, kind),
        )

    def last_issue_update(self, rig: str) -> str | None:
        """The latest issue `updated_at` taken in for `rig` (where a poll may start)."""
        row = self.db.execute(
            "SELECT MAX(issue_updated_at) FROM issue_links WHERE rig = ? AND kind = 'issue'",
            (rig,),
        ).fetchone()
        return (row[0] or None) if row else None
