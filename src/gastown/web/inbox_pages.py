"""The people's mail on the web: the dashboard's inbox page (mail to `town` and to whoever acts
on the dashboard), one message (reading it marks it read), writing to a polecat or the mayor
and answering a message, and their JSON twins. The same services as `gt inbox`.

Who reads here is who writes from here: the dashboard acts as `dashboard` (the event log's name
for a signed-in person), so a polecat's answer to mail sent from this page lands back in it.

A refused message (empty, too long, to nobody) is sent back as the page with its sentence beside
the form and what was typed kept (`data-swap-errors` lets htmx swap it in), and nothing is sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from gastown.errors import GastownError
from gastown.model import MAYOR, TOWN, Mail
from gastown.services import mail
from gastown.services.ledger import Ledger
from gastown.web.common import Led, Who, actor_of, changed, status_of
from gastown.web.pages import _form, _one, done, page

router = APIRouter(include_in_schema=False)
api = APIRouter()

LISTED = 200
"""Messages the page lists at most, the newest first (as `gt inbox --all`)."""


class SendBody(BaseModel):
    to: str
    text: str


class ReplyBody(BaseModel):
    text: str


def readers(who: Who) -> tuple[str, ...]:
    return mail.inbox_of(actor_of(who))


def listing(led: Ledger, who: Who, unread_only: bool) -> dict[str, Any]:
    """The inbox as `gt inbox --json` gives it: the unread count and the messages."""
    mine = readers(who)
    with led.store.reader() as tx:
        found = tx.inbox(mine, unread_only=unread_only, limit=LISTED)
        unread = tx.count_unread_mail(mine)
    return {"unread": unread, "mail": [m.to_json() for m in found]}


@api.get("/api/inbox")
def inbox_json(led: Led, who: Who, all: bool = False) -> dict[str, Any]:
    """The unread mail to `town` and to the caller (with `all`, the read mail too)."""
    return listing(led, who, not all)


@api.get("/api/inbox/{mail_id}")
def read_json(led: Led, who: Who, mail_id: int) -> dict[str, Any]:
    """One message, now marked read."""
    return mail.open_mail(led, mail_id, readers(who)).to_json()


@api.post("/api/inbox")
def send_json(led: Led, who: Who, body: SendBody) -> dict[str, Any]:
    """Write to a polecat (by name), the mayor or the town."""
    return mail.send(led, actor_of(who), body.to, body.text).to_json()


@api.post("/api/inbox/{mail_id}/reply")
def reply_json(led: Led, who: Who, mail_id: int, body: ReplyBody) -> dict[str, Any]:
    """Answer a message: mail back to its sender, the original marked read."""
    return mail.reply(led, actor_of(who), mail_id, body.text, readers(who)).to_json()


def _addresses(led: Ledger) -> list[str]:
    """Whom the page offers to write to: the mayor, then the polecats."""
    with led.store.reader() as tx:
        return [MAYOR, *(p.name for p in tx.list_polecats())]


@router.get("/inbox")
def inbox_page(
    request: Request, led: Led, who: Who, all: bool = True, sent: int = 0
) -> HTMLResponse:
    return _inbox(request, led, who, all, sent=sent)


def _inbox(
    request: Request,
    led: Ledger,
    who: Who,
    everything: bool,
    *,
    sent: int = 0,
    error: GastownError | None = None,
    draft: dict[str, str] | None = None,
) -> HTMLResponse:
    data = listing(led, who, not everything)
    data.update(
        all=everything,
        me=actor_of(who),
        town_address=TOWN,
        addresses=_addresses(led),
        sent=_sent(led, sent),
        error=error,
        draft=draft or {},
    )
    shown = page(request, led, "inbox.html", data, title="Inbox")
    if error is not None:
        shown.status_code = status_of(error)
    return shown


def _sent(led: Ledger, mail_id: int) -> dict[str, Any] | None:
    """The message just sent, to say so at the top of the page."""
    if not mail_id:
        return None
    with led.store.reader() as tx:
        found = tx.get_mail(mail_id)
    return found.to_json() if found else None


@router.get("/inbox/{mail_id}")
def message_page(request: Request, led: Led, who: Who, mail_id: int) -> HTMLResponse:
    return _message(request, led, who, mail.open_mail(led, mail_id, readers(who)))


def _message(
    request: Request,
    led: Ledger,
    who: Who,
    shown: Mail,
    error: GastownError | None = None,
    draft: str = "",
) -> HTMLResponse:
    data = {"msg": shown.to_json(), "error": error, "draft": draft, "me": actor_of(who)}
    answer = page(request, led, "inbox_message.html", data, title=f"Mail {shown.id}")
    if error is not None:
        answer.status_code = status_of(error)
    return answer


@router.post("/inbox")
async def send_from_form(request: Request, led: Led, who: Who) -> Response:
    form = await _form(request)
    to, text = _one(form, "to"), _one(form, "text")
    try:
        sent = await run_in_threadpool(mail.send, led, actor_of(who), to, text)
    except GastownError as exc:
        draft = {"to": to, "text": text}
        return await run_in_threadpool(_inbox, request, led, who, True, error=exc, draft=draft)
    changed(request)
    return done(request, form, f"/inbox?sent={sent.id}")


@router.post("/inbox/{mail_id}/reply")
async def reply_from_form(request: Request, led: Led, who: Who, mail_id: int) -> Response:
    form = await _form(request)
    text = _one(form, "text")
    mine = readers(who)
    try:
        sent = await run_in_threadpool(mail.reply, led, actor_of(who), mail_id, text, mine)
    except GastownError as exc:
        original = await run_in_threadpool(mail.open_mail, led, mail_id, mine)
        return await run_in_threadpool(_message, request, led, who, original, exc, text)
    changed(request)
    return done(request, form, f"/inbox?sent={sent.id}")
