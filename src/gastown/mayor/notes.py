"""Idle notes: what happened in the town since the mayor's last turn, read mechanically from
the event log and put at the start of the next user turn.

Nothing runs while nobody talks to the mayor, so it spends no tokens while idle; the events it
would have wanted to hear about (escalations raised, convoys landed or cancelled, beads failed,
dispatch paused, a budget at 80%, mail to the mayor) wait in the log until the next turn.
Events the mayor caused itself are left out. The id of the last event told is kept in the store
(`meta`), so each note is told once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gastown.model import FAILED, MAYOR, Event

if TYPE_CHECKING:
    from gastown.store.sql import Tx

KINDS = (
    "escalation.raised",
    "convoy.landed",
    "convoy.cancelled",
    "bead.status_changed",
    "bead.updated",
    "forge.issue_seen",
    "budget.warning",
    "knowledge.added",
    "mail.sent",
)
"""The event kinds that may become notes (with `dispatch.paused`, read separately)."""

MAX_NOTES = 20
"""Notes in one block; the rest are counted, not listed."""

LINE_CHARS = 300
"""A note longer than this is cut (the event log keeps all of it)."""

HEADER = "[Town notes since your last turn]"


def take(tx: Tx) -> str:
    """The notes block for events since the last one told (empty when there is nothing to
    tell), marking every event up to now as told. Run it in the turn's transaction."""
    seen = tx.mayor_seen_event()
    latest = tx.list_events(newest_first=True, limit=1)
    if not latest or latest[0].id <= seen:
        return ""
    found: list[Event] = []
    for kind in (*KINDS, "dispatch.paused"):
        found.extend(tx.list_events(kind=kind, after_id=seen))
    # What the mayor did itself it already knows.
    mine = [e for e in found if e.actor != MAYOR]
    letters = {m.id: m.text for m in tx.inbox((MAYOR,), unread_only=True, limit=MAX_NOTES)}
    lines = [_cut(line) for e in sorted(mine, key=lambda e: e.id) if (line := note(e, letters))]
    tx.set_mayor_seen_event(latest[0].id)
    if not lines:
        return ""
    shown = lines[:MAX_NOTES]
    if len(lines) > MAX_NOTES:
        shown.append(f"- … and {len(lines) - MAX_NOTES} more.")
    return "\n".join([HEADER, *shown])


def note(e: Event, letters: dict[int, str] | None = None) -> str:
    """One line for an event worth telling, or empty for one that is not; `letters` holds the
    text of the mayor's unread mail by id (mail already read is not news)."""
    why = f": {e.reason}" if e.reason else ""
    after = e.after or {}
    if e.kind == "escalation.raised":
        where = f" (bead {e.bead_id})" if e.bead_id else ""
        return f"- Escalation {after.get('id')} raised, {after.get('severity')}{where}{why}"
    if e.kind == "convoy.landed":
        return f"- Convoy {e.convoy_id} landed{why}"
    if e.kind == "convoy.cancelled":
        return f"- Convoy {e.convoy_id} was cancelled before its work landed{why}"
    if after.get("held") is True:  # often a bead too big for one run
        return f"- Bead {e.bead_id} held: consider splitting it{why}"
    if e.kind == "forge.issue_seen":
        title = after.get("title", "")
        return f"- New issue #{after.get('number')} on rig {e.rig}, unlabelled: {title}"
    if e.kind == "dispatch.paused":
        by = after.get("by")
        where = f" on rig {e.rig}" if e.rig else ""
        who = f"{by} paused dispatch" if by else "The circuit breaker paused dispatch"
        return f"- {who}{where}{why}"
    if e.kind == "mail.sent":  # only the mayor's own mail is news to it
        text = (letters or {}).get(int(after.get("id") or 0))
        if after.get("to") != MAYOR or text is None:
            return ""
        where = f" about bead {e.bead_id}" if e.bead_id else ""
        first = text if len(text) <= MAIL_PREVIEW else text[: MAIL_PREVIEW - 1] + "…"
        return f"- Mail {after.get('id')} from {after.get('from')}{where}: {first}"
    if e.kind == "knowledge.added":  # what a polecat or the refinery proposes, to curate
        if after.get("status") != "proposed":
            return ""
        return f"- Note {after.get('id')} proposed by {e.actor}: {after.get('text')}"
    if e.kind == "budget.warning":  # a used-up budget is told as its escalation
        return f"- Budget warning: {e.reason}"
    if after.get("status") == FAILED:
        return f"- Bead {e.bead_id} failed{why}"
    return ""


MAIL_PREVIEW = 200
"""Characters of a message shown in a note; `read_mail` gives all of it (and marks it read:
a note alone leaves it unread, so `list_mail` still shows it until it is dealt with)."""


def _cut(line: str) -> str:
    return line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…"
