"""The board in a real browser (Chromium through Playwright, against the real town process):
filters and search kept in the URL, a value that cannot match said in place, cards dragged
between columns as the lifecycle allows, a forbidden drag put back with the reason, and the
keyboard way to move a card. Screenshots go where the other browser tests put theirs."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.builders.chromium import Dashboard, card, chromium, dashboard  # noqa: F401

WAIT = 30_000
"""Milliseconds to wait for the page to catch up (never a timing claim)."""


DRAG = """([title, status]) => {
    const card = [...document.querySelectorAll("[data-board] .card")]
        .find((c) => c.textContent.includes(title));
    const column = document.querySelector(`[data-board] section[data-status="${status}"]`);
    const carried = new DataTransfer();
    const fire = (on, type) => on.dispatchEvent(
        new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: carried}));
    fire(card, "dragstart");
    fire(column, "dragenter");
    fire(column, "dragover");
    fire(column, "drop");
    fire(card, "dragend");
}"""
"""The browser's own drag events, fired in one turn of the page's event loop: a live update of
the board cannot land between them and swap the card being dragged for a fresh copy."""


def drag(page: Page, title: str, status: str) -> None:
    """Drag a card onto a column with the browser's own drag events (HTML5 drag and drop)."""
    page.locator("[data-board] .card", has_text=title).first.wait_for()
    page.evaluate(DRAG, [title, status])


def test_filters_search_and_drag_and_drop_on_the_board(dashboard: Dashboard) -> None:  # noqa: F811
    gt = dashboard.gt
    gt.ok("bead", "create", "Cache the parser", "--rig", "app", "-t", "bug", "-l", "backend")
    gt.ok("bead", "create", "Cache the page", "--rig", "app", "-t", "task", "-l", "frontend")
    gt.ok("bead", "create", "Write the docs", "--rig", "app", "-t", "task")
    page = dashboard.open("/rigs/app")

    page.select_option("#f-type", "bug")
    page.fill("#f-q", "cache")
    page.click("#f-apply")
    page.wait_for_url("**/rigs/app?*type=bug*q=cache*")
    expect(card(page, "open", "Cache the parser")).to_be_visible()
    expect(card(page, "open", "Cache the page")).to_have_count(0)
    expect(card(page, "open", "Write the docs")).to_have_count(0)
    expect(page.locator("#f-type")).to_have_value("bug")
    dashboard.shot("board-filtered")

    dashboard.open("/board?type=saga&label=ghost")
    expect(page.locator(".notice").first).to_contain_text("'saga' is not a bead type")
    expect(page.locator(".notice").nth(1)).to_contain_text("No bead has the label 'ghost'")
    dashboard.shot("board-bad-filter")

    page = dashboard.open("/rigs/app")
    docs = card(page, "open", "Write the docs")
    drag(page, "Write the docs", "closed")
    expect(card(page, "closed", "Write the docs")).to_be_visible(timeout=WAIT)
    expect(docs).to_have_count(0)
    assert [b["status"] for b in gt.json("bead", "list", "--status", "closed")] == ["closed"]

    # Closed work cannot go to review: the card goes back and the board says why.
    drag(page, "Write the docs", "in_review")
    says = page.locator("#board-says")
    expect(says).to_contain_text("cannot go to in review", timeout=WAIT)
    expect(says).to_contain_text("From closed it can go to: open.")
    expect(card(page, "closed", "Write the docs")).to_be_visible()
    expect(card(page, "in_review", "Write the docs")).to_have_count(0)
    dashboard.shot("board-refused-drag")

    # The keyboard way: focus the card, press o to reopen it.
    card(page, "closed", "Write the docs").focus()
    page.keyboard.press("o")
    expect(card(page, "open", "Write the docs")).to_be_visible(timeout=WAIT)
    expect(says).to_be_hidden()
    dashboard.shot("board-moved")
    dashboard.open("/")
    page.click(".stat.s-open a")
    page.wait_for_url("**/board?status=open")
    expect(page.locator('section[data-status="open"] .card')).to_have_count(3)
    expect(page.locator('section[data-status="closed"]')).to_have_count(0)
