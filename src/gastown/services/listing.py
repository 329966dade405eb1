"""Listing beads: the read path of `gt bead list` and `gt ready`, which people and agents run
all day. It imports only the store, so those commands start without the rest of `services`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gastown.errors import NotFound
from gastown.store.projection import BeadLine, bead_lines, write_beads_json

if TYPE_CHECKING:
    from gastown.store import BeadFilter, Store, Tx


def require_rig(tx: Tx, rig: str | None) -> None:
    """Refuse a rig the town does not have (None asks for none)."""
    if rig is not None and tx.get_rig(rig) is None:
        raise NotFound(f"There is no rig '{rig}'.", hint="`gt rig list` shows the town's rigs.")


def write_json(
    store: Store,
    flt: BeadFilter,
    write: Callable[[bytes], object],
    extra: tuple[Mapping[str, bytes], bytes] | None = None,
) -> None:
    """Write the beads `flt` picks, in listing order, as a JSON array of `Bead.to_json()` in
    UTF-8 through `write`, in batches as the database reads them (a whole town is
    megabytes); `extra` adds members to each (see `write_beads_json`)."""
    with store.reader() as tx:
        require_rig(tx, flt.rig)
        write_beads_json(tx, flt, write, extra=extra)


def lines(store: Store, flt: BeadFilter) -> list[BeadLine]:
    """The table lines of the beads `flt` picks, in listing order."""
    with store.reader() as tx:
        require_rig(tx, flt.rig)
        return bead_lines(tx, flt)
