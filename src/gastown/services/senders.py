"""Sending one escalation one way (`escalation_routes`): a webhook POST, a command, an email.

Each way is tried a few times with a growing wait between tries (a chat tool that blinks, a
mail server restarting); what still fails is said in one line, for the ledger to keep. The
standard library does the talking (urllib, smtplib) in a thread, so nothing here imports an
HTTP client the town does not otherwise need at this point.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import smtplib
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from email.message import EmailMessage
from typing import Any

from gastown.escalation_routes import Route
from gastown.record import Record
from gastown.sections import sections

ATTEMPTS = 3
"""Tries per route before its failure is recorded."""
FIRST_WAIT = 2.0
"""Seconds before the second try; doubled before each one after."""
TIMEOUT = 15.0
"""Seconds one try may take (a webhook's answer, a command, an SMTP conversation)."""

Sleep = Callable[[float], Awaitable[None]]


class Sent(Record):
    """How one route went."""

    route: str
    """The route's line as written."""
    ok: bool
    """Whether it was delivered."""
    attempts: int
    """Tries made, the last one included."""
    error: str | None = None
    """The last try's failure, in a line."""

    def to_json(self) -> dict[str, Any]:
        """How it went, as the escalation's routing record keeps it."""
        return {"route": self.route, "ok": self.ok, "attempts": self.attempts, "error": self.error}


class Failed(Exception):
    """One try failed; the message says how."""


async def send(
    route: Route,
    payload: dict[str, Any],
    settings: Mapping[str, Any],
    *,
    sleep: Sleep = asyncio.sleep,
    attempts: int = ATTEMPTS,
) -> Sent:
    """Try `route` up to `attempts` times; never raises for the route's own failures."""
    wait = FIRST_WAIT
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            await _once(route, payload, settings)
        except Failed as exc:
            error = str(exc)
        else:
            return Sent(route.text, True, attempt)
        if attempt < attempts:
            await sleep(wait)
            wait *= 2
    return Sent(route.text, False, attempts, error)


async def _once(route: Route, payload: dict[str, Any], settings: Mapping[str, Any]) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    if route.kind == "webhook":
        await asyncio.to_thread(_post, route.target, body)
    elif route.kind == "command":
        await _run(route.target, body)
    else:
        await asyncio.to_thread(_mail, payload, settings)


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        raise Failed(f"the webhook answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Failed(f"the webhook could not be reached: {reason}") from None


async def _run(command: str, body: bytes) -> None:
    words = shlex.split(command)
    try:
        process = await asyncio.create_subprocess_exec(
            *words,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise Failed(f"the command {words[0]} could not start: {exc.strerror or exc}") from None
    try:
        _, err = await asyncio.wait_for(process.communicate(body), TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise Failed(f"the command {words[0]} took longer than {TIMEOUT:g} s") from None
    if process.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        said = f": {last[0][:200]}" if last[0] else ""
        raise Failed(f"the command {words[0]} exited {process.returncode}{said}")


def _mail(payload: dict[str, Any], settings: Mapping[str, Any]) -> None:
    smtp = sections(settings).smtp
    host, to = smtp.host, list(smtp.to)
    if not host or not to or not smtp.sender:
        raise Failed("email needs smtp.host, smtp.from and smtp.to set")
    mail = EmailMessage()
    mail["Subject"] = payload["subject"]
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(to)
    mail.set_content(payload["text"] + "\n\n" + json.dumps(payload["escalation"], indent=2))
    try:
        with smtplib.SMTP(host, smtp.port, timeout=TIMEOUT) as server:
            server.ehlo()
            if smtp.user:
                if server.has_extn("starttls"):
                    server.starttls()
                    server.ehlo()
                server.login(smtp.user, smtp.password)
            server.send_message(mail)
    except smtplib.SMTPResponseException as exc:
        said = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        raise Failed(f"the SMTP server refused: {exc.smtp_code} {said}".rstrip()) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise Failed(
            f"the SMTP server refused every recipient: {', '.join(exc.recipients)}"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise Failed(f"the SMTP server {host}:{smtp.port} failed: {exc}") from None
