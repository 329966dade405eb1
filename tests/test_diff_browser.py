"""The diff view in a real browser (headless Chromium through Playwright, as in
tests/test_dashboard_browser.py) against the real town process: a merge request's page,
highlighted, with the reviewer's comment at its line, switched to side by side and back, and
a large file opened on click. Screenshots go to `tests/screenshots/`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.builders import Yard, remote, yard
from tests.builders.chromium import Dashboard, chromium
from tests.builders.diffs import submit

__all__ = ["chromium", "remote", "yard"]  # fixtures this module uses


@pytest.fixture
def board(chromium: Browser, yard: Yard, tmp_path: Path) -> Iterator[Dashboard]:
    yard.gt.ok("config", "set", "refinery.auto", "false")  # the merge request stays open
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        seen = Dashboard(yard.gt, context.new_page(), shots)
        yield seen
        assert seen.errors == [], seen.errors
    finally:
        context.close()
        yard.gt("down")


def test_a_merge_request_diff_reads_unified_and_side_by_side(board: Dashboard, yard: Yard) -> None:
    mr_id = submit(yard)
    page = board.page
    page.goto(f"{board.url}/merges/{mr_id}")  # no live region: nothing to wait for
    calc = page.locator("details.diff-file", has_text="calc.py")
    expect(calc.locator(".hl .k", has_text="def").first).to_be_visible()
    comment = calc.locator(".review-comment")
    expect(comment).to_contain_text("Check sub's sign <b>please</b>")  # as text, escaped
    expect(page.locator(".diff-note", has_text="Binary file added")).to_be_visible()
    big = page.locator("details.diff-file", has_text="big.txt")
    expect(big.locator("table")).to_be_hidden()  # large: collapsed until opened
    board.shot("diff-unified")

    big.locator("summary").click()
    expect(big.locator("table")).to_be_visible()
    page.click("text=Side by side")
    expect(page).to_have_url(f"{board.url}/merges/{mr_id}?view=split")
    expect(calc.locator("table.diff-table.split")).to_be_visible()
    expect(page.locator(".diff-views [aria-current=page]")).to_have_text("Side by side")
    expect(page.locator("td.d-add", has_text="return a - b")).to_be_visible()
    board.shot("diff-split")
    page.reload()  # the layout is in the URL: it survives a reload
    expect(calc.locator("table.diff-table.split")).to_be_visible()
