"""Words people read, in a real browser (headless Chromium against the real town process): the
mayor panel opens at its latest message and its messages never overlap, and the settings page
is grouped by section with each key's meaning and the layer its value comes from. Screenshots
go to `tests/screenshots/` like the other browser tests'."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from gastown import config
from gastown.services.setting_sections import SECTIONS
from gastown.store.mayor import MayorMessage
from gastown.town import load
from tests.builders import point_at, serve
from tests.builders.chromium import WAIT, Dashboard, chromium, dashboard  # noqa: F401
from tests.conftest import Gt


def messages(page: Page) -> list[dict[str, Any]]:
    """Each message of the mayor panel: its words and where it is drawn."""
    found: list[dict[str, Any]] = page.eval_on_selector_all(
        "#chat-log > li",
        "items => items.map(i => { const r = i.getBoundingClientRect();"
        " return {text: i.textContent, top: r.top, bottom: r.bottom}; })",
    )
    return found


def overlaps(page: Page) -> list[str]:
    """Messages drawn over the next one (none, whatever the scroll)."""
    drawn = messages(page)
    return [
        f"{a['text'][:30]!r} over {b['text'][:30]!r}"
        for a, b in pairwise(drawn)
        if a["bottom"] > b["top"] + 0.5
    ]


def at_latest(page: Page) -> bool:
    return bool(
        page.evaluate(
            "(() => { const l = document.getElementById('chat-log');"
            " return l.scrollHeight - l.scrollTop - l.clientHeight < 2; })()"
        )
    )


def scroll_log(page: Page, to: str) -> None:
    page.evaluate(f"document.getElementById('chat-log').scrollTop = {to}")


def test_the_mayor_panel_opens_at_its_latest_message_and_messages_never_overlap(
    chromium: Browser,  # noqa: F811
    rig_gt: Gt,
    town_path: Path,
    tmp_path: Path,
) -> None:
    store = load(town_path).open_store()
    try:
        with store.transaction() as tx:  # a long conversation already had
            for n in range(1, 31):
                tx.insert_mayor_message(MayorMessage(0, "user", f"Question {n}?"))
                reply = [{"type": "text", "text": f"Answer {n}: all is well.\nSecond line."}]
                tx.insert_mayor_message(MayorMessage(0, "assistant", reply))
    finally:
        store.close()
    server = serve({"repeat": True, "text": "Noted. " * 30})
    with server:
        point_at(rig_gt, server)
        context = chromium.new_context(viewport={"width": 1366, "height": 900})
        try:
            board = Dashboard(rig_gt, context.new_page(), tmp_path)
            page = board.open("/")
            expect(page.locator("#chat-log li").last).to_contain_text("Answer 30")
            assert at_latest(page), "the panel opened scrolled away from its latest message"
            last = page.locator("#chat-log li").last
            expect(last).to_be_in_viewport()
            assert overlaps(page) == []
            for sent, text in enumerate(("First new question", "Second new question"), 1):
                page.fill("#mayor-text", text)
                page.keyboard.press("Enter")
                done = page.locator('#chat-log li.mayor[data-done="yes"]')
                expect(done).to_have_count(sent, timeout=WAIT)
                assert at_latest(page) and overlaps(page) == []
            board.shot("mayor-panel-latest")
            for where in ("0", "document.getElementById('chat-log').scrollHeight / 2"):
                scroll_log(page, where)  # mayor messages stay in their place as the log scrolls
                assert overlaps(page) == [], where
            board.shot("mayor-panel-scrolled")
            assert board.errors == [] and board.dialogs == []
        finally:
            context.close()
            rig_gt("down")


def test_the_settings_page_is_grouped_by_section_with_meanings_and_layers(
    dashboard: Dashboard,  # noqa: F811
) -> None:
    dashboard.gt.ok("config", "set", "max_polecats_per_rig", "3")
    dashboard.gt.ok("config", "set", "refinery.gates", '["make test"]', "--rig", "app")
    page = dashboard.open("/settings")
    headings = page.locator("section.settings-section h2")
    held = [s.title for s in SECTIONS if any(s.holds(key) for key in config.SETTINGS)]
    assert held[:3] == ["Agents and models", "Dispatch and polecats", "Refinery and review"]
    expect(headings).to_have_text(held)
    dispatch = page.locator(
        "section.settings-section", has=page.locator("#row-max_polecats_per_rig")
    )
    expect(dispatch.locator("h2")).to_have_text("Dispatch and polecats")
    row = page.locator("#row-max_polecats_per_rig")
    expect(row).to_contain_text("3 (set in town.toml)")
    expect(row.locator(".doc")).not_to_be_empty()
    expect(page.locator("#row-refinery-batch_size")).to_contain_text("(built-in default)")
    dashboard.shot("settings-sections")
    page = dashboard.open("/settings?rig=app")
    expect(page.locator("#row-refinery-gates")).to_contain_text("(this rig's override)")
    expect(page.locator("#row-max_polecats_per_rig")).to_contain_text("(set in town.toml)")
    dashboard.shot("settings-rig-sections")
