"""Applying checked import records to a town: decide each one, then write them all.

`plan` reads the town and sorts every record into created, updated, unchanged or stale, merging
an update with the town's copy (labels and edges unioned, never dropped). It writes nothing, so
a dry run is `plan` alone. `write` then inserts and updates in the caller's transaction, with one
event per created or updated record.
"""

from __future__ import annotations

import re
from typing import Any

from gastown import dag
from gastown.errors import Conflict, ImportFormatError
from gastown.model import BLOCKS, CLOSED, PARENT_CHILD, Bead, Convoy, Event
from gastown.record import Record, field, replace
from gastown.services.interop import DEP_FIELDS, ImportSummary
from gastown.services.interop_read import Incoming
from gastown.services.ledger import Ledger, on_bead
from gastown.store import BeadFilter, Tx

CHILD_ID = re.compile(r"(.+)\.([0-9]+)")
CHUNK = 500


class Plan(Record):
    """What an import will write."""

    new_convoys: list[Convoy] = field(default_factory=list)
    """Convoys the town does not have yet."""
    changed_convoys: list[tuple[Convoy, Convoy]] = field(default_factory=list)
    """(the town's copy, the imported one)"""
    new_beads: list[Bead] = field(default_factory=list)
    """Beads the town does not have yet."""
    changed_beads: list[tuple[Bead, Bead]] = field(default_factory=list)
    """(the town's copy, the merge of it with the imported one)"""
    children: dict[str, int] = field(default_factory=dict)
    """Parent id → highest child number imported, so new children are numbered after them."""


def plan(tx: Tx, records: list[Incoming], summary: ImportSummary, now: str) -> Plan:
    """Decide every record against the town, counting each in `summary`; writes nothing."""
    latest: dict[str, Incoming] = {}
    for rec in records:
        # Times are normalized to one fixed-width UTC form, so they compare as text.
        # A later line for the same id wins a tie (files merged with git's union driver).
        held = latest.get(rec.record.id)
        if held is None or rec.record.updated_at >= held.record.updated_at:
            if held is not None:
                _stale(summary, held.record.id)
            latest[rec.record.id] = rec
        else:
            _stale(summary, rec.record.id)
    ids = list(latest)
    stored: dict[str, Bead] = {}
    for start in range(0, len(ids), CHUNK):
        stored.update((b.id, b) for b in tx.list_beads(BeadFilter(ids=ids[start : start + CHUNK])))
    convoys = {c.id: c for c in tx.list_convoys()}
    convoy_ids = set(convoys) | {i for i, r in latest.items() if isinstance(r.record, Convoy)}
    out = Plan()
    for rec in latest.values():
        where = f"Line {rec.line} of {summary.file}"
        if isinstance(rec.record, Convoy):
            if rec.record.id in stored:
                raise Conflict(f"{where} is a convoy, but {rec.record.id} is a bead in this town.")
            _plan_convoy(rec.record, convoys.get(rec.record.id), out, summary, now)
        else:
            if rec.record.id in convoys:
                raise Conflict(f"{where} is a bead, but {rec.record.id} is a convoy in this town.")
            _join_convoy(rec, convoy_ids, where)
            _plan_bead(rec, stored.get(rec.record.id), out, summary, now)
    _check_targets(tx, latest, summary.file)
    _check_cycles(tx, out, summary.file)
    _check_children(tx, out, summary.file)
    rigs = {r.name for r in tx.list_rigs()}
    named = {b.rig for b in out.new_beads} | {b.rig for _, b in out.changed_beads}
    named |= {c.rig for c in out.new_convoys}
    summary.missing_rigs = sorted(r for r in named if r and r not in rigs)
    return out


def _stale(summary: ImportSummary, record_id: str) -> None:
    summary.stale += 1
    summary.stale_ids.append(record_id)


def _join_convoy(rec: Incoming, convoy_ids: set[str], where: str) -> None:
    """A `parent-child` edge to a convoy is how bd sees membership; Gas Town keeps `convoy_id`."""
    bead = rec.record
    assert isinstance(bead, Bead)
    for edge in [d for d in bead.dependencies if d.type == PARENT_CHILD]:
        if edge.depends_on_id in convoy_ids:
            bead.dependencies.remove(edge)
            bead.extra.get(DEP_FIELDS, {}).pop(edge.depends_on_id, None)
            if not rec.ours and bead.convoy_id is None:
                bead.convoy_id = edge.depends_on_id
    if DEP_FIELDS in bead.extra and not bead.extra[DEP_FIELDS]:
        del bead.extra[DEP_FIELDS]
    if bead.convoy_id is not None and bead.convoy_id not in convoy_ids:
        raise ImportFormatError(
            f"{where} ({bead.id}) puts it in convoy {bead.convoy_id}, which is neither in the "
            "file nor in this town."
        )


def _plan_bead(
    rec: Incoming, stored: Bead | None, out: Plan, summary: ImportSummary, now: str
) -> None:
    bead = rec.record
    assert isinstance(bead, Bead)
    if stored is None:
        bead.created_at = bead.created_at or now
        bead.updated_at = bead.updated_at or now
        _settle(bead)
        out.new_beads.append(bead)
        summary.created += 1
        if (child := CHILD_ID.fullmatch(bead.id)) is not None:
            parent, n = child.group(1), int(child.group(2))
            out.children[parent] = max(n, out.children.get(parent, 0))
        return
    if bead.updated_at and bead.updated_at < stored.updated_at:
        _stale(summary, rec.record.id)
        return
    merged = _merge(stored, bead, rec.ours)
    _settle(merged)
    if snapshot(merged) == snapshot(stored):
        summary.unchanged += 1
    else:
        out.changed_beads.append((stored, merged))
        summary.updated += 1


def _settle(bead: Bead) -> None:
    """Fill what the line may leave out, from the bead's own times (so re-imports agree)."""
    if bead.status == CLOSED and not bead.closed_at:
        bead.closed_at = bead.updated_at
    for d in bead.dependencies:
        d.created_at = d.created_at or bead.created_at


def _merge(stored: Bead, new: Bead, ours: bool) -> Bead:
    """The newer line's fields over the town's copy; labels and edges from both."""
    have = {d.depends_on_id for d in stored.dependencies}
    edges = [*stored.dependencies, *(d for d in new.dependencies if d.depends_on_id not in have)]
    edges.sort(key=lambda d: d.depends_on_id)
    per_edge = {**stored.extra.get(DEP_FIELDS, {}), **new.extra.get(DEP_FIELDS, {})}
    extra = {k: v for k, v in new.extra.items() if k != DEP_FIELDS}
    if per_edge:
        extra[DEP_FIELDS] = per_edge
    merged = replace(
        new,
        version=stored.version,
        labels=sorted(set(stored.labels) | set(new.labels)),
        dependencies=edges,
        created_at=new.created_at or stored.created_at,
        updated_at=new.updated_at or stored.updated_at,
        extra=extra,
    )
    if not ours:  # bd does not know Gas Town's fields: keep the town's
        merged.rig, merged.slung, merged.runtime = stored.rig, stored.slung, stored.runtime
        merged.model = stored.model
        merged.convoy_id = new.convoy_id or stored.convoy_id
        # A hold that only stood for a bd status goes when bd moves the issue on.
        held_for_status = stored.extra.get("status") in ("blocked", "deferred", "pinned")
        merged.held = new.held or (stored.held and not held_for_status)
    return merged


def snapshot(bead: Bead) -> dict[str, Any]:
    """Everything an import can change about a bead, in a form that compares."""
    data = bead.to_json()
    data["labels"] = sorted(bead.labels)
    data["dependencies"] = sorted(data["dependencies"], key=lambda d: str(d["depends_on_id"]))
    data["extra"] = bead.extra
    return data


def _plan_convoy(
    convoy: Convoy, stored: Convoy | None, out: Plan, summary: ImportSummary, now: str
) -> None:
    if stored is None:
        convoy.created_at = convoy.created_at or now
        convoy.updated_at = convoy.updated_at or now
        out.new_convoys.append(convoy)
        summary.created += 1
        return
    if convoy.updated_at and convoy.updated_at < stored.updated_at:
        _stale(summary, convoy.id)
        return
    # Where a convoy was made, when and by whom does not change; nor does its rig.
    convoy.rig, convoy.created_at, convoy.created_by = (
        stored.rig,
        stored.created_at,
        stored.created_by,
    )
    convoy.updated_at = convoy.updated_at or stored.updated_at
    convoy.total, convoy.closed = stored.total, stored.closed
    if convoy.to_json() == stored.to_json():
        summary.unchanged += 1
    else:
        out.changed_convoys.append((stored, convoy))
        summary.updated += 1


def _check_targets(tx: Tx, latest: dict[str, Incoming], shown: str) -> None:
    """Refuse an edge to a bead that is neither in the file nor in the town."""
    wanted: dict[str, Incoming] = {}
    for rec in latest.values():
        if isinstance(rec.record, Bead):
            for d in rec.record.dependencies:
                if d.depends_on_id not in latest:
                    wanted.setdefault(d.depends_on_id, rec)
    found = tx.existing_ids(sorted(wanted))
    missing = sorted(set(wanted) - found)
    if missing:
        rec = wanted[missing[0]]
        raise ImportFormatError(
            f"Line {rec.line} of {shown} ({rec.record.id}) depends on {missing[0]}, which is "
            "neither in the file nor in this town.",
            hint="Import the file that holds it too, or drop the dependency.",
        )


def _check_cycles(tx: Tx, out: Plan, shown: str) -> None:
    """Refuse the import if its new `blocks` edges close a cycle, naming it."""
    fresh = [
        (b.id, d.depends_on_id) for b in out.new_beads for d in b.dependencies if d.type == BLOCKS
    ]
    for old, new in out.changed_beads:
        have = {d.depends_on_id for d in old.dependencies}
        fresh += [
            (new.id, d.depends_on_id)
            for d in new.dependencies
            if d.type == BLOCKS and d.depends_on_id not in have
        ]
    if not fresh:
        return
    cycle = dag.find_cycle(sorted({a for a, _ in fresh}), [*tx.edges(BLOCKS), *fresh])
    if cycle is not None:
        raise ImportFormatError(
            f"The blocks dependencies of {shown} form a cycle: {' → '.join(cycle)}.",
            hint="Remove one of those dependencies from the file.",
        )


def _check_children(tx: Tx, out: Plan, shown: str) -> None:
    """Refuse the import if it closes a bead while a child of it (in the file or in the town)
    stays unclosed: a bead closes only when its children have."""
    after = {b.id: b for b in out.new_beads} | {new.id: new for _, new in out.changed_beads}
    closing = sorted(
        [b.id for b in out.new_beads if b.status == CLOSED]
        + [new.id for old, new in out.changed_beads if CLOSED == new.status != old.status]
    )
    if not closing:
        return
    unclosed: dict[str, dict[str, str]] = {parent: {} for parent in closing}
    for bead in after.values():
        for d in bead.dependencies:
            if d.type == PARENT_CHILD and d.depends_on_id in unclosed and bead.status != CLOSED:
                unclosed[d.depends_on_id][bead.id] = bead.status
    for parent, found in tx.open_children(closing).items():
        for child_id, status, _ in found:
            if child_id not in after:  # the file's word on a child wins over the town's
                unclosed[parent][child_id] = status
    for parent in closing:
        if unclosed[parent]:
            child_id, status = min(unclosed[parent].items())
            raise ImportFormatError(
                f"{shown} closes {parent} while its child {child_id} is {status}; a bead "
                "closes only when its children have.",
                hint="Close the child in the file too, or leave its parent open.",
            )


def write(ledger: Ledger, tx: Tx, out: Plan, reason: str) -> None:
    """Write a plan in `tx`: records, labels, edges, child counters, and their events."""
    tx.insert_beads(out.new_beads)
    for c in out.new_convoys:
        tx.insert_convoy(c)
    for _, c in out.changed_convoys:
        tx.update_convoy(c)
    for old, new in out.changed_beads:
        if not tx.update_bead(new):
            raise Conflict(f"Bead {new.id} changed while it was being imported; try again.")
        if sorted(new.labels) != sorted(old.labels):
            tx.set_labels(new.id, new.labels)
        have = {d.depends_on_id for d in old.dependencies}
        tx.insert_deps([d for d in new.dependencies if d.depends_on_id not in have])
    for parent, n in out.children.items():
        tx.raise_child_counter(parent, n)
    events: list[Event] = []
    for c in out.new_convoys:
        after = {"title": c.title, "status": c.status, "staged": c.staged}
        events.append(
            ledger.event("convoy.imported", convoy_id=c.id, rig=c.rig, after=after, reason=reason)
        )
    for old_c, c in out.changed_convoys:
        before, after = _diff(old_c.to_json(), c.to_json())
        events.append(
            ledger.event(
                "convoy.updated",
                convoy_id=c.id,
                rig=c.rig,
                before=before,
                after=after,
                reason=reason,
            )
        )
    for b in out.new_beads:
        after = {"title": b.title, "status": b.status, "priority": b.priority}
        events.append(
            ledger.event(
                "bead.imported",
                **on_bead(b),
                after=after,
                reason=reason,
            )
        )
    for old, new in out.changed_beads:
        before, after = _diff(snapshot(old), snapshot(new))
        events.append(
            ledger.event(
                "bead.updated",
                **on_bead(new),
                before=before,
                after=after,
                reason=reason,
            )
        )
    tx.append_events(events)


def _diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in new if old.get(k) != new[k]]
    return {k: old.get(k) for k in keys}, {k: new[k] for k in keys}
