"""The dashboard's dispatch controls: the pause shown on the overview and the rig's board with
who, since when and why, and the Pause and Resume buttons (form posts with CSRF, and their
JSON twins) doing what `gt pause` and `gt resume` do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.builders.web import Browser, make_app
from tests.conftest import Gt


@pytest.fixture
def browser(rig_gt: Gt, town_path: Path) -> Iterator[Browser]:
    with TestClient(make_app(town_path), follow_redirects=False) as client:
        yield Browser(client, town_path)


def test_pause_and_resume_buttons_on_the_overview_and_the_rig_board(
    browser: Browser, rig_gt: Gt
) -> None:
    page = browser.get("/").text
    assert 'id="pause-town"' in page and 'id="resume-town"' not in page
    assert browser.post_form("/dispatch/pause", {"reason": "release day"}).status_code == 303
    assert rig_gt.json("status")["dispatch_paused"]["reason"] == "release day"
    page = browser.get("/").text
    assert "Dispatch is paused by " in page and ": release day" in page
    assert 'id="resume-town"' in page

    board = browser.get("/rigs/app").text
    assert 'id="pause-app"' in board and "Dispatch is paused by" in board
    answer = browser.post_form("/dispatch/pause", {"rig": "app", "reason": "flaky"}, htmx=True)
    assert answer.status_code == 204
    board = browser.get("/rigs/app").text
    assert "Dispatch on rig app is paused by" in board and 'id="resume-app"' in board
    assert "on rig app is paused" in browser.get("/").text

    assert browser.post_form("/dispatch/resume", {"rig": "app"}).status_code == 303
    assert browser.post_form("/dispatch/resume", {}).status_code == 303
    assert 'id="pause-town"' in browser.get("/").text
    refused = browser.post_form("/dispatch/resume", {}, htmx=True)
    assert refused.status_code == 409 and refused.text.startswith("Nothing is paused")
    assert browser.post_form("/dispatch/pause", {}, csrf=False).status_code == 403


def test_the_json_api_pauses_and_resumes(browser: Browser) -> None:
    paused = browser.api("POST", "/api/dispatch/pause", {"rig": "app", "reason": "x"})
    assert paused.status_code == 200 and paused.json()["rig"] == "app"
    assert browser.api("GET", "/api/status").json()["rigs_paused"]["app"]["reason"] == "x"
    resumed = browser.api("POST", "/api/dispatch/resume", {"rig": "app"}).json()
    assert [p["rig"] for p in resumed["lifted"]] == ["app"]
    unknown = browser.api("POST", "/api/dispatch/pause", {"rig": "nope"})
    assert unknown.status_code == 404 and "There is no rig 'nope'." in unknown.text
