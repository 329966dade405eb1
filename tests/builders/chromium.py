"""The dashboard in a real browser: headless Chromium driven by Playwright, logged in to a
real town process. Not re-exported by `tests.builders` (it imports Playwright): import it
from here."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Error, Page, expect, sync_playwright

from tests.conftest import Gt

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).parents[1] / "screenshots"
"""Where screenshots are also copied, to look at after a run (ignored by git)."""
WAIT = 60_000
"""Milliseconds to wait for the town to do something (never a timing claim)."""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Chromium, one per test module."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


class Dashboard:
    """A town process and a logged-in browser page on its dashboard."""

    def __init__(self, gt: Gt, page: Page, shots: Path) -> None:
        self.gt = gt
        self.page = page
        self.shots = shots
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", self._error)
        address = gt.json("up", "-d")
        self.url = address["url"]
        page.goto(address["login_url"])
        expect(page).to_have_url(self.url + "/")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _error(self, error: Error) -> None:
        self.errors.append(str(error))

    def open(self, path: str) -> Page:
        """Go to `path` and wait until its live updates are connected."""
        self.page.goto(self.url + path)
        expect(self.page.locator("body")).to_have_attribute("data-live-state", "connected")
        return self.page

    def shot(self, name: str) -> None:
        """Save a screenshot of the whole page as `name`.png."""
        target = self.shots / f"{name}.png"
        self.page.screenshot(path=str(target), full_page=True)
        SHOTS.mkdir(exist_ok=True)
        shutil.copyfile(target, SHOTS / target.name)


@pytest.fixture
def dashboard(chromium: Browser, rig_gt: Gt, tmp_path: Path) -> Iterator[Dashboard]:
    """A town with rig `app` and scripted polecats, its process up, a browser logged in; at
    the end, no page error and no dialog may have happened."""
    rig_gt.ok("config", "set", "runtime", "scripted")
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        board = Dashboard(rig_gt, page, shots)
        yield board
        assert board.errors == [], board.errors
        assert board.dialogs == [], board.dialogs
    finally:
        context.close()
        rig_gt("down")


def card(page: Page, status: str, title: str) -> Any:
    """The board's card with `title` in the column of `status`."""
    return page.locator(f'section[data-status="{status}"] .card', has_text=title)
