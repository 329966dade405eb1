"""Convoys: groups of beads that may depend on each other and land together."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gastown import dag
from gastown.errors import Conflict, InvalidValue, NotFound
from gastown.model import (
    BLOCKS,
    CLOSED,
    CONVOY_CANCELLED,
    CONVOY_LANDED,
    CONVOY_OPEN,
    CONVOY_STATUSES,
    MERGE_MODES,
    Bead,
    Convoy,
    Dependency,
)
from gastown.record import Record
from gastown.services import beads
from gastown.services.ledger import Ledger, append, get_bead, resolve_bead_id
from gastown.services.listing import require_rig
from gastown.services.plan import Plan
from gastown.store import BeadFilter, Tx

if TYPE_CHECKING:
    from gastown.town import Town


def resolve_convoy(tx: Tx, prefix: str, text: str, *, lock: bool = False) -> Convoy:
    """The convoy `text` names: its id, its id without the prefix, or a unique start
    of one; else the input error saying there is none."""
    text = text.strip()
    for guess in (text, f"{prefix}-cv-{text}", f"{prefix}-{text}"):
        found = tx.get_convoy(guess, lock=lock)
        if found is not None:
            return found
    matches = [
        c
        for c in tx.list_convoys()
        if c.id.startswith(text) or c.id.startswith(f"{prefix}-cv-{text}")
    ]
    if len(matches) == 1:
        return tx.get_convoy(matches[0].id, lock=lock) or matches[0]
    raise NotFound(f"There is no convoy '{text}'.", hint="`gt convoy list` shows the convoys.")


def feature_branch(convoy: Convoy) -> str:
    """`convoy/<slug of its title>/<convoy id>`: where a review-then-land convoy gathers."""
    slug = re.sub(r"[^a-z0-9]+", "-", convoy.title.lower()).strip("-")[:40].strip("-")
    return f"convoy/{slug or 'work'}/{convoy.id}"


def merge_mode(value: str) -> str:
    """`value` if it is one of `MERGE_MODES`; else the input error naming them."""
    if value not in MERGE_MODES:
        raise InvalidValue(f"Merge mode must be one of {', '.join(MERGE_MODES)}, not '{value}'.")
    return value


class ConvoyView(Record):
    convoy: Convoy
    """The convoy, with its progress."""
    beads: list[Bead]
    """Its beads."""
    waves: list[list[str]]
    """Bead ids in dependency order: wave 0 needs nothing inside the convoy."""

    def to_json(self) -> dict[str, object]:
        """The convoy as `gt convoy show --json` prints it: its record, its beads, its waves."""
        return {
            **self.convoy.to_json(),
            "beads": [b.to_json() for b in self.beads],
            "waves": self.waves,
        }


def choose_defaults(
    ledger: Ledger,
    town: Town,
    rig: str,
    environ: Mapping[str, str],
    staged: bool | None,
    mode: str | None,
) -> tuple[bool, str]:
    """Whether a new convoy is staged and how it lands, when the caller did not say: the
    `staged_convoys_default` and `convoy_merge_mode` settings of its rig."""
    from gastown.sections import sections
    from gastown.services import settings

    if staged is not None and mode:
        return staged, mode
    told = sections(settings.effective(ledger, town, rig, environ)).convoys
    if staged is None:
        staged = told.staged_by_default
    return staged, mode or told.merge_mode


def create(
    ledger: Ledger,
    title: str,
    rig: str,
    plan: Plan,
    staged: bool,
    mode: str,
) -> ConvoyView:
    """One convoy and a bead per plan task, with `blocks` edges from `needs`, in one
    transaction. The plan is already validated; nothing is written if the rig is unknown."""
    title = beads.title(title)
    mode = merge_mode(mode)
    with ledger.store.transaction() as tx:
        require_rig(tx, rig)
        now = ledger.now()
        (convoy_id,) = ledger.new_ids(tx, [f"convoy|{title}|{now}"], prefix=f"{ledger.prefix}-cv")
        convoy = Convoy(
            id=convoy_id,
            title=title,
            rig=rig,
            staged=staged,
            merge_mode=mode,
            created_at=now,
            updated_at=now,
            created_by=ledger.actor,
            total=len(plan.tasks),
        )
        tx.insert_convoy(convoy)
        specs = [
            beads.NewBead(
                title=t.title,
                body=t.body,
                type=t.type,
                priority=t.priority,
                labels=t.labels,
                rig=rig,
                slung=True,
            )
            for t in plan.tasks
        ]
        made = beads.build(ledger, tx, specs, convoy_id=convoy.id)
        by_key = {t.key: b for t, b in zip(plan.tasks, made, strict=True)}
        for task, bead in zip(plan.tasks, made, strict=True):
            bead.dependencies.extend(
                Dependency(bead.id, by_key[n].id, BLOCKS, now, ledger.actor) for n in task.needs
            )
            bead.dependencies.sort(key=lambda d: d.depends_on_id)
        append(
            tx,
            [
                ledger.event(
                    "convoy.created",
                    at=now,
                    convoy_id=convoy.id,
                    rig=rig,
                    after={
                        "title": title,
                        "beads": len(made),
                        "staged": staged,
                        "merge_mode": mode,
                    },
                )
            ],
        )
        beads.insert(ledger, tx, made, reason=f"convoy {convoy.id}")
        order = dag.waves(
            [b.id for b in made],
            [(d.bead_id, d.depends_on_id) for b in made for d in b.dependencies],
        )
        return ConvoyView(convoy, made, order)


def show(ledger: Ledger, convoy_id: str) -> ConvoyView:
    """A convoy with its beads and the waves they can run in."""
    with ledger.store.reader() as tx:
        convoy = resolve_convoy(tx, ledger.prefix, convoy_id)
        members = tx.list_beads(BeadFilter(convoy_id=convoy.id))
    edges = [
        (d.bead_id, d.depends_on_id) for b in members for d in b.dependencies if d.type == BLOCKS
    ]
    return ConvoyView(convoy, members, dag.waves([b.id for b in members], edges))


def list_convoys(ledger: Ledger, rig: str | None = None, status: str | None = None) -> list[Convoy]:
    """Convoys oldest first, of one rig and with one status if given (both checked)."""
    if status is not None and status not in CONVOY_STATUSES:
        raise InvalidValue(f"Convoy status must be one of {', '.join(CONVOY_STATUSES)}.")
    with ledger.store.reader() as tx:
        require_rig(tx, rig)
        return tx.list_convoys(rig, status)


def _record(
    ledger: Ledger,
    tx: Tx,
    convoy: Convoy,
    kind: str,
    before: dict[str, object],
    after: dict[str, object],
    reason: str | None = None,
) -> None:
    convoy.updated_at = ledger.now()
    tx.update_convoy(convoy)
    append(
        tx,
        [
            ledger.event(
                kind,
                at=convoy.updated_at,
                convoy_id=convoy.id,
                rig=convoy.rig,
                before=before,
                after=after,
                reason=reason,
            )
        ],
    )


def start(ledger: Ledger, convoy_id: str) -> Convoy:
    """Release a staged convoy's beads for dispatch."""
    with ledger.store.transaction() as tx:
        convoy = resolve_convoy(tx, ledger.prefix, convoy_id, lock=True)
        if not convoy.staged:
            raise Conflict(f"Convoy {convoy.id} is not staged; its beads are already released.")
        if convoy.status != CONVOY_OPEN:
            raise Conflict(f"Convoy {convoy.id} is {convoy.status}; only an open convoy starts.")
        convoy.staged = False
        _record(ledger, tx, convoy, "convoy.started", {"staged": True}, {"staged": False})
        return convoy


def close(ledger: Ledger, convoy_id: str, reason: str | None = None, force: bool = False) -> Convoy:
    """Close a convoy. One whose work is all in lands, as it would by itself (`convoy.landed`).
    With `force`, its unfinished beads (and any bead under them) are closed first and the
    convoy is `cancelled` (`convoy.cancelled`): its work did not land. A convoy with nothing
    left to do whose work has not landed yet (review-then-land, its branch not on the target),
    or one without beads, is cancelled too."""
    with ledger.store.transaction() as tx:
        convoy = resolve_convoy(tx, ledger.prefix, convoy_id, lock=True)
        if convoy.status == CONVOY_LANDED:
            raise Conflict(f"Convoy {convoy.id} has already landed.")
        if convoy.status == CONVOY_CANCELLED:
            raise Conflict(f"Convoy {convoy.id} was cancelled already.")
        members = tx.list_beads(BeadFilter(convoy_id=convoy.id))
        unfinished = [b for b in members if b.status != CLOSED]
        if unfinished and not force:
            raise Conflict(
                f"Convoy {convoy.id} has {len(unfinished)} of {len(members)} beads not closed.",
                hint="Close them first, or pass --force to close them and cancel the convoy.",
            )
        why = reason or "convoy cancelled"
        # Any bead under one of them closes first: a parent closes only after its children.
        # The convoy's own status is settled below, once, not bead by bead.
        beads.close_all(ledger, tx, [b.id for b in unfinished], why, quiet_convoy=convoy.id)
        fresh = tx.get_convoy(convoy.id, lock=True)
        assert fresh is not None
        before, now = fresh.status, ledger.now()
        after: dict[str, object]
        if not unfinished and beads.convoy_status(tx, fresh) == CONVOY_LANDED:
            fresh.status, fresh.landed_at, kind = CONVOY_LANDED, now, "convoy.landed"
            why = reason or "convoy closed"
            after = {"status": CONVOY_LANDED}
        else:
            fresh.status, fresh.cancelled_at, kind = CONVOY_CANCELLED, now, "convoy.cancelled"
            after = {"status": CONVOY_CANCELLED, "closed_with_it": [b.id for b in unfinished]}
        fresh.close_reason = reason
        _record(ledger, tx, fresh, kind, {"status": before}, after, reason=why)
        return fresh


def add(ledger: Ledger, convoy_id: str, bead_ids: Sequence[str]) -> Convoy:
    """Put beads into an open convoy; they take its rig. A bead already in a convoy is refused."""
    with ledger.store.transaction() as tx:
        convoy = resolve_convoy(tx, ledger.prefix, convoy_id, lock=True)
        if convoy.status in (CONVOY_LANDED, CONVOY_CANCELLED):
            raise Conflict(f"Convoy {convoy.id} is {convoy.status}; it takes no more beads.")
        # Lock in id order, so two commands over the same beads cannot deadlock.
        wanted = sorted({resolve_bead_id(tx, ledger.prefix, b) for b in bead_ids})
        chosen = [get_bead(tx, ledger.prefix, b, lock=True) for b in wanted]
        for bead in chosen:
            if bead.convoy_id == convoy.id:
                raise Conflict(f"Bead {bead.id} is already in convoy {convoy.id}.")
            if bead.convoy_id is not None:
                raise Conflict(
                    f"Bead {bead.id} belongs to convoy {bead.convoy_id}.",
                    hint=f"Remove it there first: gt convoy remove {bead.convoy_id} {bead.id}",
                )
            if bead.rig not in (None, convoy.rig):
                raise Conflict(
                    f"Bead {bead.id} is for rig '{bead.rig}', convoy {convoy.id} for "
                    f"'{convoy.rig}'."
                )
        for bead in chosen:
            beads.write(
                ledger,
                tx,
                bead,
                {"convoy_id": convoy.id, "rig": convoy.rig},
                kind="convoy.bead_added",
                reason=f"added to {convoy.id}",
            )
        beads.refresh_convoy(ledger, tx, convoy.id)
        found = tx.get_convoy(convoy.id)
        assert found is not None
        return found


def remove(ledger: Ledger, convoy_id: str, bead_ids: Sequence[str]) -> Convoy:
    """Take beads out of their convoy (they keep its rig)."""
    with ledger.store.transaction() as tx:
        convoy = resolve_convoy(tx, ledger.prefix, convoy_id, lock=True)
        # Lock in id order, so two commands over the same beads cannot deadlock.
        wanted = sorted({resolve_bead_id(tx, ledger.prefix, b) for b in bead_ids})
        chosen = [get_bead(tx, ledger.prefix, b, lock=True) for b in wanted]
        for bead in chosen:
            if bead.convoy_id != convoy.id:
                raise NotFound(f"Bead {bead.id} is not in convoy {convoy.id}.")
        for bead in chosen:
            beads.write(
                ledger,
                tx,
                bead,
                {"convoy_id": None},
                kind="convoy.bead_removed",
                reason=f"removed from {convoy.id}",
            )
        beads.refresh_convoy(ledger, tx, convoy.id)
        found = tx.get_convoy(convoy.id)
        assert found is not None
        return found
