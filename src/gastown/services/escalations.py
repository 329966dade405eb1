"""Escalations: what a person must look at, raised by agents (`gt escalate`) or the town, and
acknowledged by people (`gt escalation ack`)."""

from __future__ import annotations

from typing import Any, TypedDict, Unpack

from gastown.errors import Conflict, InvalidValue, NotFound
from gastown.limits import MAX_INT, shown
from gastown.model import SEVERITIES, Escalation, Severity
from gastown.services.ledger import Ledger
from gastown.store import Tx

MAX_MESSAGE = 4000
"""Longest escalation message kept; an agent pasting a whole log gets a plain refusal."""


def severity_of(text: str) -> Severity:
    """`text` as a severity, or a refusal naming the severities there are."""
    for severity in SEVERITIES:
        if text == severity:
            return severity
    raise InvalidValue(f"Severity must be one of {', '.join(SEVERITIES)}, not '{text}'.")


def check(severity: str, message: str) -> str:
    """The message, stripped, if the severity and message are acceptable."""
    severity_of(severity)
    text = message.strip()
    if not text:
        raise InvalidValue("An escalation needs a message saying what is wrong.")
    if len(text) > MAX_MESSAGE:
        raise InvalidValue(
            f"An escalation message is at most {MAX_MESSAGE} characters; this one has {len(text)}.",
            hint="Say what is wrong in a few sentences; the transcript has the details.",
        )
    return text


class About(TypedDict, total=False):
    """What an escalation is about, each part optional (`raise_` and `raise_in` take it)."""

    bead_id: str | None
    """The bead."""
    run_id: str | None
    """The run."""
    rig: str | None
    """The rig."""


def raise_in(
    ledger: Ledger, tx: Tx, severity: str, message: str, **about: Unpack[About]
) -> Escalation:
    """Raise an escalation inside the caller's transaction (with its `escalation.raised`)."""
    bead_id, run_id, rig = about.get("bead_id"), about.get("run_id"), about.get("rig")
    now = ledger.now()
    level = severity_of(severity)
    escalation = Escalation(0, level, check(level, message), now, bead_id, run_id, rig)
    escalation.id = tx.insert_escalation(escalation)
    ledger.record_event(
        tx,
        "escalation.raised",
        at=now,
        bead_id=bead_id,
        rig=rig,
        after={"id": escalation.id, "severity": severity, "run_id": run_id},
        reason=escalation.message,
    )
    return escalation


def raise_(ledger: Ledger, severity: str, message: str, **about: Unpack[About]) -> Escalation:
    """Raise an escalation in a transaction of its own."""
    with ledger.store.transaction() as tx:
        return raise_in(ledger, tx, severity, message, **about)


def list_(ledger: Ledger, *, include_acknowledged: bool = False) -> list[Escalation]:
    """Open escalations (or every one), oldest first."""
    with ledger.store.reader() as tx:
        return tx.list_escalations(open_only=not include_acknowledged)


def acknowledge(ledger: Ledger, escalation_id: int) -> Escalation:
    """Acknowledge an open escalation as the ledger's actor."""
    if isinstance(escalation_id, bool) or not isinstance(escalation_id, int):
        raise InvalidValue(f"An escalation is named by its number, not '{shown(escalation_id)}'.")
    with ledger.store.transaction() as tx:
        found = tx.get_escalation(escalation_id) if 0 < escalation_id <= MAX_INT else None
        if found is None:
            raise NotFound(
                f"There is no escalation {shown(escalation_id)}.",
                hint="`gt escalations --all` lists them.",
            )
        now = ledger.now()
        if not tx.acknowledge_escalation(escalation_id, now, ledger.actor):
            raise Conflict(
                f"Escalation {escalation_id} was already acknowledged by "
                f"{found.acknowledged_by} at {found.acknowledged_at}."
            )
        found.acknowledged_at, found.acknowledged_by = now, ledger.actor
        ledger.record_event(
            tx,
            "escalation.acknowledged",
            at=now,
            bead_id=found.bead_id,
            rig=found.rig,
            before={"id": escalation_id, "acknowledged_at": None},
            after={"id": escalation_id, "acknowledged_at": now},
        )
        return found


def raise_about(ledger: Ledger, severity: str, message: str, bead: str | None = None) -> Escalation:
    """A person's or the mayor's escalation, about a bead (named as `gt bead show` takes it)
    or about nothing in particular."""
    from gastown.services.ledger import get_bead

    check(severity, message)
    with ledger.store.transaction() as tx:
        found = get_bead(tx, ledger.prefix, bead) if bead else None
        return raise_in(
            ledger,
            tx,
            severity,
            message,
            bead_id=found.id if found else None,
            rig=found.rig if found else None,
        )


def show(ledger: Ledger, escalation_id: int) -> dict[str, Any]:
    """One escalation with where it was sent (`services.routing`) and how each route went."""
    from gastown.services.routing import routing_of

    with ledger.store.reader() as tx:
        found = tx.get_escalation(escalation_id) if 0 < escalation_id <= MAX_INT else None
        if found is None:
            raise NotFound(
                f"There is no escalation {shown(escalation_id)}.",
                hint="`gt escalations --all` lists them.",
            )
        routing = routing_of(tx, escalation_id)
    return {**found.to_json(), "routing": routing.to_json() if routing else None}
