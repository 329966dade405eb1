"""Mail between the town's agents, the mayor and the people who run the town.

An address is a polecat's name, `mayor`, `town` (every person's shared inbox) or a person who
has written mail before (so a reply finds them). Checking mail takes the unread messages and
marks them read, so each is delivered once. A person's inbox is the mail to `town` and to
them; the mayor's is the mail to `mayor` (told in its notes, read with its mail tools).
"""

from __future__ import annotations

from gastown.errors import InvalidValue, NotFound
from gastown.model import MAYOR, TOWN, Mail
from gastown.services.ledger import Ledger
from gastown.store import Tx

MAX_TEXT = 20_000


def checked_text(text: str) -> str:
    """The message as it will be sent, or InvalidValue when it is empty or too long."""
    body = text.strip()
    if not body:
        raise InvalidValue("A message cannot be empty.", hint="Say what you want to tell.")
    if len(body) > MAX_TEXT:
        raise InvalidValue(
            f"A message is at most {MAX_TEXT} characters; this one has {len(body)}.",
            hint="Shorten it, or point to a file or a bead that holds the rest.",
        )
    return body


def check_address(tx: Tx, to: str) -> str:
    """`to` as an address, or NotFound naming what can be written to."""
    to = to.strip()
    if to in (MAYOR, TOWN) or tx.get_polecat(to) is not None or tx.has_sent_mail(to):
        return to
    raise NotFound(
        f"There is no polecat or person '{to}' to send mail to.",
        hint=f"Address a polecat by name (`gt agents` lists them), `{MAYOR}` or `{TOWN}`.",
    )


def send_in(
    ledger: Ledger,
    tx: Tx,
    sender: str,
    to: str,
    text: str,
    *,
    bead_id: str | None = None,
    rig: str | None = None,
    delivered: bool = False,
) -> Mail:
    """Send one message inside the caller's transaction (with its `mail.sent` event);
    `delivered` when it already reached the recipient another way (a nudge into a session)."""
    to = check_address(tx, to)
    body = checked_text(text)
    now = ledger.now()
    mail = Mail(0, sender, to, body, now, bead_id, now if delivered else None)
    mail.id = tx.insert_mail(mail)
    ledger.record_event(
        tx,
        "mail.sent",
        at=now,
        bead_id=bead_id,
        rig=rig,
        after={"id": mail.id, "from": sender, "to": to},
    )
    return mail


def send(ledger: Ledger, sender: str, to: str, text: str) -> Mail:
    """Send one message in its own transaction (a person from the inbox, the mayor)."""
    with ledger.store.transaction() as tx:
        return send_in(ledger, tx, sender, to, text)


def take_in(
    ledger: Ledger, tx: Tx, recipient: str, *, bead_id: str | None = None, rig: str | None = None
) -> list[Mail]:
    """The recipient's unread mail, now marked read (with a `mail.checked` event)."""
    now = ledger.now()
    taken = tx.take_unread_mail(recipient, now)
    ledger.record_event(
        tx,
        "mail.checked",
        at=now,
        bead_id=bead_id,
        rig=rig,
        after={"recipient": recipient, "ids": [m.id for m in taken]},
    )
    return taken


def inbox_of(person: str) -> tuple[str, ...]:
    """The addresses whose mail a person reads: the town's and their own."""
    return (TOWN,) if person in (TOWN, "") else (TOWN, person)


def open_mail(ledger: Ledger, mail_id: int, readers: tuple[str, ...]) -> Mail:
    """One message to one of `readers`, marked read now (with a `mail.checked` event)."""
    with ledger.store.transaction() as tx:
        found = tx.get_mail(mail_id)
        if found is None or found.recipient not in readers:
            raise NotFound(
                f"There is no message {mail_id} in this inbox.",
                hint="`gt inbox --all` lists its messages.",
            )
        if found.read_at is None:
            mark_in(ledger, tx, found.recipient, [mail_id])
            found.read_at = ledger.now()
        return found


def mark_in(ledger: Ledger, tx: Tx, recipient: str, ids: list[int]) -> list[int]:
    """Mark messages read (those still unread), with a `mail.checked` event."""
    marked = tx.mark_mail_read(ids, ledger.now())
    if marked:
        ledger.record_event(tx, "mail.checked", after={"recipient": recipient, "ids": marked})
    return marked


def reply(ledger: Ledger, sender: str, mail_id: int, text: str, readers: tuple[str, ...]) -> Mail:
    """Answer a message to one of `readers`: mail back to its sender, the original marked read."""
    with ledger.store.transaction() as tx:
        original = tx.get_mail(mail_id)
        if original is None or original.recipient not in readers:
            raise NotFound(f"There is no message {mail_id} to reply to.")
        sent = send_in(ledger, tx, sender, original.sender, text, bead_id=original.bead_id)
        mark_in(ledger, tx, original.recipient, [mail_id])
        return sent
