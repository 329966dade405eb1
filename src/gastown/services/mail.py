"""Mail between the town's agents, the mayor and the people who run the town.

An address is a polecat's name, `mayor` or `town` (the people). Checking mail takes the unread
messages and marks them read, so each is delivered once.
"""

from __future__ import annotations

from gastown.errors import InvalidValue, NotFound
from gastown.model import MAYOR, TOWN, Mail
from gastown.services.ledger import Ledger
from gastown.store import Tx

MAX_TEXT = 20_000


def send_in(
    ledger: Ledger,
    tx: Tx,
    sender: str,
    to: str,
    text: str,
    *,
    bead_id: str | None = None,
    rig: str | None = None,
) -> Mail:
    """Send one message inside the caller's transaction (with its `mail.sent` event)."""
    to = to.strip()
    if to not in (MAYOR, TOWN) and tx.get_polecat(to) is None:
        raise NotFound(
            f"There is no polecat '{to}' to send mail to.",
            hint=f"Address a polecat by name, `{MAYOR}` or `{TOWN}`.",
        )
    body = text.strip()
    if not body:
        raise InvalidValue("A message cannot be empty.")
    if len(body) > MAX_TEXT:
        raise InvalidValue(f"A message is at most {MAX_TEXT} characters; this one has {len(body)}.")
    now = ledger.now()
    mail = Mail(0, sender, to, body, now, bead_id)
    mail.id = tx.insert_mail(mail)
    tx.append_events(
        [
            ledger.event(
                "mail.sent",
                at=now,
                bead_id=bead_id,
                rig=rig,
                after={"id": mail.id, "from": sender, "to": to},
            )
        ]
    )
    return mail


def take_in(
    ledger: Ledger, tx: Tx, recipient: str, *, bead_id: str | None = None, rig: str | None = None
) -> list[Mail]:
    """The recipient's unread mail, now marked read (with a `mail.checked` event)."""
    now = ledger.now()
    taken = tx.take_unread_mail(recipient, now)
    tx.append_events(
        [
            ledger.event(
                "mail.checked",
                at=now,
                bead_id=bead_id,
                rig=rig,
                after={"recipient": recipient, "ids": [m.id for m in taken]},
            )
        ]
    )
    return taken
