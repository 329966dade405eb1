"""What the dashboard shows, as plain JSON-ready dicts: each page renders one of these, and the
JSON API returns the same dict, so a page never knows more than the API says.

Everything is read through the store's transactions and the services; writes never happen
here. Secret settings are masked before they leave (`config.masked`).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from gastown import config
from gastown.clock import stamp
from gastown.errors import NotFound
from gastown.model import ACTIVE_RUN_STATUSES, BEAD_STATUSES, BLOCKS, MR_STATUSES, Event, Rig
from gastown.polecat.conversation import Conversation
from gastown.polecat.transcript import Source
from gastown.services import convoys as convoy_service
from gastown.services import costs, deps, event_names, hosts, setting_sections
from gastown.services import settings as settings_service
from gastown.services.ledger import Ledger, get_bead
from gastown.store import BeadFilter, Tx, controls
from gastown.store.projection import bead_lines
from gastown.town import Town
from gastown.web import svg

__all__ = ["Source"]

ACTIVITY_HOURS = 24
BUCKET_MINUTES = 30
FEED_LENGTH = 30
TRANSCRIPT_TAIL = 200
"""Transcript events a page starts with; the live stream adds the rest."""
TIMELINE_LENGTH = 300
SPEND_DAYS = 14
"""Days of spend the overview charts, today last."""


def rig_json(rig: Rig) -> dict[str, Any]:
    """A rig with its setting overrides masked."""
    return {**rig.to_json(), "settings": {k: config.masked(k, v) for k, v in rig.settings.items()}}


def overview(tx: Tx, now: datetime) -> dict[str, Any]:
    """The town at a glance: counts (by status, ready, blocked), active convoys, agents at
    work, open escalations, the latest events and the last 24 hours of activity."""
    runs = tx.list_runs(statuses=ACTIVE_RUN_STATUSES)
    titles = _titles(tx, [r.bead_id for r in runs])
    counts = tx.count_by_status()
    return {
        "beads": {s: counts.get(s, 0) for s in BEAD_STATUSES},
        "ready": tx.count(BeadFilter(ready=True)),
        "blocked": tx.count(BeadFilter(blocked=True, statuses=deps.UNFINISHED)),
        "rigs": [r.name for r in tx.list_rigs()],
        "convoys": [c.to_json() for c in tx.list_convoys(status="open")],
        "agents": [{**r.to_json(), "bead_title": titles.get(r.bead_id, "")} for r in runs],
        "escalations": [e.to_json() for e in tx.list_escalations(open_only=True)],
        "events": _said(tx, tx.list_events(newest_first=True, limit=FEED_LENGTH)),
        "activity": activity(tx, now),
        "spend_days": [d.to_json() for d in costs.per_day(tx, now, SPEND_DAYS)],
        "dispatch_paused": tx.get_pause(),
        "rigs_paused": {k: v for k, v in controls.pauses(tx).items() if k},
        "hosts": hosts.listed(tx, now, 30.0),  # a town over several hosts: its processes
    }


def activity(tx: Tx, now: datetime) -> dict[str, Any]:
    """Events per `BUCKET_MINUTES` over the last `ACTIVITY_HOURS`, oldest bucket first."""
    buckets = ACTIVITY_HOURS * 60 // BUCKET_MINUTES
    start = now.replace(second=0, microsecond=0) - timedelta(
        minutes=now.minute % BUCKET_MINUTES + BUCKET_MINUTES * (buckets - 1)
    )
    counts = [0] * buckets
    # One grouped read of the append-only log (the store has no per-minute query of its own);
    # plain SQL that SQLite and PostgreSQL read alike.
    rows = tx.db.execute(
        "SELECT SUBSTR(at, 1, 16), COUNT(*) FROM events WHERE at >= ? GROUP BY SUBSTR(at, 1, 16)",
        (stamp(start),),
    ).fetchall()
    for minute, count in rows:
        try:
            at = datetime.fromisoformat(f"{minute}:00+00:00")
        except ValueError:
            continue
        index = int((at - start).total_seconds() // (BUCKET_MINUTES * 60))
        if 0 <= index < buckets:
            counts[index] += int(count)
    return {
        "start": stamp(start),
        "bucket_minutes": BUCKET_MINUTES,
        "counts": counts,
        "total": sum(counts),
    }


def bead(ledger: Ledger, bead_id: str, silence: float = 30.0) -> dict[str, Any]:
    """One bead with everything about it: what it depends on and what depends on it, its runs,
    merge requests (gates, review), escalations and its events; and why its run waits, when it
    waits for a worker (one silent for `silence` seconds counts as gone)."""
    with ledger.store.reader() as tx:
        found = get_bead(tx, ledger.prefix, bead_id)
        dependents = tx.dependents_of(found.id)
        related = [d.depends_on_id for d in found.dependencies] + [d.bead_id for d in dependents]
        titles = _titles(tx, related)
        statuses = tx.statuses(related)
        convoy = tx.get_convoy(found.convoy_id) if found.convoy_id else None
        runs = tx.list_runs(bead_id=found.id)
        mrs = tx.list_merge_requests(bead_id=found.id)
        escalations = tx.list_escalations(bead_id=found.id)
        events = _said(
            tx, tx.list_events(bead_id=found.id, newest_first=True, limit=TIMELINE_LENGTH)
        )
        links = tx.issue_links_of([found.id])
        spend = costs.spent(tx, bead_id=found.id)  # its runs and its reviews
        waiting = next(
            (
                hosts.waiting_for_worker(tx, r, ledger.clock.now(), silence)
                for r in runs
                if r.active and r.queue
            ),
            None,
        )
    why = deps.readiness(ledger, found)

    def edge(other: str, kind: str) -> dict[str, Any]:
        return {
            "id": other,
            "type": kind,
            "title": titles.get(other, "(not in this town)"),
            "status": statuses.get(other, "unknown"),
        }

    return {
        "bead": found.to_json(),
        "depends_on": [edge(d.depends_on_id, d.type) for d in found.dependencies],
        "dependents": [edge(d.bead_id, d.type) for d in dependents],
        "convoy": convoy.to_json() if convoy else None,
        "runs": [r.to_json() for r in runs],
        "merge_requests": [merge_request(m.to_json()) for m in mrs],
        "escalations": [e.to_json() for e in escalations],
        "events": events,
        "readiness": {**why.to_json(), "reasons": why.reasons()},
        "issue": _issue(links[0].to_json()) if links else None,
        "issues": {link.bead_id: _issue(link.to_json()) for link in links},
        "spend": spend.to_json(),
        "waiting_for_worker": waiting,
    }


def _issue(link: dict[str, Any]) -> dict[str, Any] | None:
    """An issue link as shown: only one whose URL is a web address."""
    url = link.get("url")
    return link if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def merge_request(mr: dict[str, Any]) -> dict[str, Any]:
    """A merge request as shown: its fields, and a PR link only if it is a web address."""
    url = mr.get("pr_url")
    if not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        mr = {**mr, "pr_url": None}
    return mr


def merge_queue(tx: Tx, done_limit: int = 50) -> dict[str, Any]:
    """Merge requests in the refinery's hands first (oldest first), then the latest finished."""
    every = [merge_request(m.to_json()) for m in tx.list_merge_requests()]
    finished = {"merged", "failed", "rejected"}
    waiting = [m for m in every if m.get("status") not in finished]
    done = [m for m in every if m.get("status") in finished][::-1][:done_limit]
    ids = [str(m["bead_id"]) for m in every if m.get("bead_id")]
    return {
        "statuses": list(MR_STATUSES),
        "active": waiting,
        "finished": done,
        "titles": _titles(tx, ids),
        "issues": {link.bead_id: _issue(link.to_json()) for link in tx.issue_links_of(ids)},
    }


def convoy(ledger: Ledger, convoy_id: str) -> dict[str, Any]:
    """A convoy, its beads, their dependency graph laid out by waves, and its timeline."""
    view = convoy_service.show(ledger, convoy_id)
    with ledger.store.reader() as tx:
        cid = view.convoy.id
        events = _said(tx, tx.list_events(convoy_id=cid, newest_first=True, limit=TIMELINE_LENGTH))
        spend = costs.spent(tx, convoy_id=cid)
    members = [b.to_json() for b in view.beads]
    edges = [
        (d.bead_id, d.depends_on_id) for b in view.beads for d in b.dependencies if d.type == BLOCKS
    ]
    graph = svg.convoy_graph(members, view.waves, edges)
    return {**view.to_json(), "graph": graph, "events": events, "spend": spend.to_json()}


def convoys(tx: Tx) -> dict[str, Any]:
    every = tx.list_convoys()
    return {"convoys": [c.to_json() for c in every[::-1]]}


def agents(tx: Tx) -> dict[str, Any]:
    """Every polecat with its current (or last) run."""
    polecats = tx.list_polecats()
    runs = {p.name: tx.get_run(p.run_id) if p.run_id else None for p in polecats}
    titles = _titles(tx, [p.bead_id for p in polecats if p.bead_id])
    return {
        "agents": [
            {
                **p.to_json(),
                "bead_title": titles.get(p.bead_id or "", ""),
                "run": run.to_json() if (run := runs[p.name]) else None,
            }
            for p in polecats
        ]
    }


def agent(tx: Tx, town: Town, name: str, lines: int = TRANSCRIPT_TAIL) -> dict[str, Any]:
    """One polecat: its state, bead, current (or last) run with tokens and cost, its recent
    runs, and the tail of that run's transcript with the byte offset to follow it from."""
    polecat = tx.get_polecat(name)
    if polecat is None:
        raise NotFound(f"There is no polecat '{name}'.", hint="`gt agents` lists them.")
    run = tx.get_run(polecat.run_id) if polecat.run_id else None
    recent = tx.list_runs(polecat=name)[-10:][::-1]
    bead_id = polecat.bead_id or (run.bead_id if run else None)
    titles = _titles(tx, [bead_id] if bead_id else [])
    tail: list[dict[str, Any]] = []
    offset = 0
    if run is not None:
        tail, offset = Source(town.path, run.id, run.transcript, tx).tail(lines)
    return {
        "agent": polecat.to_json(),
        "bead_id": bead_id,
        "bead_title": titles.get(bead_id or "", ""),
        "run": run.to_json() if run else None,
        "runs": [r.to_json() for r in recent],
        "transcript": [line.to_json() for line in _conversation(tail)],
        "offset": offset,
        "spend": costs.spent(tx, agent=name).to_json(),
    }


def _conversation(events: list[dict[str, Any]]) -> list[Any]:
    """A transcript's tail as the lines a person reads (a call still running shown as such)."""
    talk = Conversation()
    return [*talk.feed_all(events), *talk.flush()]


def escalations(tx: Tx, include_acknowledged: bool = False) -> dict[str, Any]:
    found = tx.list_escalations(open_only=not include_acknowledged)
    return {"escalations": [e.to_json() for e in found[::-1]], "all": include_acknowledged}


def settings(
    ledger: Ledger, town: Town, rig: str | None, environ: dict[str, str] | Any
) -> dict[str, Any]:
    """Every setting: its effective value (secrets masked), the layer it came from, whether
    this layer (the town's `town.toml`, or the rig's overrides) sets it, and what it accepts."""
    resolved = settings_service.effective(ledger, town, rig, environ)
    layer = settings_service.rig_overrides(ledger, rig) if rig else town.settings
    with ledger.store.reader() as tx:
        rigs = [r.name for r in tx.list_rigs()]
    rows = []
    for key, s in config.SETTINGS.items():
        value = resolved.display(key)
        rows.append(
            {
                "key": key,
                "kind": s.kind,
                "doc": s.doc,
                "choices": list(s.choices),
                "expected": s.expected,
                "secret": s.secret,
                "value": value,
                "text": _as_text(value),
                "origin": resolved.origins[key],
                "set_here": key in layer,
            }
        )
    return {"rig": rig, "rigs": rigs, "settings": rows, "sections": setting_sections.group(rows)}


def _as_text(value: Any) -> str:
    """A value as it would be typed into `gt config set`."""
    if value is None:
        return "off"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _said(tx: Tx, events: list[Event]) -> list[dict[str, Any]]:
    """Events as the feed shows them: each with its sentence (`sentences`)."""
    return event_names.sentences(tx, [e.to_json() for e in events])


def _titles(tx: Tx, ids: list[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {line.id: line.title for line in bead_lines(tx, BeadFilter(ids=wanted))}
