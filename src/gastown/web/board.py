"""The board people work from: beads in a column per status, filtered and searched from the
URL, each card saying who works on it, for how long, in which attempt, what it has cost so far
and where its merge request stands, and when a bead waiting for its next attempt is tried again.

Filters come from the query string (`rig`, `label` (repeatable), `type`, `priority`,
`assignee`, `status` (repeatable), `q`) and are applied in SQL (`BeadFilter`). A value that
cannot match (an unknown rig, type, priority or status) is dropped with a sentence saying so,
and the board still renders; a label or assignee no bead has is kept, and said. What a card
adds to its bead is read for the whole page at once (`store.board`, one cost roll-up, one
read of the retries to come, `services.retries`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gastown import config
from gastown.clock import stamp
from gastown.config import RUNTIMES
from gastown.errors import NotFound
from gastown.limits import shown
from gastown.model import (
    ACTIVE_RUN_STATUSES,
    BEAD_STATUSES,
    BEAD_TYPES,
    CLOSED,
    FAILED,
    OPEN,
    Rig,
)
from gastown.runtimes import prices
from gastown.services import costs, moves, retries
from gastown.store import BeadFilter, Tx, board, controls

LIMIT = 100
"""Beads shown per column (the column's full count is shown beside it)."""
MAX_SEARCH = 200
"""Characters of a search kept (a longer one is cut, and said)."""
FILTER_KEYS = ("rig", "label", "type", "priority", "assignee", "status", "q")


def parse(tx: Tx, query: Sequence[tuple[str, str]], rig: str | None = None) -> dict[str, Any]:
    """The board's filter from a query string: what was chosen (for the form and the JSON),
    the `BeadFilter` it makes, and a sentence for each value that cannot be used. `rig`, when
    given, is the page's own rig and wins over the query's."""
    given: dict[str, list[str]] = {}
    for key, value in query:
        if key in FILTER_KEYS and value.strip():
            given.setdefault(key, []).append(value.strip())
    notices: list[str] = []
    rigs = [r.name for r in tx.list_rigs()]
    chosen_rig = rig if rig is not None else _last(given, "rig")
    if chosen_rig is not None and chosen_rig not in rigs:
        known = ", ".join(rigs) or "none yet"
        notices.append(f"There is no rig '{shown(chosen_rig)}' (rigs: {known}); showing every rig.")
        chosen_rig = None
    kind = _last(given, "type")
    if kind is not None and kind not in BEAD_TYPES:
        notices.append(f"'{shown(kind)}' is not a bead type ({', '.join(BEAD_TYPES)}); ignored.")
        kind = None
    level = _last(given, "priority")
    priority = None
    if level is not None:
        text = level.upper().removeprefix("P")
        if text.isdigit() and 0 <= int(text) <= 4:
            priority = int(text)
        else:
            notices.append(f"Priority '{shown(level)}' is not 0 to 4 (or P0 to P4); ignored.")
    statuses = []
    for name in given.get("status", []):
        if name in BEAD_STATUSES:
            statuses.append(name)
        else:
            notices.append(
                f"'{shown(name)}' is not a bead status ({', '.join(BEAD_STATUSES)}); ignored."
            )
    statuses = [s for s in BEAD_STATUSES if s in statuses]  # lifecycle order, once each
    labels = sorted(set(given.get("label", [])))
    for label in labels:
        if not board.known(tx, "label", label):
            notices.append(f"No bead has the label '{shown(label)}'.")
    assignee = _last(given, "assignee")
    if assignee is not None and not board.known(tx, "assignee", assignee):
        notices.append(f"No bead is assigned to '{shown(assignee)}'.")
    search = _last(given, "q")
    if search is not None and len(search) > MAX_SEARCH:
        notices.append(f"The search was cut to its first {MAX_SEARCH} characters.")
        search = search[:MAX_SEARCH]
    flt = BeadFilter(
        rig=chosen_rig,
        labels=labels or None,
        type=kind,
        priority=priority,
        assignee=assignee,
        text=search,
    )
    return {
        "chosen": {
            "rig": chosen_rig,
            "label": labels,
            "type": kind,
            "priority": priority,
            "assignee": assignee,
            "status": statuses,
            "q": search,
        },
        "active": bool(
            statuses
            or labels
            or search
            or [v for v in (None if rig else chosen_rig, kind, priority, assignee) if v is not None]
        ),
        "filter": flt,
        "statuses": statuses,
        "notices": notices,
        "rigs": rigs,
    }


def _last(given: dict[str, list[str]], key: str) -> str | None:
    values = given.get(key)
    return values[-1] if values else None


def read(
    tx: Tx,
    wanted: dict[str, Any],
    now: datetime,
    limit: int = LIMIT,
    *,
    settings: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The board for a parsed filter (`parse`): a column per status wanted (every status when
    none is), each its first `limit` beads by priority then age with its full count.
    `settings` (the town layer) and `environ` say how long a failed attempt waits before the
    next (None: the defaults)."""
    flt: BeadFilter = wanted["filter"]
    rig = flt.rig
    found = tx.get_rig(rig) if rig is not None else None
    if rig is not None and found is None:
        raise NotFound(f"There is no rig '{rig}'.", hint="`gt rig list` shows the town's rigs.")
    counts = board.count_by_status(tx, flt)
    columns: list[dict[str, Any]] = []
    for status in wanted["statuses"] or BEAD_STATUSES:
        beads: list[dict[str, Any]] = []
        if counts.get(status):
            every = {name: getattr(flt, name) for name in flt.__fields__}
            picked = BeadFilter(**{**every, "statuses": [status], "limit": limit})
            beads = json.loads(tx.beads_json(picked))
        columns.append(
            {
                "status": status,
                "count": counts.get(status, 0),
                "beads": beads,
                "moves": moves.targets(status),
            }
        )
    _annotate(tx, columns, now, rig)
    _retries(tx, columns, now, rig, settings or {}, environ or {})
    pauses = controls.pauses(tx)
    return {
        "rig": _rig_json(found) if found is not None else None,
        "filters": wanted["chosen"],
        "filtered": wanted["active"],
        "notices": wanted["notices"],
        "rigs": wanted["rigs"],
        "types": list(BEAD_TYPES),
        "statuses": list(BEAD_STATUSES),
        "runtimes": list(RUNTIMES),
        "models": sorted(prices.table()),
        "limit": limit,
        "columns": columns,
        "convoys": [c.to_json() for c in tx.list_convoys(rig, "open")],
        "agents": [r.to_json() for r in tx.list_runs(rig=rig, statuses=ACTIVE_RUN_STATUSES)],
        "paused": pauses.get(rig) if rig else None,
        "town_paused": pauses.get(""),
    }


def _annotate(tx: Tx, columns: list[dict[str, Any]], now: datetime, rig: str | None) -> None:
    """What each card says beyond its bead: readiness, runs, time, cost, merge state."""
    shown_ids = [b["id"] for c in columns for b in c["beads"]]
    waiting = [b["id"] for c in columns if c["status"] == OPEN for b in c["beads"]]
    ready = set(tx.bead_ids(BeadFilter(ids=waiting, ready=True))) if waiting else set()
    blocked = tx.bead_ids(BeadFilter(ids=waiting, blocked=True)) if waiting else []
    waits, children = tx.waiting_on(blocked), tx.open_children(blocked)
    runs = board.run_facts(tx, shown_ids) if shown_ids else {}
    merges = board.merge_states(tx, shown_ids) if shown_ids else {}
    spent = {s.key: s for s in costs.rollup(tx, "bead", rig=rig)} if shown_ids else {}
    for column in columns:
        for bead in column["beads"]:
            bead_id = bead["id"]
            bead.pop("body", None)
            bead["ready"] = bead_id in ready
            bead["blocked"] = (
                _waits(waits.get(bead_id), children.get(bead_id)) if bead_id in blocked else None
            )
            facts = runs.get(bead_id, board.RunFacts())
            bead["attempts"] = facts.attempts
            bead["polecat"] = facts.polecat
            bead["run_runtime"] = facts.runtime
            bead["run_model"] = facts.model  # `model` is the one it was slung with
            mr = merges.get(bead_id)
            bead["merge"] = mr
            spend = spent.get(bead_id)
            bead["cost"] = (
                {"usd": round(spend.usd, 6), "unknown": spend.unknown, "calls": spend.calls}
                if spend is not None
                else None
            )
            label, since = _clock(bead, facts, mr)
            bead["clock"] = {"label": label, "since": since, "for": took(since, now)}


def _retries(
    tx: Tx,
    columns: list[dict[str, Any]],
    now: datetime,
    rig: str | None,
    settings: Mapping[str, Any],
    environ: Mapping[str, str],
) -> None:
    """Each open card whose next attempt is still to come says when (`retry_at`, and `retry`
    in words), as the planner decides it: one read for the page, not one per card."""
    open_cards = [b for c in columns if c["status"] == OPEN for b in c["beads"]]
    waits = retries.waiting(tx, settings, environ, now, rig) if open_cards else {}
    for bead in (b for c in columns for b in c["beads"]):
        at = waits.get(bead["id"]) if bead["status"] == OPEN else None
        bead["retry_at"] = stamp(at) if at is not None else None
        bead["retry"] = retries.words(at, now) if at is not None else None


def _clock(
    bead: dict[str, Any], facts: board.RunFacts, mr: dict[str, Any] | None
) -> tuple[str, str | None]:
    """What a card's time says, and since when: running for, waiting for, in review for."""
    status = bead["status"]
    if facts.polecat is not None:
        return "running", facts.started_at
    if status == OPEN:
        return "waiting", max(bead["created_at"], facts.last_ended_at or "")
    if status == "in_review":
        return "in review", mr["since"] if mr else bead["updated_at"]
    if status == CLOSED:
        return "closed", bead.get("closed_at") or bead["updated_at"]
    if status == FAILED:
        return "failed", facts.last_ended_at or bead["updated_at"]
    return "in progress", bead.get("started_at") or bead["updated_at"]


def took(since: str | None, now: datetime) -> str:
    """How long since `since`, in its two largest units: `3d 4h`, `5m`, `12s` (pure)."""
    if not since:
        return "–"
    try:
        then = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        return "–"
    seconds = max(0, int((now - then).total_seconds()))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def _waits(
    blockers: list[tuple[str, str, str]] | None, children: list[tuple[str, str, str]] | None
) -> str:
    """What a blocked bead waits on, as its tag's title says it."""
    waits = []
    if blockers:
        waits.append("waiting on " + ", ".join(f"{w[0]} ({w[1]})" for w in blockers))
    if children:
        waits.append("waiting on its children " + ", ".join(f"{c[0]} ({c[1]})" for c in children))
    return "; ".join(waits) or "under a blocked parent"


def _rig_json(rig: Rig) -> dict[str, Any]:
    """A rig with its setting overrides masked."""
    return {**rig.to_json(), "settings": {k: config.masked(k, v) for k, v in rig.settings.items()}}


def options(tx: Tx) -> dict[str, list[str]]:
    """The labels and assignees the town's beads have, for the filter form's suggestions."""
    labels = [str(r[0]) for r in tx.db.execute("SELECT DISTINCT label FROM labels").fetchall()]
    people = tx.db.execute(
        "SELECT DISTINCT assignee FROM beads WHERE assignee IS NOT NULL"
    ).fetchall()
    return {"labels": sorted(labels), "assignees": sorted(str(r[0]) for r in people)}
