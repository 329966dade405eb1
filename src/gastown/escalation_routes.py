"""Escalation routes: where an escalation is sent so that someone hears of it.

`escalation.routes` is a list of strings, one route each, `SEVERITY KIND [TARGET]`:

    "high webhook https://hooks.slack.com/services/T000/B000/XXXX"
    "medium command notify-send gastown"
    "critical email"

A route takes every escalation at its severity or above. A `webhook` gets a JSON POST a chat
tool can take (a Slack-style `text`, and the escalation's fields); a `command` is run with the
same JSON on its standard input; `email` goes through the `smtp.*` settings. Pure: parsing and
the message; sending is `services.senders`. A leaf: the settings check a route with `parse`.
"""

from __future__ import annotations

import shlex
from typing import Any, Literal

from gastown.errors import InvalidValue
from gastown.limits import is_url, shown
from gastown.model import SEVERITIES, Escalation, Severity
from gastown.record import Record

RouteKind = Literal["webhook", "command", "email"]
KINDS: tuple[RouteKind, ...] = ("webhook", "command", "email")
SHAPE = "SEVERITY webhook URL, SEVERITY command PROGRAM [ARGS], or SEVERITY email"


class Route(Record):
    """One line of `escalation.routes`."""

    severity: str
    """The lowest severity it takes (one of `SEVERITIES`)."""
    kind: RouteKind
    """How it sends: a webhook, a command or email."""
    target: str
    """The webhook's URL or the command line; empty for email."""
    text: str
    """The line as written: how the route is named in events and `gt escalations show`."""

    def takes(self, severity: str) -> bool:
        """Whether an escalation of `severity` goes this way."""
        return rank(severity) >= rank(self.severity)


def rank(severity: str) -> int:
    """How high `severity` is among `SEVERITIES` (0: the lowest)."""
    return SEVERITIES.index(severity)


def next_severity(severity: str) -> Severity | None:
    """One severity up, or None at the top."""
    at = rank(severity)
    return SEVERITIES[at + 1] if at + 1 < len(SEVERITIES) else None


def parse(line: str, where: str = "escalation.routes") -> Route:
    """One route, or a sentence saying what is wrong with it."""
    severity, _, rest = line.strip().partition(" ")
    kind, _, target = rest.strip().partition(" ")
    target = target.strip()
    said = shown(line, 80)
    if severity not in SEVERITIES:
        raise InvalidValue(
            f"In {where}: route '{said}' must start with a severity "
            f"({', '.join(SEVERITIES)}), not '{shown(severity, 30)}'.",
            hint=f"Write each route as {SHAPE}.",
        )
    if kind not in KINDS:
        raise InvalidValue(
            f"In {where}: route '{said}' goes by webhook, command or email, "
            f"not '{shown(kind, 30)}'.",
            hint=f"Write each route as {SHAPE}.",
        )
    if kind == "webhook" and not is_url(target):
        raise InvalidValue(
            f"In {where}: the webhook route '{said}' needs an http:// or https:// URL with a "
            f"host, and '{shown(target, 60)}' is not one.",
            hint="e.g. high webhook https://hooks.slack.com/services/T000/B000/XXXX",
        )
    if kind == "command":
        try:
            words = shlex.split(target)
        except ValueError as exc:
            raise InvalidValue(
                f"In {where}: route '{said}' has a command that is not one: {exc}."
            ) from None
        if not words:
            raise InvalidValue(
                f"In {where}: the command route '{said}' needs a command to run.",
                hint="e.g. medium command notify-send gastown",
            )
    if kind == "email" and target:
        raise InvalidValue(
            f"In {where}: the email route '{said}' takes no target; the smtp.* settings say "
            "where mail goes."
        )
    return Route(severity, kind, target, line.strip())


def parse_all(lines: list[str]) -> list[Route]:
    """Every line of `escalation.routes` as a route; the first bad line is refused."""
    return [parse(line) for line in lines]


def message(e: Escalation, *, bumped_from: str | None = None) -> dict[str, Any]:
    """What every route is given: Slack-style `text` for chat tools, then the fields."""
    where = f" on {e.bead_id}" if e.bead_id else ""
    up = f" (raised {bumped_from}, unacknowledged)" if bumped_from else ""
    return {
        "text": f"[gastown] {e.severity.upper()} escalation #{e.id}{where}{up}: {e.message}",
        "subject": subject(e),
        "escalation": e.to_json(),
        "severity": e.severity,
        "bumped_from": bumped_from,
    }


def subject(e: Escalation) -> str:
    """The one line that names an escalation: an email's subject."""
    where = f" on {e.bead_id}" if e.bead_id else ""
    return f"[gastown] {e.severity} escalation #{e.id}{where}"
