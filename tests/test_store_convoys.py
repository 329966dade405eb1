"""The store contract for convoys: progress and filters, alike on SQLite and PostgreSQL."""

from __future__ import annotations

from gastown.store import Store
from tests.builders import (
    at,
    bead,
    convoy,
)

# --- convoys ---------------------------------------------------------------------------------


def test_convoys_show_progress_and_filter_by_rig_and_status(store: Store) -> None:
    """Given a staged convoy with three beads (one closed) and an empty landed convoy, then
    each reports its progress, filters by rig and status, and an update reads back."""
    with store.transaction() as tx:
        tx.insert_convoy(convoy("gt-cv-1", staged=True, created_at=at(1)))
        tx.insert_convoy(
            convoy("gt-cv-2", rig="lib", status="landed", landed_at=at(3), created_at=at(2))
        )
        tx.insert_beads(
            [
                bead("gt-a", convoy_id="gt-cv-1"),
                bead("gt-b", convoy_id="gt-cv-1", status="closed", closed_at=at(2)),
                bead("gt-c", convoy_id="gt-cv-1", status="in_progress"),
                bead("gt-d"),
            ]
        )

    with store.reader() as tx:
        one, two = tx.get_convoy("gt-cv-1"), tx.get_convoy("gt-cv-2")
        assert tx.get_convoy("gt-cv-none") is None
        assert [c.id for c in tx.list_convoys()] == ["gt-cv-1", "gt-cv-2"]
        assert [c.id for c in tx.list_convoys(rig="lib")] == ["gt-cv-2"]
        assert [c.id for c in tx.list_convoys(status="open")] == ["gt-cv-1"]
        assert tx.list_convoys(rig="app", status="landed") == []
    assert one == convoy("gt-cv-1", staged=True, created_at=at(1), total=3, closed=1)
    assert one is not None and one.staged is True
    assert two is not None and (two.total, two.closed, two.staged) == (0, 0, False)

    with store.transaction() as tx:
        locked = tx.get_convoy("gt-cv-1", lock=True)
        assert locked is not None
        locked.staged, locked.status, locked.updated_at = False, "failed", at(9)
        locked.title, locked.close_reason = "Renamed", "gave up"
        tx.update_convoy(locked)
    with store.reader() as tx:
        assert tx.get_convoy("gt-cv-1") == locked
