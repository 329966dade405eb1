"""The shared SQL for mail between polecats, the mayor and the town (`MailQueries`, a mixin of
`Tx`, like `RunQueries`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.model import Mail

if TYPE_CHECKING:
    from gastown.store.sql import Executor

MAIL_COLUMNS = "id, sender, recipient, text, created_at, bead_id, read_at"


def mail_of(row: Sequence[Any]) -> Mail:
    """The message a row of `MAIL_COLUMNS` holds."""
    return Mail(*row)


class MailQueries:
    """Sending mail, and taking a recipient's unread mail."""

    db: Executor

    def insert_mail(self, m: Mail) -> int:
        """Send one message; returns its id (the one on `m` is ignored)."""
        row = self.db.execute(
            "INSERT INTO mail (sender, recipient, text, created_at, bead_id, read_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (m.sender, m.recipient, m.text, m.created_at, m.bead_id, m.read_at),
        ).fetchone()
        return int(row[0])

    def take_unread_mail(self, recipient: str, at: str) -> list[Mail]:
        """The recipient's unread mail, oldest first, marked read at `at` in the same
        statement: two checks at once never both get the same message."""
        rows = self.db.execute(
            f"UPDATE mail SET read_at = ? WHERE recipient = ? AND read_at IS NULL "
            f"RETURNING {MAIL_COLUMNS}",
            (at, recipient),
        ).fetchall()
        return sorted((mail_of(r) for r in rows), key=lambda m: m.id)

    def list_mail(self, recipient: str | None = None) -> list[Mail]:
        """Every message (to `recipient`, if given), read or not, oldest first."""
        where = " WHERE recipient = ?" if recipient is not None else ""
        rows = self.db.execute(
            f"SELECT {MAIL_COLUMNS} FROM mail{where} ORDER BY id",
            (recipient,) if recipient is not None else (),
        ).fetchall()
        return [mail_of(r) for r in rows]

    def get_mail(self, mail_id: int) -> Mail | None:
        """The message with this id, or None."""
        row = self.db.execute(
            f"SELECT {MAIL_COLUMNS} FROM mail WHERE id = ?", (mail_id,)
        ).fetchone()
        return None if row is None else mail_of(row)

    def mark_mail_read(self, ids: Sequence[int], at: str) -> list[int]:
        """Mark these messages read at `at`; the ids that were unread until now."""
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self.db.execute(
            f"UPDATE mail SET read_at = ? WHERE id IN ({marks}) AND read_at IS NULL RETURNING id",
            (at, *ids),
        ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def inbox(self, recipients: Sequence[str], *, unread_only: bool, limit: int = 0) -> list[Mail]:
        """Mail to any of `recipients`, newest first (only the unread, if asked)."""
        marks = ", ".join("?" for _ in recipients)
        unread = " AND read_at IS NULL" if unread_only else ""
        cap = f" LIMIT {int(limit)}" if limit > 0 else ""
        rows = self.db.execute(
            f"SELECT {MAIL_COLUMNS} FROM mail WHERE recipient IN ({marks}){unread} "
            f"ORDER BY id DESC{cap}",
            tuple(recipients),
        ).fetchall()
        return [mail_of(r) for r in rows]

    def count_unread_mail(self, recipients: Sequence[str]) -> int:
        """How many unread messages any of `recipients` has."""
        marks = ", ".join("?" for _ in recipients)
        row = self.db.execute(
            f"SELECT COUNT(*) FROM mail WHERE recipient IN ({marks}) AND read_at IS NULL",
            tuple(recipients),
        ).fetchone()
        return int(row[0])

    def has_sent_mail(self, sender: str) -> bool:
        """Whether `sender` ever wrote: how a person becomes an address others can write to."""
        row = self.db.execute("SELECT 1 FROM mail WHERE sender = ? LIMIT 1", (sender,)).fetchone()
        return row is not None
