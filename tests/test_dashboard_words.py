"""The dashboard in words: the feed and timelines speak in sentences that link what they name,
the convoy page carries its title, and an unknown bead, convoy, run, agent or rig answers a
404 page with a way back (the API keeps answering JSON)."""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gastown import config
from gastown.services.setting_sections import SECTIONS, layer, section_of
from tests.builders.web import Browser, make_app
from tests.conftest import Gt


@pytest.fixture
def browser(rig_gt: Gt, town_path: Path) -> Iterator[Browser]:
    with TestClient(make_app(town_path), follow_redirects=False) as client:
        yield Browser(client, town_path)


def test_the_feed_and_timelines_say_what_happened_with_linked_titles(
    browser: Browser, rig_gt: Gt
) -> None:
    made = rig_gt.json("convoy", "create", "Clapping", "--rig", "app", "--task", "Add a clap")
    bead = made["beads"][0]["id"]
    rig_gt.ok("bead", "update", bead, "-p", "0", "--reason", "customer asked")
    link = f"<a href=\"/beads/{bead}\">'Add a clap' <code>{bead}</code></a>"
    convoy = f"<a href=\"/convoys/{made['id']}\">convoy 'Clapping'</a>"
    overview = unescape(browser.get("/").text)
    assert f'tester changed {link}: priority P2 → P0</span> <span class="reason">' in overview
    assert '<span class="kind">' not in overview  # no internal event names
    assert f"tester created {convoy} with 1 bead" in overview
    timeline = unescape(browser.get(f"/beads/{bead}").text)
    assert f"tester created {link} in {convoy}" in timeline
    words = browser.get("/api/overview").json()["events"][0]["words"]
    assert {"text": "'Add a clap'", "kind": "bead", "id": bead} in words


def test_the_convoy_page_shows_its_title_and_its_timeline(browser: Browser, rig_gt: Gt) -> None:
    made = rig_gt.json("convoy", "create", "Clapping", "--rig", "app", "--task", "Add a clap")
    page = browser.get(f"/convoys/{made['id']}")
    assert page.status_code == 200
    assert "<h1>Convoy: Clapping</h1>" in page.text and f"<code>{made['id']}</code>" in page.text
    said = f"tester created <a href=\"/convoys/{made['id']}\">convoy 'Clapping'</a> with 1 bead"
    assert said in unescape(page.text)


@pytest.mark.parametrize(
    ("path", "back"),
    [
        ("/beads/gt-nope0", "/"),
        ("/convoys/gt-cv-nope0", "/convoys"),
        ("/agents/nobody", "/agents"),
        ("/runs/run-nope", "/agents"),
        ("/rigs/nowhere", "/"),
        ("/no/such/page", "/"),
    ],
)
def test_an_unknown_page_answers_a_404_page_with_a_way_back(
    browser: Browser, path: str, back: str
) -> None:
    answer = browser.get(path)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "There is no " in answer.text and f'<a href="{back}"' in answer.text


def test_the_api_still_answers_json_when_something_is_unknown(browser: Browser) -> None:
    bead = browser.get("/api/beads/gt-nope0")
    assert bead.status_code == 404 and bead.json()["error"]["code"] == "not_found"
    nothing = browser.get("/api/no/such/thing")
    assert nothing.status_code == 404 and nothing.json() == {"detail": "Not Found"}


def test_every_setting_has_a_section_and_the_page_says_each_layer(
    browser: Browser, rig_gt: Gt
) -> None:
    assert all(section_of(key) for key in config.SETTINGS), "place the new setting in a section"
    rig_gt.ok("config", "set", "refinery.gates", '["make test"]', "--rig", "app")
    shown = browser.get("/api/settings?rig=app").json()
    titles = [s["title"] for s in shown["sections"]]
    held = [s.title for s in SECTIONS if any(s.holds(key) for key in config.SETTINGS)]
    assert titles == held and "Other" not in titles
    assert sum(len(s["settings"]) for s in shown["sections"]) == len(config.SETTINGS)
    page = unescape(browser.get("/settings?rig=app").text)
    assert '<h2 id="sec-3">Refinery and review</h2>' in page
    assert "(this rig's override)" in page and "(built-in default)" in page
    assert layer("environment", "refinery.gates") == "environment variable GT_REFINERY__GATES"
