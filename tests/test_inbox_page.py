"""The dashboard's inbox through the ASGI client: mail to `town` and to the dashboard's person
listed with an unread count in every page's navigation, reading a message marks it read,
writing to the mayor or a polecat and answering from the page, bad messages refused beside
the form with nothing sent, and the JSON twins. The real browser is in
`test_inbox_browser.py`."""

from __future__ import annotations

import html
import re
from pathlib import Path

from gastown.model import Mail, Polecat
from gastown.services import mail
from gastown.services.ledger import Ledger
from gastown.town import load
from tests.builders.web import Browser, bearer, browser, client
from tests.conftest import Gt

__all__ = ["browser", "client"]  # the dashboard's fixtures, which pytest finds here by name


def post(town_path: Path, sender: str, to: str, text: str) -> int:
    store = load(town_path).open_store()
    try:
        return mail.send(Ledger(store, actor=sender), sender, to, text).id
    finally:
        store.close()


def add_polecat(town_path: Path, name: str) -> None:
    store = load(town_path).open_store()
    try:
        with store.transaction() as tx:
            tx.insert_polecat(Polecat(name=name, rig="app"))
    finally:
        store.close()


def unread_in_nav(html: str) -> str | None:
    found = re.search(r'id="nav-unread"[^>]*>(\d+)<', html)
    return found.group(1) if found else None


def all_mail(town_path: Path) -> list[Mail]:
    store = load(town_path).open_store()
    try:
        with store.reader() as tx:
            return tx.list_mail()
    finally:
        store.close()


def test_the_inbox_lists_the_towns_mail_and_reading_marks_it_read(
    browser: Browser, rig_gt: Gt, town_path: Path
) -> None:
    add_polecat(town_path, "alder")
    first = post(town_path, "alder", "town", "Working on the login page.\nMore below.")
    post(town_path, "alder", "mayor", "Not for the people.")
    assert unread_in_nav(browser.get("/").text) == "1"  # every page's navigation says so
    page = browser.get("/inbox")
    assert page.status_code == 200
    assert "Working on the login page." in page.text and "Not for the people" not in page.text
    assert 'id="inbox-unread">1 unread' in page.text
    read = browser.get(f"/inbox/{first}")
    assert read.status_code == 200 and "More below." in read.text
    assert unread_in_nav(read.text) is None  # read now
    assert browser.get("/api/inbox").json() == {"unread": 0, "mail": []}
    listed = browser.get("/api/inbox?all=true").json()["mail"]
    assert [m["id"] for m in listed] == [first] and listed[0]["read_at"]
    assert browser.get("/inbox/2").status_code == 404  # the mayor's, not this inbox's


def test_writing_and_answering_from_the_inbox(
    browser: Browser, rig_gt: Gt, town_path: Path
) -> None:
    add_polecat(town_path, "alder")
    sent = browser.post_form("/inbox", {"to": "mayor", "text": "Plan the release for Friday"})
    assert sent.status_code == 303 and sent.headers["location"] == "/inbox?sent=1"
    assert "Sent mail 1 to mayor." in browser.get(sent.headers["location"]).text
    htmx = browser.post_form(
        "/inbox", {"to": "alder", "text": "Use the new session API"}, htmx=True
    )
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == "/inbox?sent=2"
    # The polecat answers the dashboard's person, and the answer is in the inbox.
    answer = post(town_path, "alder", "dashboard", "Done: the session API it is.")
    assert unread_in_nav(browser.get("/inbox").text) == "1"
    replied = browser.post_form(f"/inbox/{answer}/reply", {"text": "Thanks!"})
    assert replied.status_code == 303
    kept = {m.id: m for m in all_mail(town_path)}
    assert [(m.sender, m.recipient, m.text) for m in kept.values()] == [
        ("dashboard", "mayor", "Plan the release for Friday"),
        ("dashboard", "alder", "Use the new session API"),
        ("alder", "dashboard", "Done: the session API it is."),
        ("dashboard", "alder", "Thanks!"),
    ]
    assert kept[answer].read_at is not None  # answering it read it
    via_api = browser.api("POST", "/api/inbox", {"to": "alder", "text": "One more thing"})
    assert via_api.status_code == 200 and via_api.json()["from"] == "dashboard"
    # A token caller reads the inbox of `api`: the town's mail, not the dashboard's person's.
    assert browser.client.get("/api/inbox?all=true", headers=bearer()).json()["mail"] == []


def test_bad_mail_is_refused_beside_the_form_and_nothing_is_sent(
    browser: Browser, rig_gt: Gt, town_path: Path
) -> None:
    cases = [
        ({"to": "mayor", "text": "   "}, 400, "A message cannot be empty."),
        ({"to": "mayor", "text": "x" * 20_001}, 400, "A message is at most 20000 characters"),
        ({"to": "nobody", "text": "Hello?"}, 404, "There is no polecat or person 'nobody'"),
    ]
    for form, status, sentence in cases:
        answer = browser.post_form("/inbox", form)
        assert answer.status_code == status, answer.text
        said = re.search(r'id="inbox-error">([^<]*)<', answer.text)
        assert said is not None and html.unescape(said.group(1)).startswith(sentence)
        assert f'value="{form["to"]}"' in answer.text  # what was typed is kept
    # Posted by htmx, the refusal is the page again, which the form swaps in place.
    swapped = browser.post_form("/inbox", {"to": "nobody", "text": "Hi"}, htmx=True)
    assert swapped.status_code == 404 and 'id="inbox-error">There is no polecat' in swapped.text
    theirs = post(town_path, "tester", "town", "A question for the people")
    empty = browser.post_form(f"/inbox/{theirs}/reply", {"text": ""})
    assert empty.status_code == 400 and 'id="inbox-error">A message cannot be empty.' in empty.text
    assert browser.post_form("/inbox/999/reply", {"text": "Hi"}).status_code == 404
    refused = browser.api("POST", "/api/inbox", {"to": "nobody", "text": "Hi"})
    assert refused.status_code == 404
    assert [m.id for m in all_mail(town_path)] == [theirs]
    unsigned = browser.post_form("/inbox", {"to": "mayor", "text": "Hi"}, csrf=False)
    assert unsigned.status_code == 403 and [m.id for m in all_mail(town_path)] == [theirs]
