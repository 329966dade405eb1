"""What every service needs: the store, the clock, randomness, who is acting, the id prefix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from gastown.clock import Clock, SystemClock, stamp
from gastown.errors import InvalidValue, NotFound
from gastown.model import Bead, Event, MergeRequest
from gastown.record import Record, field
from gastown.store import Store, Turn, Tx

if TYPE_CHECKING:
    import random


class EventFields(TypedDict, total=False):
    """What an event may say besides its kind and time (`Ledger.event`, `record_event`)."""

    bead_id: str | None
    """The bead it changed."""
    convoy_id: str | None
    """The convoy it changed."""
    rig: str | None
    """The rig it happened in."""
    before: dict[str, Any] | None
    """The fields it changed, as they were."""
    after: dict[str, Any] | None
    """The fields it changed, as they became."""
    reason: str | None
    """Why, in words."""


class Ledger(Record):
    """A handle on one town's records for one actor."""

    store: Store
    """The town's store."""
    prefix: str = "gt"
    """The town's id prefix: new ids start with it."""
    actor: str = "user"
    """Who the events it writes name as having done it."""
    clock: Clock = field(default_factory=SystemClock)
    """Where times come from (a `FakeClock` in tests)."""
    rng: random.Random | None = None
    """Salt for new ids; a fresh generator when None (tests pass a seeded one)."""

    def now(self) -> str:
        """The clock's time as an event stamp."""
        return stamp(self.clock.now())

    def event(self, kind: str, *, at: str | None = None, **fields: Unpack[EventFields]) -> Event:
        """An event of this actor, not yet written (`record_event` writes one), stamped `at`
        or now."""
        return Event(id=0, at=at or self.now(), actor=self.actor, kind=kind, **fields)

    def record_event(
        self, tx: Tx, kind: str, *, at: str | None = None, **fields: Unpack[EventFields]
    ) -> None:
        """Append one event of this actor inside `tx` (what `event` builds, written)."""
        tx.append_events([self.event(kind, at=at, **fields)])

    def new_ids(self, tx: Tx, seeds: Sequence[str], prefix: str | None = None) -> list[str]:
        """Fresh ids for records seeded by these strings, unique in the town and the batch."""
        if not seeds:
            return []
        tx.take_turn(Turn.NEW_IDS)  # until commit, nobody else can pick an id we see as free
        import random

        from gastown import ids

        pfx = prefix or self.prefix
        count = tx.count_beads() + len(seeds)
        salt = (self.rng or random.Random()).getrandbits(64)
        streams = [ids.candidates(pfx, f"{seed}|{salt}|{i}", count) for i, seed in enumerate(seeds)]
        chosen = [next(s) for s in streams]
        while True:
            taken = tx.existing_ids(chosen)
            seen: set[str] = set()
            clash = False
            for i, value in enumerate(chosen):
                if value in taken or value in seen:
                    chosen[i] = next(streams[i])
                    clash = True
                seen.add(chosen[i])
            if not clash:
                return chosen


class Place(TypedDict):
    """Where an event happened (`on_bead`, `on_merge_request`); spread into `Ledger.event`."""

    bead_id: str | None
    """The bead."""
    convoy_id: str | None
    """Its convoy."""
    rig: str | None
    """Its rig."""


def on_bead(bead: Bead) -> Place:
    """What an event about `bead` names: the bead, its convoy and its rig."""
    return {"bead_id": bead.id, "convoy_id": bead.convoy_id, "rig": bead.rig}


def on_merge_request(mr: MergeRequest) -> Place:
    """What an event about merge request `mr` names: its bead, its convoy and its rig."""
    return {"bead_id": mr.bead_id, "convoy_id": mr.convoy_id, "rig": mr.rig}


def resolve_bead_id(tx: Tx, prefix: str, text: str) -> str:
    """Accept a full id, an id without its prefix, or a unique start of one."""
    text = text.strip()
    if not text:
        raise InvalidValue("A bead id cannot be empty.")
    guesses = [text] if "-" in text else [f"{prefix}-{text}", text]
    for guess in guesses:
        if tx.existing_ids([guess]):
            return guess
    for guess in guesses:
        matches = tx.ids_starting(guess)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidValue(
                f"'{text}' matches several beads ({', '.join(matches[:3])}, ...).",
                hint="Type more of the id.",
            )
    raise NotFound(f"There is no bead '{text}'.", hint="`gt bead list` shows the town's beads.")


def get_bead(tx: Tx, prefix: str, text: str, *, lock: bool = False) -> Bead:
    """The bead `text` names. With `lock`, its convoy is locked before it: every writer locks
    a convoy before that convoy's beads, so closing a bead (which then updates its convoy) and
    closing its convoy (which then closes its beads) cannot deadlock."""
    bead_id = resolve_bead_id(tx, prefix, text)
    if lock and (peek := tx.get_bead(bead_id)) is not None and peek.convoy_id is not None:
        tx.get_convoy(peek.convoy_id, lock=True)
    bead = tx.get_bead(bead_id, lock=lock)
    if bead is None:  # deleted between resolving and reading: cannot happen, nothing deletes
        raise NotFound(f"There is no bead '{text}'.")
    return bead


def changes(before: Bead, after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields `after` changes, as (old values, new values)."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key, value in after.items():
        current = getattr(before, key)
        if current != value:
            old[key] = current
            new[key] = value
    return old, new


def append(tx: Tx, events: Iterable[Event]) -> None:
    """Add `events` to the history in `tx`."""
    tx.append_events(list(events))
