"""The dashboard through the ASGI client: its app, and a logged-in browser as the client plays
it. Not re-exported by `tests.builders` (it imports the web app): import it from here."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from gastown.town import load
from gastown.townrun import login
from gastown.web.api import create_app
from tests.conftest import Gt

TOKEN = "town-token-for-tests"
"""The town token the app is made with."""


def make_app(town_path: Path) -> FastAPI:
    """The dashboard's app for the town at `town_path`, its token `TOKEN`."""
    return create_app(load(town_path), TOKEN, "2026-01-01T00:00:00Z", environ={})


class Browser:
    """A logged-in browser, as the ASGI client plays it: the session cookie in its jar and the
    page's CSRF token at hand."""

    def __init__(self, client: TestClient, town_path: Path) -> None:
        self.client = client
        key = login.mint_key(town_path, time.time())
        answer = client.get(f"/login?key={key}")
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        page = client.get("/")
        found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert found is not None
        self.csrf = found.group(1)

    def get(self, path: str, **kw: Any) -> Any:
        """GET `path` with the session."""
        return self.client.get(path, **kw)

    def post_form(self, path: str, data: dict[str, str], *, csrf: bool = True, htmx: bool = False):
        """POST a form as the page does (with its CSRF token unless not, as htmx if asked)."""
        form = {**data, "csrf_token": self.csrf} if csrf else data
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.post(path, data=form, headers=headers)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the JSON API as the page's scripts do."""
        return self.client.request(method, path, json=body, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
def client(rig_gt: Gt, town_path: Path) -> Iterator[TestClient]:
    """The ASGI client on the dashboard of a town with rig `app`, redirects not followed."""
    with TestClient(make_app(town_path), follow_redirects=False) as c:
        yield c


@pytest.fixture
def browser(client: TestClient, town_path: Path) -> Browser:
    """A logged-in `Browser` on `client`."""
    return Browser(client, town_path)


def bearer() -> dict[str, str]:
    """The header that authenticates a script with the town token."""
    return {"Authorization": f"Bearer {TOKEN}"}
