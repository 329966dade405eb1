"""The board's side panel in Chromium: a card of a running bead opens its agent's live log,
lines arrive as the agent writes them, and a message typed there reaches the polecat's mail.

Reuses the browser and town fixtures of `test_dashboard_browser` (screenshots go to
`tests/screenshots/` as theirs do)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from gastown.town import load
from tests.builders import script
from tests.builders.chromium import WAIT, Dashboard, card, chromium, dashboard

__all__ = ["chromium", "dashboard"]  # the fixtures this module shares


def test_a_card_opens_its_agents_live_log_and_a_box_to_talk_to_it(
    dashboard: Dashboard, town_path: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    body = script(
        {"text": "Looking around the repository"},
        {"run": f"while [ ! -e {go} ]; do sleep 0.05; done"},
        {"text": "Read the nudge, writing the file"},
        {"write": "NOTE.md", "content": "hello\n"},
        {"usage": {"input": 2400, "output": 60}, "model": "claude-sonnet-4-5"},
    )
    page = dashboard.open("/rigs/app")
    dashboard.gt.ok("sling", "Write a note", "--rig", "app", "--body", body)
    working = card(page, "in_progress", "Write a note")
    expect(working).to_be_visible(timeout=WAIT)
    polecat = working.locator("[data-open-agent]").get_attribute("data-open-agent")
    assert polecat

    working.locator("code").first.click()  # the card itself, not one of its buttons
    panel = page.locator("#agent-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#agent-panel-title")).to_have_text(polecat)
    log = page.locator("#agent-panel-log")
    expect(log).to_contain_text("Looking around the repository", timeout=WAIT)
    expect(log.locator("li.running")).to_contain_text("→ shell while", timeout=WAIT)
    assert "{" not in log.inner_text()  # a conversation, not JSON

    page.fill("#agent-panel-text", "Please keep the note short")
    page.click("#agent-panel-send")
    expect(page.locator("#agent-panel-status")).to_contain_text(f"Sent to {polecat}")
    expect(page.locator("#agent-panel-text")).to_have_value("")
    store = load(town_path).open_store()
    try:
        with store.reader() as tx:
            (mail,) = tx.list_mail(polecat)
    finally:
        store.close()
    assert mail.text == "Please keep the note short"

    go.touch()  # the agent carries on: its next lines arrive in the open panel
    expect(log).to_contain_text("Read the nudge, writing the file", timeout=WAIT)
    expect(log).to_contain_text("→ write NOTE.md  ← wrote NOTE.md", timeout=WAIT)
    shell = log.locator("li", has_text="→ shell while")  # its result joined its line
    expect(shell).to_contain_text("← (no output)", timeout=WAIT)
    expect(log.locator("li.running")).to_have_count(0)
    expect(page.locator("#agent-panel-spent")).to_contain_text("2,400 tokens in", timeout=WAIT)
    expect(log).to_contain_text("ended (ok, exit 0)", timeout=WAIT)
    expect(page.locator("#agent-panel-facts")).to_contain_text("succeeded", timeout=WAIT)
    dashboard.shot("agent-panel")

    page.click("#agent-panel-close")
    expect(panel).to_be_hidden()
    page.locator("[data-open-agent]").first.click()  # the keyboard's way in: its button
    expect(panel).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
