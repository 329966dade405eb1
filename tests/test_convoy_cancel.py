"""A convoy closed by force before its work landed is `cancelled`, not `landed`.

`gt convoy close --force` (and the dashboard's and the API's close, and the mayor's
`convoy_close`) closes the unfinished beads and cancels the convoy: status `cancelled`,
`cancelled_at`, a `convoy.cancelled` event with the reason. A convoy whose beads all closed
lands as before. Towns written before keep their history readable: the convoys they
force-closed are told apart by their beads and become `cancelled`.
"""

from __future__ import annotations

from gastown.model import Convoy
from gastown.store import open_store
from tests.builders import at, bead, undo_migrations_after
from tests.builders.web import Browser, browser, client
from tests.conftest import Gt

__all__ = ["browser", "client"]  # the dashboard's fixtures, which pytest finds here by name


def test_a_forced_close_cancels_the_convoy_and_says_so_everywhere(rig_gt: Gt) -> None:
    """Given a convoy of two beads, one closed, when it is closed by force, then it is
    cancelled: the command says so, `show` and `list` say so, its last event is
    `convoy.cancelled` with the reason and the beads closed with it, and nothing says it
    landed; it cannot be closed again or take beads; reopening one of its beads reopens it."""
    made = rig_gt.json("convoy", "create", "Cleanups", "--task", "Dead code", "--task", "Typos")
    first, second = (b["id"] for b in made["beads"])
    rig_gt.ok("bead", "close", first, "--reason", "done by hand")

    said = rig_gt.ok("convoy", "close", made["id"], "--force", "--reason", "not worth it").out
    assert said == f"Convoy {made['id']} cancelled before its work landed (2/2 closed)\n"

    shown = rig_gt.json("convoy", "show", made["id"])
    assert (shown["status"], shown["landed_at"], shown["close_reason"]) == (
        "cancelled",
        None,
        "not worth it",
    )
    assert shown["cancelled_at"] and shown["progress"] == {"closed": 2, "total": 2}
    told = rig_gt.ok("convoy", "show", made["id"]).out
    assert "cancelled" in told and "before its work landed: not worth it" in told
    assert "landed 20" not in told
    assert [c["status"] for c in rig_gt.json("convoy", "list")] == ["cancelled"]
    events = rig_gt.json("events", "--convoy", made["id"], "--limit", "0")
    assert "convoy.landed" not in [e["kind"] for e in events]
    last = events[-1]
    assert (last["kind"], last["reason"], last["after"]) == (
        "convoy.cancelled",
        "not worth it",
        {"status": "cancelled", "closed_with_it": [second]},
    )
    assert rig_gt.json("bead", "show", second)["close_reason"] == "not worth it"

    again = rig_gt("convoy", "close", made["id"], "--force")
    assert again.code == 1 and "was cancelled already" in again.err
    extra = rig_gt.json("bead", "create", "Extra")["id"]
    refused = rig_gt("convoy", "add", made["id"], extra)
    assert refused.code == 1 and "is cancelled; it takes no more beads" in refused.err

    rig_gt.ok("bead", "reopen", second)
    reopened = rig_gt.json("convoy", "show", made["id"])
    assert (reopened["status"], reopened["cancelled_at"]) == ("open", None)
    rig_gt.ok("bead", "close", second)
    assert rig_gt.json("convoy", "show", made["id"])["status"] == "landed"


def test_a_convoy_whose_beads_all_closed_still_lands(rig_gt: Gt) -> None:
    """Given a convoy whose only bead closes, then it lands by itself (`convoy.landed`),
    and closing it by hand, forced or not, is refused as landed already."""
    made = rig_gt.json(
        "convoy", "create", "One", "--task", "Only", "--merge-mode", "review-and-merge"
    )
    rig_gt.ok("bead", "close", made["beads"][0]["id"])
    shown = rig_gt.json("convoy", "show", made["id"])
    assert shown["status"] == "landed" and shown["landed_at"] and shown["cancelled_at"] is None
    kinds = [e["kind"] for e in rig_gt.json("events", "--convoy", made["id"], "--limit", "0")]
    assert kinds[-1] == "convoy.landed" and "convoy.cancelled" not in kinds
    forced = rig_gt("convoy", "close", made["id"], "--force")
    assert forced.code == 1 and "has already landed" in forced.err


def test_the_dashboard_shows_a_cancelled_convoy_as_cancelled(browser: Browser, rig_gt: Gt) -> None:
    """Given a convoy closed by force from its page, then the page shows it cancelled, when,
    and why not, with no close form left; the list shows it cancelled too."""
    made = rig_gt.json("convoy", "create", "Drop me", "--task", "Never done")
    closed = browser.post_form(f"/convoys/{made['id']}/close", {"force": "on"}, htmx=True)
    assert closed.status_code < 400

    page = browser.get(f"/convoys/{made['id']}").text
    assert 'class="badge s-cancelled">cancelled</span>' in page
    assert ", before its work landed" in page and "landed 20" not in page
    assert 'id="convoy-close"' not in page
    listed = browser.get("/convoys").text
    assert 'class="badge s-cancelled">cancelled</span>' in listed
    api = browser.api("GET", "/api/convoys").json()
    assert [c["status"] for c in api] == ["cancelled"]


def test_a_town_from_before_keeps_its_landed_convoys_and_cancels_the_forced_ones(
    db_url: str,
) -> None:
    """Given a town at schema version 10 with a convoy force-closed (its bead closed with the
    convoy's reason, never merged), one force-closed without a reason ("convoy closed"), and
    one that landed (its bead closed by its own merge request), when it is opened, then the
    first two are cancelled at the time they were said to land, and the third still landed."""
    store = open_store(db_url)
    with store.transaction() as tx:
        for convoy_id, reason in (("gt-cv-a", "descoped"), ("gt-cv-b", None), ("gt-cv-c", None)):
            tx.insert_convoy(
                Convoy(
                    id=convoy_id,
                    title=convoy_id,
                    rig="app",
                    status="landed",
                    landed_at=at(5),
                    close_reason=reason,
                    created_at=at(0),
                    updated_at=at(5),
                    created_by="tester",
                )
            )
        closed = {"status": "closed", "closed_at": at(5)}
        tx.insert_beads(
            [
                bead("gt-a", convoy_id="gt-cv-a", close_reason="descoped", **closed),
                bead("gt-b", convoy_id="gt-cv-b", close_reason="convoy closed", **closed),
                bead("gt-c", convoy_id="gt-cv-c", close_reason="landed on trunk", **closed),
            ]
        )
        tx.db.execute(
            "INSERT INTO merge_requests (id, bead_id, rig, branch, target, base_commit, "
            "head_commit, status, created_at, updated_at) "
            "VALUES ('mr-c', 'gt-c', 'app', 'gt/x/gt-c', 'trunk', 'a', 'b', 'merged', ?, ?)",
            (at(4), at(4)),
        )
    with store.transaction() as tx:  # as schema 10 kept them: forced closes said "landed"
        tx.db.execute("ALTER TABLE convoys DROP COLUMN cancelled_at")
        tx.db.execute("DROP TABLE issue_links")  # made by migration 12
        undo_migrations_after(tx.db, 12)
        tx.db.execute("DELETE FROM schema_migrations WHERE version > 10")
    store.close()

    store = open_store(db_url)
    try:
        with store.reader() as tx:
            found = {c.id: (c.status, c.landed_at, c.cancelled_at) for c in tx.list_convoys()}
    finally:
        store.close()
    assert found == {
        "gt-cv-a": ("cancelled", None, at(5)),
        "gt-cv-b": ("cancelled", None, at(5)),
        "gt-cv-c": ("landed", at(5), None),
    }
