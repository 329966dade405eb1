"""Beads: create, read, change and move along the lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from gastown.clock import stamp
from gastown.errors import Conflict, IllegalTransition, InvalidValue
from gastown.limits import MAX_BODY, MAX_TITLE
from gastown.model import (
    BLOCKS,
    CLOSED,
    DEFAULT_PRIORITY,
    FAILED,
    IN_PROGRESS,
    IN_REVIEW,
    OPEN,
    PARENT_CHILD,
    TRANSITIONS,
    Bead,
    Dependency,
)
from gastown.record import Record, field
from gastown.services.bead_fields import (
    MAX_LABEL,
    MAX_MODEL,
    MAX_REASON,
    _reason,
    bead_type,
    body,
    check_filter,
    labels,
    line,
    model,
    priority,
    runtime,
    status,
    title,
)
from gastown.services.convoy_status import convoy_status, refresh_convoy
from gastown.services.ledger import Ledger, append, changes, get_bead, on_bead
from gastown.services.listing import require_rig
from gastown.store import BeadFilter, Tx

__all__ = [
    "MAX_BODY",
    "MAX_LABEL",
    "MAX_MODEL",
    "MAX_REASON",
    "MAX_TITLE",
    "bead_type",
    "body",
    "check_filter",
    "convoy_status",
    "labels",
    "line",
    "model",
    "priority",
    "refresh_convoy",
    "runtime",
    "status",
    "title",
]
"""Beads' field checks (`services.bead_fields`) and convoy status (`services.convoy_status`)
are read through this module as well."""

MAX_CHILD_DEPTH = 3


class NewBead(Record):
    """What a caller supplies to create a bead; everything else is decided here."""

    title: str
    """One line saying what is to be done."""
    body: str = ""
    """The full description an agent works from."""
    type: str = "task"
    """One of `BEAD_TYPES`."""
    priority: int = DEFAULT_PRIORITY
    """0 (highest) to 4."""
    labels: list[str] = field(default_factory=list)
    """Free-form tags."""
    rig: str | None = None
    """The rig the work is for (a child takes its parent's when None)."""
    assignee: str | None = None
    """Who holds it from the start, if anyone."""
    held: bool = False
    """Made held: never dispatched until released."""
    slung: bool = False
    """Made slung: marked for dispatch to a polecat."""
    runtime: str | None = None
    """The agent runtime to run it on (None: the rig's setting)."""
    model: str | None = None
    """The model to run it on (None: the settings')."""
    parent: str | None = None
    """Create as a child of this bead: its id becomes PARENT.N."""


def build(
    ledger: Ledger, tx: Tx, specs: Sequence[NewBead], convoy_id: str | None = None
) -> list[Bead]:
    """Validated, id-bearing beads for `specs` (not yet written)."""
    # Beads made together get distinct, increasing times, so "oldest first" keeps their order.
    start = ledger.clock.now()
    now = stamp(start)
    checked = []
    for i, spec in enumerate(specs):
        made_at = stamp(start + timedelta(microseconds=i))
        checked.append(
            Bead(
                id="",
                title=title(spec.title),
                body=body(spec.body),
                type=bead_type(spec.type),
                priority=priority(spec.priority),
                labels=labels(spec.labels),
                rig=spec.rig,
                assignee=line(spec.assignee, "An assignee") or None,
                held=spec.held,
                slung=spec.slung,
                runtime=runtime(spec.runtime),
                model=model(spec.model),
                convoy_id=convoy_id,
                created_at=made_at,
                updated_at=made_at,
                created_by=ledger.actor,
            )
        )
    for rig in {b.rig for b in checked}:
        require_rig(tx, rig)
    plain = [i for i, s in enumerate(specs) if s.parent is None]
    fresh = ledger.new_ids(tx, [f"{checked[i].title}|{checked[i].body}|{now}" for i in plain])
    for i, new_id in zip(plain, fresh, strict=True):
        checked[i].id = new_id
    for spec, bead in zip(specs, checked, strict=True):
        if spec.parent is not None:
            parent = get_bead(tx, ledger.prefix, spec.parent)
            if parent.id.count(".") >= MAX_CHILD_DEPTH:
                raise InvalidValue(f"Beads nest at most {MAX_CHILD_DEPTH} levels deep.")
            bead.id = f"{parent.id}.{tx.next_child(parent.id)}"
            bead.rig = bead.rig or parent.rig
            bead.dependencies.append(
                Dependency(bead.id, parent.id, PARENT_CHILD, now, ledger.actor)
            )
    return checked


def insert(ledger: Ledger, tx: Tx, beads: Sequence[Bead], reason: str | None = None) -> None:
    """Write new beads with their edges and one `bead.created` event each."""
    tx.insert_beads(beads)
    append(
        tx,
        (
            ledger.event(
                "bead.created",
                at=b.created_at,
                **on_bead(b),
                after={"title": b.title, "status": b.status, "priority": b.priority},
                reason=reason,
            )
            for b in beads
        ),
    )


def create(ledger: Ledger, spec: NewBead, reason: str | None = None) -> Bead:
    """Make one bead from `spec` and record its creation (with `reason`, if given)."""
    with ledger.store.transaction() as tx:
        (bead,) = build(ledger, tx, [spec])
        insert(ledger, tx, [bead], reason)
    return bead


def show(ledger: Ledger, bead_id: str) -> tuple[Bead, list[Dependency]]:
    """A bead and the edges that point at it (its dependents)."""
    with ledger.store.reader() as tx:
        bead = get_bead(tx, ledger.prefix, bead_id)
        return bead, tx.dependents_of(bead.id)


def list_beads(ledger: Ledger, flt: BeadFilter) -> list[Bead]:
    """The beads the filter picks, once the filter and its rig are checked."""
    check_filter(flt)
    with ledger.store.reader() as tx:
        if flt.rig is not None:
            require_rig(tx, flt.rig)
        return tx.list_beads(flt)


def list_json(ledger: Ledger, flt: BeadFilter) -> str:
    """`list_beads` as JSON text, built by the database (the fast path for `--json`)."""
    check_filter(flt)
    with ledger.store.reader() as tx:
        if flt.rig is not None:
            require_rig(tx, flt.rig)
        return tx.beads_json(flt)


def write(
    ledger: Ledger,
    tx: Tx,
    bead: Bead,
    fields: dict[str, Any],
    kind: str = "bead.updated",
    reason: str | None = None,
    quiet_convoy: str | None = None,
) -> bool:
    """Apply `fields` to a locked bead, record the change, and keep its convoy's status true
    (unless it is `quiet_convoy`, whose status the caller settles itself). Returns False when
    nothing changed.

    A bead closes only when its children have: closing one with an unclosed child is refused
    here, on every path. A bead that closes may close its parent, when that parent's own work
    had landed and it waited only for its children (`close_or_wait`)."""
    now = ledger.now()
    new_status = fields.get("status", bead.status)
    if new_status != bead.status:
        if new_status not in TRANSITIONS[bead.status]:
            raise IllegalTransition(
                f"Bead {bead.id} is {bead.status}; it cannot go to {new_status}.",
                hint="Allowed from "
                + bead.status
                + ": "
                + ", ".join(sorted(TRANSITIONS[bead.status])),
            )
        if new_status == IN_PROGRESS and bead.started_at is None:
            fields["started_at"] = now
        if new_status == CLOSED:
            if children := open_children(tx, bead.id):
                raise Conflict(
                    f"Bead {bead.id} has open children: {', '.join(children)}.",
                    hint="A bead closes only when its children have: close them first "
                    f"(`gt bead close {bead.id} --force` closes them with it).",
                )
            fields["closed_at"] = now
            fields.setdefault("close_reason", reason)
        else:  # reopened, or a bead that was to close with its children goes another way
            fields["closed_at"] = None
            fields.setdefault("close_reason", None)
    old, new = changes(bead, fields)
    if not new:
        return False
    for key, value in new.items():
        setattr(bead, key, value)
    bead.updated_at = now
    if not tx.update_bead(bead):
        raise Conflict(f"Bead {bead.id} changed while it was being updated; try again.")
    if "labels" in new:
        tx.set_labels(bead.id, bead.labels)
    if "status" in new and kind == "bead.updated":
        kind = {
            CLOSED: "bead.closed",
            OPEN: "bead.reopened" if old["status"] in (CLOSED, FAILED) else "bead.status_changed",
        }.get(new["status"], "bead.status_changed")
    append(
        tx,
        [
            ledger.event(
                kind,
                at=now,
                **on_bead(bead),
                before=old,
                after=new,
                reason=reason,
            )
        ],
    )
    if "status" in new and bead.convoy_id and bead.convoy_id != quiet_convoy:
        refresh_convoy(ledger, tx, bead.convoy_id)
    if new.get("status") == CLOSED:
        for edge in bead.dependencies:
            if edge.type == PARENT_CHILD:
                close_if_children_closed(ledger, tx, edge.depends_on_id, quiet_convoy)
    return True


def open_children(tx: Tx, bead_id: str) -> list[str]:
    """The ids of a bead's children (through `parent-child` edges) that are not closed."""
    return [child[0] for child in tx.open_children([bead_id]).get(bead_id, [])]


def close_or_wait(ledger: Ledger, tx: Tx, bead: Bead, reason: str) -> bool:
    """A locked bead whose own work is done (it landed): closed with `reason`; or, while it
    has unclosed children (one added after it was dispatched), kept `in_review` with `reason`
    as its close reason, to close when the last of them does. True when it closed."""
    children = open_children(tx, bead.id)
    if not children:
        write(ledger, tx, bead, {"status": CLOSED}, reason=reason)
        return True
    if bead.status == OPEN:  # reopened while its work was landing: in_review is two steps away
        write(ledger, tx, bead, {"status": IN_PROGRESS}, reason=reason)
    write(
        ledger,
        tx,
        bead,
        {"status": IN_REVIEW, "close_reason": reason},
        kind="bead.awaiting_children",
        reason=f"{reason}; it closes when its children have: {', '.join(children)}",
    )
    return False


def close_if_children_closed(
    ledger: Ledger, tx: Tx, parent_id: str, quiet_convoy: str | None = None
) -> None:
    """A child of `parent_id` closed (or left it): the parent closes too if it waited for
    nothing else (in review with a close reason, as `close_or_wait` leaves it) and no child
    is left open. Read before it is locked: most parents are not waiting so."""
    parent = tx.get_bead(parent_id)
    if parent is None or parent.status != IN_REVIEW or parent.close_reason is None:
        return
    parent = tx.get_bead(parent_id, lock=True)
    if parent is None or parent.status != IN_REVIEW or parent.close_reason is None:
        return
    if not open_children(tx, parent.id):
        write(
            ledger,
            tx,
            parent,
            {"status": CLOSED, "close_reason": parent.close_reason},
            reason=f"its children have closed; {parent.close_reason}",
            quiet_convoy=quiet_convoy,
        )


def close_all(
    ledger: Ledger,
    tx: Tx,
    bead_ids: Sequence[str],
    reason: str | None,
    quiet_convoy: str | None = None,
) -> None:
    """Close the beads `bead_ids` names and, first, every unclosed bead under them, children
    before their parents (a failed one reopened first, as the lifecycle asks): what `--force`
    does to a parent. They are locked in id order before any is written, so two such closes
    over trees that overlap cannot deadlock. Beads of `quiet_convoy` leave their convoy's
    status to the caller."""
    order: list[tuple[str, str | None]] = []  # (bead, the parent it is closed with), post-order
    seen: set[str] = set()
    for root in bead_ids:
        stack: list[tuple[str, str | None, bool]] = [(root, None, False)]
        while stack:
            bead_id, via, expanded = stack.pop()
            if expanded:
                order.append((bead_id, via))
            elif bead_id not in seen:
                seen.add(bead_id)
                stack.append((bead_id, via, True))
                stack.extend((child, bead_id, False) for child in open_children(tx, bead_id))
    for bead_id in sorted(seen):
        tx.get_bead(bead_id, lock=True)
    for bead_id, via in order:
        bead = tx.get_bead(bead_id)  # read again: closing a child may have closed its parent
        if bead is None or bead.status == CLOSED:
            continue
        why = reason if via is None else f"closed with {via}" + (f": {reason}" if reason else "")
        if bead.status == FAILED:
            write(ledger, tx, bead, {"status": OPEN}, reason=why, quiet_convoy=quiet_convoy)
        fields = {"status": CLOSED, "close_reason": why}
        write(ledger, tx, bead, fields, reason=why, quiet_convoy=quiet_convoy)


def update(
    ledger: Ledger,
    bead_id: str,
    fields: dict[str, Any],
    reason: str | None = None,
    expected_version: int | None = None,
) -> Bead:
    """Change fields of one bead; validated first, written in one transaction.

    A caller that computed `fields` from an earlier read passes that read's version as
    `expected_version`: if anyone wrote the bead since, the change is refused (Conflict)
    instead of silently undoing theirs."""
    reason = _reason(reason)
    with ledger.store.transaction() as tx:
        bead = get_bead(tx, ledger.prefix, bead_id, lock=True)
        if expected_version is not None and bead.version != expected_version:
            raise Conflict(
                f"Bead {bead.id} changed since version {expected_version} was read "
                f"(it is at version {bead.version}).",
                hint="Read it again and redo the change.",
            )
        fields = dict(fields)
        if "rig" in fields:
            require_rig(tx, fields["rig"])
        if "title" in fields:
            fields["title"] = title(fields["title"])
        if "body" in fields:
            fields["body"] = body(fields["body"])
        if "assignee" in fields:
            fields["assignee"] = line(fields["assignee"], "An assignee")
        if "priority" in fields:
            fields["priority"] = priority(fields["priority"])
        if "type" in fields:
            fields["type"] = bead_type(fields["type"])
        if "status" in fields:
            fields["status"] = status(fields["status"])
        add, drop = fields.pop("add_labels", []), fields.pop("remove_labels", [])
        if add or drop:
            fields["labels"] = sorted((set(bead.labels) | set(labels(add))) - set(labels(drop)))
        write(ledger, tx, bead, fields, reason=reason)
        return bead


def open_blockers(tx: Tx, bead: Bead) -> list[str]:
    """The ids of the bead's `blocks` blockers that are not closed, sorted."""
    targets = [d.depends_on_id for d in bead.dependencies if d.type == BLOCKS]
    return sorted(i for i, s in tx.statuses(targets).items() if s != CLOSED)


def close(ledger: Ledger, bead_id: str, reason: str | None = None, force: bool = False) -> Bead:
    """Close a bead whose blockers and children are closed; `force` closes it anyway, with
    every unclosed bead under it (so a parent still closes only after its children)."""
    reason = _reason(reason)
    with ledger.store.transaction() as tx:
        # With `force`, the bead is locked with those under it, in id order (`close_all`).
        bead = get_bead(tx, ledger.prefix, bead_id, lock=not force)
        if bead.status == CLOSED:
            raise IllegalTransition(f"Bead {bead.id} is already closed.")
        if force:
            close_all(ledger, tx, [bead.id], reason)
            closed = tx.get_bead(bead.id)
            assert closed is not None
            return closed
        blockers = open_blockers(tx, bead)
        if blockers:
            raise Conflict(
                f"Bead {bead.id} is still blocked by {', '.join(blockers)}.",
                hint="Close those first, or pass --force.",
            )
        write(ledger, tx, bead, {"status": CLOSED, "close_reason": reason}, reason=reason)
        return bead


def reopen(ledger: Ledger, bead_id: str, reason: str | None = None) -> Bead:
    """Open a closed or failed bead again."""
    reason = _reason(reason)
    with ledger.store.transaction() as tx:
        bead = get_bead(tx, ledger.prefix, bead_id, lock=True)
        if bead.status not in (CLOSED, FAILED):
            raise IllegalTransition(
                f"Bead {bead.id} is {bead.status}; only closed or failed beads can be reopened."
            )
        write(ledger, tx, bead, {"status": OPEN, "assignee": None}, reason=reason)
        return bead


def claim(ledger: Ledger, bead_id: str, assignee: str) -> Bead:
    """Take an open, unheld bead for `assignee`: exactly one claimant ever wins."""
    with ledger.store.transaction() as tx:
        bead = get_bead(tx, ledger.prefix, bead_id, lock=True)
        now = ledger.now()
        if not tx.claim(bead.id, assignee, now):
            holder = f" by {bead.assignee}" if bead.assignee else ""
            raise Conflict(
                f"Bead {bead.id} is {bead.status}{' (held)' if bead.held else ''}"
                f"{holder}; it cannot be claimed."
            )
        append(
            tx,
            [
                ledger.event(
                    "bead.claimed",
                    at=now,
                    **on_bead(bead),
                    before={"status": bead.status, "assignee": bead.assignee},
                    after={"status": IN_PROGRESS, "assignee": assignee},
                )
            ],
        )
        claimed = tx.get_bead(bead.id)
        assert claimed is not None
        return claimed
