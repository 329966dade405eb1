"""The board people work from: filters and search kept in the URL and applied in SQL (on
SQLite and PostgreSQL), cards telling polecat, runtime, time, attempts, cost and merge state,
values that cannot match said in place, and moves between columns that follow the lifecycle
as the CLI does. The board in a real browser is in `test_board_browser.py`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from gastown.model import RUNNING, MergeRequest, Rig
from gastown.services import moves
from gastown.store import Store, open_store
from gastown.web import board
from gastown.web.render import render
from tests.builders import bead
from tests.builders.spend import DAY1, DAY2, run
from tests.builders.web import Browser, browser, client  # noqa: F401  (fixtures)
from tests.conftest import Gt

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    found = open_store(db_url)
    try:
        yield found
    finally:
        found.close()


def given_a_town(store: Store) -> None:
    """Two rigs; beads of several types, labels and priorities; one at work in its second
    attempt, one in review with a merge request, one whose title has a `%` in it."""
    with store.transaction() as tx:
        tx.insert_rig(Rig("app", "file:///srv/app.git", "trunk", "rigs/app", DAY1))
        tx.insert_rig(Rig("web", "file:///srv/web.git", "trunk", "rigs/web", DAY1))
        tx.insert_beads(
            [
                bead("gt-a", rig="app", type="bug", labels=["backend"], title="Cache the parser"),
                bead("gt-b", rig="app", type="bug", labels=["frontend"], title="Cache the page"),
                bead("gt-c", rig="app", type="task", labels=["backend"], title="Cache tokens"),
                bead("gt-d", rig="web", type="bug", labels=["backend"], title="Cache the route"),
                bead("gt-e", rig="app", type="bug", status="in_progress", labels=["backend"]),
                bead("gt-f", rig="app", status="in_review", priority=0, title="Speed up 50%"),
                bead("gt-g", rig="app", assignee="ana", title="Plain work"),
            ]
        )
        tx.insert_run(run("r1", "gt-e", status="failed", cost_usd=0.25, ended_at=DAY1))
        tx.insert_run(
            run(
                "r2",
                "gt-e",
                attempt=2,
                status=RUNNING,
                polecat="birch",
                runtime="codex",
                model="gpt-x",
                created_at=DAY2,
                started_at=DAY2,
                ended_at=None,
                cost_usd=0.5,
            )
        )
        tx.insert_merge_request(
            MergeRequest(
                "mr-1",
                "gt-f",
                None,
                "app",
                "gt/alder/gt-f",
                "trunk",
                "abc",
                "def",
                status="testing",
                created_at=DAY2,
                updated_at=DAY2,
            )
        )


def shown(data: dict[str, Any]) -> dict[str, list[str]]:
    return {c["status"]: [b["id"] for b in c["beads"]] for c in data["columns"]}


def read(store: Store, query: list[tuple[str, str]], rig: str | None = None) -> dict[str, Any]:
    with store.reader() as tx:
        return board.read(tx, board.parse(tx, query, rig), NOW)


def test_two_filters_and_a_search_pick_the_same_beads_on_either_backend(store: Store) -> None:
    given_a_town(store)
    data = read(store, [("type", "bug"), ("label", "backend"), ("q", "CACHE")])
    assert shown(data)["open"] == ["gt-a", "gt-d"]  # any rig, any case
    assert [c["count"] for c in data["columns"]] == [2, 0, 0, 0, 0]
    assert data["filtered"] is True and data["notices"] == []
    assert shown(read(store, [("q", "cache")], rig="app"))["open"] == ["gt-a", "gt-b", "gt-c"]
    # A `%` searched for is that character, not "anything".
    assert shown(read(store, [("q", "50%")]))["in_review"] == ["gt-f"]
    assert sum(len(ids) for ids in shown(read(store, [("q", "_")])).values()) == 0
    only = read(store, [("status", "in_review"), ("status", "in_progress")])
    assert [c["status"] for c in only["columns"]] == ["in_progress", "in_review"]
    assert shown(read(store, [("assignee", "ana"), ("priority", "P2")]))["open"] == ["gt-g"]


def test_cards_say_who_works_for_how_long_which_attempt_what_it_cost_and_the_merge_state(
    store: Store,
) -> None:
    given_a_town(store)
    cards = {b["id"]: b for c in read(store, [])["columns"] for b in c["beads"]}
    working = cards["gt-e"]
    assert (working["polecat"], working["run_runtime"], working["run_model"]) == (
        "birch",
        "codex",
        "gpt-x",
    )
    assert working["attempts"] == 2 and working["cost"]["usd"] == 0.75
    assert working["clock"] == {"label": "running", "since": DAY2, "for": "30m"}
    review = cards["gt-f"]
    assert review["merge"]["status"] == "testing" and review["clock"]["label"] == "in review"
    waiting = cards["gt-a"]
    assert waiting["clock"]["label"] == "waiting" and waiting["attempts"] == 0
    assert waiting["cost"] is None and waiting["merge"] is None


def test_a_card_waiting_for_its_next_attempt_says_until_when(store: Store) -> None:
    """Given an open bead whose first attempt failed 30 s ago, with a 60 s backoff, then its
    card says it is tried again at 10:00:30 (as `gt ready` says it), and no other card does."""
    given_a_town(store)
    with store.transaction() as tx:
        tx.insert_beads([bead("gt-h", rig="app", slung=True, title="Flaky")])
        ended = "2026-03-02T09:59:30.000000Z"
        tx.insert_run(run("r3", "gt-h", status="failed", created_at=ended, ended_at=ended))
        tx.set_dispatch("gt-h", 1)
    with store.reader() as tx:
        wanted = board.parse(tx, [], None)
        data = board.read(tx, wanted, NOW, settings={"polecat.retry_backoff_seconds": 60})
    cards = {b["id"]: b for c in data["columns"] for b in c["beads"]}
    assert cards["gt-h"]["retry_at"] == "2026-03-02T10:00:30.000000Z"
    assert cards["gt-h"]["retry"] == "retry at 2026-03-02 10:00 UTC (in 30 s)"
    assert [i for i, b in cards.items() if b["retry"]] == ["gt-h"]
    with store.reader() as tx:  # its rig's board says the same; by default it waits 30 s
        wanted = board.parse(tx, [], "app")
        on_app = board.read(tx, wanted, NOW, settings={"polecat.retry_backoff_seconds": 60})
        by_default = board.read(tx, wanted, NOW)
    assert {b["id"]: b["retry"] for b in on_app["columns"][0]["beads"]}["gt-h"] is not None
    assert all(b["retry"] is None for b in by_default["columns"][0]["beads"])


def test_values_that_cannot_match_are_said_and_the_board_still_renders(store: Store) -> None:
    given_a_town(store)
    data = read(
        store,
        [
            ("rig", "nope"),
            ("type", "saga"),
            ("priority", "9"),
            ("status", "done"),
            ("label", "ghost"),
            ("assignee", "nobody"),
        ],
    )
    assert data["notices"] == [
        "There is no rig 'nope' (rigs: app, web); showing every rig.",
        "'saga' is not a bead type (task, bug, feature, chore, epic); ignored.",
        "Priority '9' is not 0 to 4 (or P0 to P4); ignored.",
        "'done' is not a bead status (open, in_progress, in_review, closed, failed); ignored.",
        "No bead has the label 'ghost'.",
        "No bead is assigned to 'nobody'.",
    ]
    assert len(data["columns"]) == 5 and sum(c["count"] for c in data["columns"]) == 0


def test_a_move_follows_the_lifecycle() -> None:
    assert moves.targets("open") == ["in_progress", "closed", "failed"]
    assert moves.targets("closed") == ["open"]
    assert board.took("2026-03-01T07:58:00Z", NOW) == "1d 2h"
    assert board.took(None, NOW) == "–"


# --- through the dashboard ------------------------------------------------------------------


def test_the_board_page_keeps_its_filters_in_the_url_and_says_what_cannot_match(
    browser: Browser,  # noqa: F811
    rig_gt: Gt,
) -> None:
    rig_gt.ok("bead", "create", "Cache the parser", "--rig", "app", "-t", "bug", "-l", "backend")
    rig_gt.ok("bead", "create", "Cache the page", "--rig", "app", "-t", "task", "-l", "backend")
    rig_gt.ok("bead", "create", "Write docs", "--rig", "app", "-t", "bug")
    page = browser.get("/board?type=bug&label=backend&q=cache")
    assert page.status_code == 200
    assert "Cache the parser" in page.text and "Cache the page" not in page.text
    assert "Write docs" not in page.text
    assert '<option value="bug" selected>' in page.text and 'value="cache"' in page.text
    live = browser.get("/board?type=bug&label=backend&q=cache&fragment=live").text
    assert "Cache the parser" in live and "Cache the page" not in live
    api = browser.get("/api/rigs/app/board?type=bug&q=CACHE").json()
    assert [b["title"] for b in api["columns"][0]["beads"]] == ["Cache the parser"]
    bad = browser.get("/rigs/app?type=saga&priority=high")
    assert bad.status_code == 200
    assert "&#39;saga&#39; is not a bead type" in bad.text and "Write docs" in bad.text
    assert "Priority &#39;high&#39; is not 0 to 4" in bad.text
    overview = browser.get("/").text
    assert 'href="/board?status=open"' in overview and 'href="/board?status=failed"' in overview


def test_moving_a_card_applies_the_lifecycle_like_the_cli(
    browser: Browser,  # noqa: F811
    rig_gt: Gt,
) -> None:
    first = rig_gt.json("bead", "create", "First", "--rig", "app")["id"]
    second = rig_gt.json("bead", "create", "Second", "--rig", "app")["id"]
    rig_gt.ok("dep", "add", second, first)
    moved = browser.api("POST", f"/api/beads/{first}/move", {"status": "closed"})
    assert moved.status_code == 200 and moved.json()["status"] == "closed"
    refused = browser.api("POST", f"/api/beads/{first}/move", {"status": "in_review"})
    assert refused.status_code == 409
    assert (
        refused.json()["error"]["message"] == f"Bead {first} is closed; it cannot go to in review."
    )
    assert refused.json()["error"]["hint"] == "From closed it can go to: open."
    reopened = browser.api("POST", f"/api/beads/{first}/move", {"status": "open"})
    assert reopened.json()["status"] == "open"
    blocked = browser.api("POST", f"/api/beads/{second}/move", {"status": "closed"})
    assert blocked.status_code == 409 and "still blocked by" in blocked.json()["error"]["message"]
    unknown = browser.api("POST", f"/api/beads/{second}/move", {"status": "done"})
    assert unknown.status_code == 400
    # The keyboard (and script-free) way: the card's Move menu posts the same move.
    form = browser.post_form(f"/beads/{second}/act", {"action": "move", "to": "failed"}, htmx=True)
    assert form.status_code == 204
    assert rig_gt.json("bead", "show", second)["status"] == "failed"
    same = browser.post_form(f"/beads/{second}/act", {"action": "move", "to": "failed"}, htmx=True)
    assert same.status_code == 409 and "already failed" in same.text
    kinds = [e["kind"] for e in rig_gt.json("events", "--bead", first, "--limit", "0")]
    assert "bead.closed" in kinds and "bead.reopened" in kinds


def test_slinging_from_the_board_picks_the_runtime(browser: Browser, rig_gt: Gt) -> None:  # noqa: F811
    made = browser.post_form(
        "/sling", {"title": "Try codex", "rig": "app", "runtime": "codex", "stay": "1"}, htmx=True
    )
    assert made.status_code == 204
    found = rig_gt.json("bead", "list")
    assert [(b["title"], b["runtime"]) for b in found] == [("Try codex", "codex")]
    bad = browser.post_form("/sling", {"title": "X", "rig": "app", "runtime": "gpt"}, htmx=True)
    assert bad.status_code == 400 and "Runtime must be one of" in bad.text


def test_slinging_from_the_board_picks_the_model(browser: Browser, rig_gt: Gt) -> None:  # noqa: F811
    """The sling form offers the price table's models and takes any one-word name; the card
    and `gt bead show` say it; an empty field leaves the settings' model, and a name with a
    space or a line break is refused in one sentence with nothing written."""
    page = browser.get("/rigs/app").text
    assert 'id="sling-model"' in page and '<option value="claude-sonnet-4-5">' in page
    form = {"title": "Try a model", "rig": "app", "runtime": "scripted", "stay": "1"}
    made = browser.post_form("/sling", {**form, "model": "my-model-7"}, htmx=True)
    assert made.status_code == 204
    plain = browser.post_form("/sling", {**form, "title": "Plain", "model": ""}, htmx=True)
    assert plain.status_code == 204
    found = {b["title"]: b for b in rig_gt.json("bead", "list")}
    assert (found["Try a model"]["runtime"], found["Try a model"]["model"]) == (
        "scripted",
        "my-model-7",
    )
    assert found["Plain"]["model"] is None
    assert "scripted · my-model-7" in browser.get("/rigs/app").text
    shown_text = rig_gt.ok("bead", "show", found["Try a model"]["id"]).out
    assert "slung for dispatch (runtime scripted, model my-model-7)" in shown_text
    for bad_model in ("two words", "line\nbreak"):
        bad = browser.post_form("/sling", {**form, "title": "Bad", "model": bad_model}, htmx=True)
        assert bad.status_code == 400 and bad.text.startswith("A model is one name of at most")
    api = browser.api("POST", "/api/sling", {"title": "Via API", "rig": "app", "model": "m-2"})
    assert api.status_code == 201 and api.json()["model"] == "m-2"
    assert "Bad" not in {b["title"] for b in rig_gt.json("bead", "list")}


def test_the_status_filter_takes_several_statuses_as_checkboxes(
    browser: Browser,  # noqa: F811
    rig_gt: Gt,
) -> None:
    rig_gt.ok("bead", "create", "Open work", "--rig", "app")
    page = browser.get("/board?status=open&status=failed").text
    assert 'type="checkbox" name="status" value="open" id="f-status-open" checked' in page
    assert 'value="failed" id="f-status-failed" checked' in page
    assert 'value="closed" id="f-status-closed">' in page
    assert '<select name="status"' not in page
    columns = browser.get("/api/board?status=open&status=failed").json()["columns"]
    assert [c["status"] for c in columns] == ["open", "failed"]


def test_a_card_whose_every_call_has_an_unknown_cost_says_so() -> None:
    """A card never shows a price for spend nobody priced: all unknown reads "cost unknown",
    partly unknown reads the known part with "+?"."""

    def card(cost: dict[str, Any]) -> str:
        facts = {"polecat": None, "runtime": None, "model": None, "run_runtime": None}
        clock = {"label": "running", "since": DAY2, "for": "5m"}
        bead_card = {**facts, "run_model": None, "clock": clock, "retry": None, "attempts": 1}
        return render("board_facts.html", {"b": {**bead_card, "merge": None, "cost": cost}})

    assert "cost unknown" in card({"usd": 0.0, "unknown": 2, "calls": 2})
    partly = card({"usd": 0.5, "unknown": 1, "calls": 3})
    assert "$0.5000+?" in partly and "cost unknown" not in partly
