"""Routing escalations: each open escalation is sent along `escalation.routes` once at each
severity it reaches, and one left unacknowledged for `escalation.bump_after_minutes` goes up
a severity and is sent again.

The town process runs `Router.run` beside the reconciler; `gt escalate` outside a run, with
no town up, runs one pass itself. What was sent where is kept in `meta` under
`escalation.routing:<id>` (`Routing`) and told as `escalation.routed`,
`escalation.route_failed` and `escalation.bumped` events. A pass first claims what it will
send in one transaction (an insert that only one claimant wins, a bump that only applies to
the severity it read), so two routers never send the same escalation twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gastown import escalation_routes as routes
from gastown.clock import Clock, duration, parse_stamp, stamp
from gastown.model import Escalation, Severity
from gastown.record import Record, field
from gastown.sections import sections
from gastown.services import senders
from gastown.services.ledger import Ledger
from gastown.townrun.wake import woken_or_after

if TYPE_CHECKING:
    from gastown.services.faults import Faults
    from gastown.store.sql import Tx

log = logging.getLogger("gastown.routing")

KEY = "escalation.routing:"
KEPT = 20
"""Outcomes kept per escalation (the events keep every one)."""
TICK = 10.0
"""Seconds between passes when nothing wakes the router: bumps are minutes apart."""


class Routing(Record):
    """What was sent for one escalation."""

    severity: str
    """The severity it was last routed at."""
    since: str
    """When it reached that severity: a bump is counted from here."""
    sent: list[dict[str, Any]] = field(default_factory=list)
    """Each route's outcome (`senders.Sent` with `severity` and `at`), latest last."""

    def to_json(self) -> dict[str, Any]:
        """The routing as kept in `meta` and shown by `gt escalations show`."""
        return {"severity": self.severity, "since": self.since, "sent": self.sent}


class Due(Record):
    """An escalation to send now; `bump_to` when it goes up a severity first."""

    escalation: Escalation
    """The escalation to send."""
    bump_to: Severity | None = None
    """The severity it goes up to before it is sent, when it was left unacknowledged."""


def due(
    open_: list[Escalation], kept: Mapping[int, Routing], now: datetime, bump_after: timedelta
) -> list[Due]:
    """Which open escalations to send: those never routed, and those unacknowledged for
    `bump_after` at a severity that has one above it."""
    out: list[Due] = []
    for e in open_:
        routing = kept.get(e.id)
        if routing is None:
            out.append(Due(e))
            continue
        up = routes.next_severity(e.severity)
        if up and routing.severity == e.severity and now - parse_stamp(routing.since) >= bump_after:
            out.append(Due(e, up))
    return out


def kept(tx: Tx) -> dict[int, Routing]:
    """How every escalation routed so far was routed, by escalation id."""
    rows = tx.db.execute("SELECT key, value FROM meta WHERE key LIKE ?", (KEY + "%",)).fetchall()
    return {int(str(k)[len(KEY) :]): Routing(**json.loads(v)) for k, v in rows}


def routing_of(tx: Tx, escalation_id: int) -> Routing | None:
    """How one escalation was routed, or None if it never was."""
    text = tx.get_meta(f"{KEY}{escalation_id}")
    return None if text is None else Routing(**json.loads(text))


def _save(tx: Tx, escalation_id: int, routing: Routing) -> None:
    tx.set_meta(f"{KEY}{escalation_id}", json.dumps(routing.to_json(), sort_keys=True))


class Router:
    """Sends escalations along the routes the settings name at the time of each pass."""

    def __init__(
        self,
        ledger: Ledger,
        settings: Callable[[], Mapping[str, Any]],
        clock: Clock,
        *,
        sleep: senders.Sleep = asyncio.sleep,
        faults: Faults | None = None,
    ) -> None:
        self.ledger, self.settings, self.clock = ledger, settings, clock
        self.sleep, self.faults = sleep, faults
        self.woken = asyncio.Event()

    async def run(self, tick: float = TICK) -> None:
        """Pass until cancelled; a failing pass is told and the next one tries again."""
        while True:
            try:
                await self.pass_()
            except Exception as exc:  # a pass must not stop the town: try again next tick
                log.exception("escalation routing failed")
                if self.faults:
                    self.faults.failed("escalation routing", exc)
            else:
                if self.faults:
                    self.faults.succeeded("escalation routing")
            await woken_or_after(self.woken, tick)

    async def pass_(self) -> list[tuple[Escalation, list[senders.Sent]]]:
        """Claim what is due, send it, and record how each route went."""
        settings = self.settings()
        escalation = sections(settings).escalation
        now = self.clock.now()
        bump_after = timedelta(minutes=escalation.bump_after_minutes)
        with self.ledger.store.reader() as tx:
            found = due(tx.list_escalations(open_only=True), kept(tx), now, bump_after)
        if not found:
            return []
        claimed = self._claim(found, now, bump_after)
        lines = routes.parse_all(list(escalation.routes))
        done = await asyncio.gather(*(self._send(e, was, lines, settings) for e, was in claimed))
        self._record(list(zip(claimed, done, strict=True)))
        return [(e, sent) for (e, _), sent in zip(claimed, done, strict=True)]

    def _claim(
        self, found: list[Due], now: datetime, bump_after: timedelta
    ) -> list[tuple[Escalation, str | None]]:
        """Take each due escalation for this pass, bumping those that go up; returns them
        with the severity they were bumped from."""
        out: list[tuple[Escalation, str | None]] = []
        with self.ledger.store.transaction() as tx:
            for d in found:
                e, at = d.escalation, stamp(now)
                if d.bump_to is None:
                    fresh = Routing(e.severity, e.created_at)
                    won = tx.db.execute(
                        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                        (f"{KEY}{e.id}", json.dumps(fresh.to_json(), sort_keys=True)),
                    )
                    if won.rowcount == 1:
                        out.append((e, None))
                    continue
                bumped = tx.db.execute(
                    "UPDATE escalations SET severity = ? "
                    "WHERE id = ? AND severity = ? AND acknowledged_at IS NULL",
                    (d.bump_to, e.id, e.severity),
                )
                if bumped.rowcount != 1:
                    continue
                routing = routing_of(tx, e.id) or Routing(e.severity, at)
                was, e.severity = e.severity, d.bump_to
                _save(tx, e.id, Routing(e.severity, at, routing.sent))
                self.ledger.record_event(
                    tx,
                    "escalation.bumped",
                    bead_id=e.bead_id,
                    rig=e.rig,
                    before={"id": e.id, "severity": was},
                    after={"id": e.id, "severity": e.severity},
                    reason=f"unacknowledged for {duration(bump_after.total_seconds())}",
                )
                out.append((e, was))
        return out

    async def _send(
        self,
        e: Escalation,
        was: str | None,
        lines: list[routes.Route],
        settings: Mapping[str, Any],
    ) -> list[senders.Sent]:
        payload = routes.message(e, bumped_from=was)
        taking = [r for r in lines if r.takes(e.severity)]
        return list(
            await asyncio.gather(
                *(senders.send(r, payload, settings, sleep=self.sleep) for r in taking)
            )
        )

    def _record(self, done: list[tuple[tuple[Escalation, str | None], list[senders.Sent]]]) -> None:
        at = stamp(self.clock.now())
        with self.ledger.store.transaction() as tx:
            for (e, _), sent in done:
                if not sent:
                    continue
                routing = routing_of(tx, e.id) or Routing(e.severity, at)
                outcomes = [{**s.to_json(), "severity": e.severity, "at": at} for s in sent]
                routing.sent = (routing.sent + outcomes)[-KEPT:]
                _save(tx, e.id, routing)
                tx.append_events(
                    [
                        self.ledger.event(
                            "escalation.routed" if s.ok else "escalation.route_failed",
                            bead_id=e.bead_id,
                            rig=e.rig,
                            after={
                                "id": e.id,
                                "severity": e.severity,
                                "route": s.route,
                                "attempts": s.attempts,
                            },
                            reason=s.error,
                        )
                        for s in sent
                    ]
                )
