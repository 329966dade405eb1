"""The inbox in a real browser (headless Chromium, against the real town process): a polecat's
mail to the town shows in the navigation's unread count, opening it reads it, a mistyped
recipient is refused beside the form with the text kept, and a message to the mayor is sent.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from gastown.services import mail
from gastown.services.ledger import Ledger
from gastown.town import load
from tests.builders.chromium import Dashboard, chromium, dashboard
from tests.conftest import Gt

__all__ = ["chromium", "dashboard"]  # the browser test's fixtures, found here by name


def test_the_inbox_reads_and_writes_mail(
    dashboard: Dashboard, chromium: Browser, rig_gt: Gt, town_path: Path
) -> None:
    store = load(town_path).open_store()
    try:
        led = Ledger(store, actor="tester")
        mail.send(led, "tester", "town", "Who reviews the login page?\nIt is ready.")
    finally:
        store.close()
    page = dashboard.open("/")
    expect(page.locator("#nav-unread")).to_have_text("1")
    page.click("text=Inbox")
    expect(page.locator("#inbox-unread")).to_have_text("1 unread")
    dashboard.shot("inbox")
    page.click("text=Who reviews the login page?")
    expect(page.locator("#mail-body")).to_contain_text("It is ready.")
    expect(page.locator("#nav-unread")).to_have_count(0)  # read now
    page.fill("#reply-text", "I do, this afternoon.")
    page.click("#reply-send")
    expect(page.locator("#inbox-sent")).to_have_text("Sent mail 2 to tester.")

    page.fill("#mail-to", "maoyr")
    page.fill("#mail-text", "Plan the release for Friday")
    page.click("#mail-send")
    expect(page.locator("#inbox-error")).to_contain_text("There is no polecat or person 'maoyr'")
    expect(page.locator("#mail-text")).to_have_value("Plan the release for Friday")
    dashboard.shot("inbox-refused")
    page.fill("#mail-to", "mayor")
    page.click("#mail-send")
    expect(page.locator("#inbox-sent")).to_have_text("Sent mail 3 to mayor.")
    sent = [(m["from"], m["to"]) for m in rig_gt.json("inbox", "--all")["mail"]]
    assert sent == [("dashboard", "tester"), ("tester", "town")]
