"""The dashboard through the ASGI client: logging in, every page and its JSON twin, the form
posts and what they change in the ledger, and the guards (authentication, CSRF, secrets,
escaping). The real browser and the real town process are in `test_dashboard_browser.py`."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount
from starlette.testclient import TestClient

from gastown.services import escalations
from gastown.services.ledger import Ledger
from gastown.town import load
from gastown.townrun import login
from tests.builders.web import TOKEN, Browser, bearer, browser, client, make_app
from tests.conftest import Gt

SECRET = "sk-live-dashboard-0123456789"
ENV_SECRET = "hunter2-dashboard-secret"

__all__ = ["browser", "client"]  # fixtures pytest finds here by name


# --- logging in -----------------------------------------------------------------------------


def test_a_login_link_works_once_and_sets_a_strict_httponly_session(
    client: TestClient, town_path: Path
) -> None:
    assert client.get("/").headers["location"] == "/login"
    assert (
        client.get("/rigs/app?limit=5").headers["location"]
        == "/login?next=%2Frigs%2Fapp%3Flimit%3D5"
    )
    key = login.mint_key(town_path, time.time())
    first = client.get(f"/login?key={key}&next=/rigs/app")
    assert first.status_code == 303 and first.headers["location"] == "/rigs/app"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("gt_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert client.get("/rigs/app").status_code == 200

    client.cookies.clear()
    again = client.get(f"/login?key={key}")
    assert again.status_code == 401 and "expired or was already used" in again.text
    assert "gt_session" not in again.headers.get("set-cookie", "")
    assert client.get(f"/login?key=made-up-{key}").status_code == 401
    keys = (town_path / "run" / "login-keys.json").read_text()
    assert key not in keys  # only digests are kept


def test_an_old_key_or_a_forged_cookie_gets_nowhere(client: TestClient, town_path: Path) -> None:
    stale = login.mint_key(town_path, time.time() - login.KEY_TTL - 1)
    assert client.get(f"/login?key={stale}").status_code == 401
    secret = login.secret(town_path)
    old = login.new_session(secret, time.time() - login.SESSION_TTL - 10)
    client.cookies.set("gt_session", old)
    assert client.get("/").status_code == 303
    good = login.new_session(secret, time.time())
    client.cookies.set("gt_session", good[:-3] + "abc")
    assert client.get("/api/overview").status_code == 401
    client.cookies.set("gt_session", login.new_session(b"another town's secret", time.time()))
    assert client.get("/api/overview").status_code == 401


def test_the_town_token_logs_in_from_the_login_form(client: TestClient) -> None:
    assert client.get("/login").status_code == 200
    wrong = client.post("/login", data={"token": "nope", "next": "/agents"})
    assert wrong.status_code == 401 and "That is not the town" in wrong.text
    right = client.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
    assert right.status_code == 303 and right.headers["location"] == "/"
    assert client.get("/agents").status_code == 200


def test_logging_out_ends_the_session(browser: Browser) -> None:
    assert browser.post_form("/logout", {}, csrf=False).status_code == 403
    done = browser.post_form("/logout", {})
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert browser.get("/").status_code == 303


def test_a_cookie_kept_after_logging_out_lets_nobody_in(
    client: TestClient, rig_gt: Gt, town_path: Path
) -> None:
    """Given a browser logged in and a copy of its cookie, when it logs out, then the copy
    gets nowhere, in this town process or the next; another browser's session goes on."""
    browser = Browser(client, town_path)
    kept = client.cookies["gt_session"]
    assert browser.get("/api/status").status_code == 200
    with TestClient(make_app(town_path), follow_redirects=False) as other_client:
        other = Browser(other_client, town_path)

        assert browser.post_form("/logout", {}).status_code == 303

        client.cookies.set("gt_session", kept)
        assert client.get("/api/status").status_code == 401
        assert client.get("/").headers["location"] == "/login"
        assert browser.api("PATCH", "/api/beads/gt-x1", {"held": True}).status_code == 401
        assert other.get("/api/status").status_code == 200
    with TestClient(make_app(town_path), follow_redirects=False) as restarted:
        restarted.cookies.set("gt_session", kept)
        assert restarted.get("/api/status").status_code == 401


# --- the guards -------------------------------------------------------------------------------


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_every_route_needs_a_token_or_a_session(rig_gt: Gt, town_path: Path) -> None:
    app = make_app(town_path)
    checked = 0
    with TestClient(app, follow_redirects=False) as anonymous:
        for route in iter_route_contexts(app.routes):  # every route, however it was included
            if isinstance(route.route, Mount):
                assert route.path == "/static"
                assert anonymous.get("/static/gt.css").status_code == 200
                continue
            assert isinstance(route.route, APIRoute), route
            for method in sorted(set(route.methods or ()) - {"HEAD"}):
                path = concrete(route.path or "")
                answer = anonymous.request(method, path)
                checked += 1
                if route.path == "/login":
                    assert answer.status_code in (200, 401), (method, path)
                elif path.startswith("/hooks/"):  # signed by the forge: off without a secret
                    assert answer.status_code == 404, (method, path, answer.status_code)
                    continue
                elif method == "GET" and not path.startswith("/api/"):
                    assert answer.status_code == 303, (method, path, answer.status_code)
                    assert answer.headers["location"].startswith("/login"), path
                else:
                    assert answer.status_code == 401, (method, path, answer.status_code)
                wrong = anonymous.request(method, path, headers={"Authorization": "Bearer nope"})
                if route.path != "/login":
                    assert wrong.status_code == 401, (method, path)
    assert checked > 50


def test_form_posts_and_cookie_writes_need_the_csrf_token(browser: Browser, rig_gt: Gt) -> None:
    bead = rig_gt.json("bead", "create", "Guarded", "--rig", "app")["id"]
    posts = [
        (f"/beads/{bead}/act", {"action": "hold"}),
        ("/sling", {"title": "Sneaky", "rig": "app"}),
        ("/convoys", {"title": "Sneaky", "rig": "app", "task_key": "1", "task_title": "x"}),
        ("/settings", {"key": "max_polecats_per_rig", "value": "9"}),
        ("/escalations/1/ack", {}),
        ("/agents/alder/stop", {}),
        ("/convoys/x/start", {}),
        ("/mayor", {"text": "hello"}),
        ("/logout", {}),
    ]
    for path, data in posts:
        refused = browser.post_form(path, data, csrf=False)
        assert refused.status_code == 403, path
        assert "CSRF" in refused.json()["detail"]
        forged = browser.post_form(path, {**data, "csrf_token": "forged"}, csrf=False)
        assert forged.status_code == 403, path
    api = browser.client.patch(f"/api/beads/{bead}", json={"held": True})
    assert api.status_code == 403
    cross = browser.client.patch(
        f"/api/beads/{bead}",
        json={"held": True},
        headers={"X-CSRF-Token": browser.csrf, "Origin": "http://evil.example"},
    )
    assert cross.status_code == 403 and "another site" in cross.json()["detail"]
    shown = rig_gt.json("bead", "show", bead)
    assert shown["held"] is False and rig_gt.json("config", "get", "max_polecats_per_rig") != 9
    assert len(rig_gt.json("bead", "list")) == 1
    # The token needs none: a browser never sends it by itself.
    browser.client.cookies.clear()
    with_token = browser.client.patch(f"/api/beads/{bead}", json={"held": True}, headers=bearer())
    assert with_token.status_code == 200 and with_token.json()["held"] is True


def test_secrets_never_reach_a_page_or_the_json(browser: Browser, rig_gt: Gt) -> None:
    rig_gt.ok("config", "set", "model_api_key", SECRET)
    rig_gt.ok("config", "set", "env_vars.DEPLOY_TOKEN", ENV_SECRET)
    rig_gt.ok("config", "set", "env_vars.RIG_ONLY", ENV_SECRET + "-rig", "--rig", "app")
    rig_gt.json("sling", "Use the deploy token", "--rig", "app", "--hold")
    assert (
        browser.api("PUT", "/api/settings", {"key": "model_api_key", "value": SECRET}).json()[
            "value"
        ]
        == "••••••"
    )
    paths = [
        "/",
        "/rigs/app",
        "/settings",
        "/settings?rig=app",
        "/new",
        "/agents",
        "/merges",
        "/escalations?all=true",
        "/convoys",
        "/api/overview",
        "/api/rigs",
        "/api/rigs/app/board",
        "/api/settings",
        "/api/settings?rig=app",
        "/api/events?limit=1000",
        "/api/status",
        "/api/beads",
        "/api/openapi.json",
        "/api/mayor/messages",
    ]
    for path in paths:
        answer = browser.get(path)
        assert answer.status_code == 200, path
        for secret in (SECRET, ENV_SECRET):
            assert secret not in answer.text, path
    settings = browser.get("/api/settings?rig=app").json()["settings"]
    shown = {s["key"]: s["value"] for s in settings}
    assert shown["model_api_key"] == "••••••"
    assert shown["env_vars"] == {"DEPLOY_TOKEN": "••••••", "RIG_ONLY": "••••••"}


def test_the_bead_page_says_why_a_bead_is_not_ready(browser: Browser, rig_gt: Gt) -> None:
    gate = rig_gt.json("bead", "create", "Gate", "--rig", "app")["id"]
    waits = rig_gt.json("sling", "Waits", "--rig", "app", "--hold")["id"]
    rig_gt.ok("dep", "add", waits, gate)
    html = browser.get(f"/beads/{waits}").text
    assert f"Not ready: held; waiting on {gate} (open)." in html
    assert "Ready: sling it to hand it to a polecat." in browser.get(f"/beads/{gate}").text
    shown = browser.get(f"/api/beads/{waits}/detail").json()["readiness"]
    assert shown["ready"] is False and [w["id"] for w in shown["waiting_on"]] == [gate]
    rig_gt.ok("bead", "close", gate)
    rig_gt.ok("bead", "update", waits, "--unhold")
    assert (
        "Ready: the next free polecat of rig app takes it." in browser.get(f"/beads/{waits}").text
    )


def test_a_script_in_a_title_renders_as_text(browser: Browser, rig_gt: Gt) -> None:
    evil = "<script>alert(1)</script>"
    bead = rig_gt.json(
        "bead", "create", evil, "--rig", "app", "--body", f'"><img src=x onerror=alert(2)>{evil}'
    )["id"]
    rig_gt.ok("convoy", "create", evil, "--task", evil, "--rig", "app")
    convoy = rig_gt.json("convoy", "list")[0]["id"]
    for path in ("/", "/rigs/app", f"/beads/{bead}", f"/convoys/{convoy}", "/convoys"):
        html = browser.get(path).text
        assert evil not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        answer = browser.get(path)
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"


# --- pages and their JSON twins -----------------------------------------------------------------


def test_every_page_renders_with_the_chat_panel_and_a_live_region(
    browser: Browser, rig_gt: Gt
) -> None:
    bead = rig_gt.json("sling", "Fix the login redirect", "--rig", "app", "--hold")["id"]
    rig_gt.ok("convoy", "create", "Verbose", "--task", "Flag", "--task", "Docs", "--rig", "app")
    convoy = rig_gt.json("convoy", "list")[0]["id"]
    for path in (
        "/",
        "/rigs/app",
        "/convoys",
        f"/convoys/{convoy}",
        f"/beads/{bead}",
        "/agents",
        "/merges",
        "/escalations",
        "/settings",
        "/settings?rig=app",
        "/new",
    ):
        page = browser.get(path)
        assert page.status_code == 200, path
        assert 'id="mayor-form"' in page.text and 'data-live="' in page.text, path
        assert '<script src="/static/htmx.min.js"' in page.text
        fragment = browser.get(path + ("&" if "?" in path else "?") + "fragment=live")
        assert fragment.status_code == 200 and "<html" not in fragment.text, path
    assert browser.get("/rigs/nope").status_code == 404
    assert browser.get("/beads/gt-nope0").status_code == 404
    assert browser.get("/static/htmx.min.js").text.startswith("/* htmx 2.0.11")


def test_the_board_shows_columns_with_counts_and_bounded_cards(
    browser: Browser, rig_gt: Gt
) -> None:
    made = [rig_gt.json("bead", "create", f"Task {i}", "--rig", "app")["id"] for i in range(4)]
    rig_gt.ok("dep", "add", made[1], made[0])
    rig_gt.ok("bead", "close", made[3])
    board = browser.get("/api/rigs/app/board?limit=2").json()
    columns = {c["status"]: c for c in board["columns"]}
    assert [c["status"] for c in board["columns"]] == [
        "open",
        "in_progress",
        "in_review",
        "closed",
        "failed",
    ]
    assert columns["open"]["count"] == 3 and len(columns["open"]["beads"]) == 2
    assert columns["closed"]["count"] == 1
    assert {b["id"]: b["ready"] for b in columns["open"]["beads"]} == {
        made[0]: True,
        made[1]: False,
    }
    assert {b["id"]: b["blocked"] for b in columns["open"]["beads"]} == {
        made[0]: None,
        made[1]: f"waiting on {made[0]} (open)",
    }
    html = browser.get("/rigs/app?limit=2&fragment=live").text
    assert "2 of 3 shown" in html
    assert f'title="waiting on {made[0]} (open)">blocked</span>' in html
    rig_gt.ok("convoy", "create", "Later", "--task", "Waits", "--staged", "--rig", "app")
    html = browser.get("/rigs/app?fragment=live").text
    assert 'title="in a convoy not started yet">staged</span>' in html
    assert browser.get("/api/rigs/app/board?limit=0").status_code == 400


def test_board_buttons_hold_start_close_reopen_and_reprioritise(
    browser: Browser, rig_gt: Gt
) -> None:
    bead = rig_gt.json("bead", "create", "Tidy the logs", "--rig", "app")["id"]

    def act(action: str, **extra: str) -> Any:
        answer = browser.post_form(f"/beads/{bead}/act", {"action": action, **extra}, htmx=True)
        assert answer.status_code == 204, answer.text
        assert answer.headers["hx-trigger"] == "gt:acted"
        return rig_gt.json("bead", "show", bead)

    assert act("hold")["held"] is True
    assert act("unhold")["held"] is False
    assert act("priority", priority="0")["priority"] == 0
    assert act("sling")["slung"] is True
    assert act("close")["status"] == "closed"
    assert act("reopen")["status"] == "open"
    refused = browser.post_form(f"/beads/{bead}/act", {"action": "reopen"}, htmx=True)
    assert refused.status_code == 409 and "only closed or failed beads" in refused.text
    plain = browser.post_form(f"/beads/{bead}/act", {"action": "fly"})
    assert plain.status_code == 400 and "not something a bead can be told" in plain.text
    back = browser.post_form(f"/beads/{bead}/act", {"action": "hold", "next": "/rigs/app"})
    assert back.status_code == 303 and back.headers["location"] == "/rigs/app"
    kinds = [e["kind"] for e in rig_gt.json("events", "--bead", bead, "--limit", "0")]
    assert "bead.slung" in kinds and "bead.reopened" in kinds
    assert {e["actor"] for e in rig_gt.json("events", "--bead", bead)[1:]} == {"dashboard"}


def test_the_json_api_does_what_the_board_does(browser: Browser, rig_gt: Gt) -> None:
    made = browser.api(
        "POST", "/api/sling", {"title": "Add a --verbose flag", "rig": "app", "hold": True}
    )
    assert made.status_code == 201
    bead = made.json()
    assert bead["slung"] is True and bead["held"] is True and bead["rig"] == "app"
    changed = browser.api("PATCH", f"/api/beads/{bead['id']}", {"held": False, "priority": 1})
    assert changed.json()["held"] is False and changed.json()["priority"] == 1
    assert browser.api("PATCH", f"/api/beads/{bead['id']}", {}).status_code == 400
    closed = browser.api("POST", f"/api/beads/{bead['id']}/close", {"reason": "done by hand"})
    assert closed.json()["status"] == "closed"
    assert browser.api("POST", f"/api/beads/{bead['id']}/reopen").json()["status"] == "open"
    again = browser.api("POST", f"/api/beads/{bead['id']}/sling")
    assert again.status_code == 200
    missing = browser.api("POST", "/api/sling", {"title": "Nowhere", "rig": "nope"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    detail = browser.get(f"/api/beads/{bead['id']}/detail").json()
    assert detail["bead"]["id"] == bead["id"] and detail["runs"] == []
    assert [e["kind"] for e in detail["events"]][-1] == "bead.created"
    overview = browser.get("/api/overview").json()
    assert overview["beads"]["open"] == 1 and len(overview["activity"]["counts"]) == 48
    assert (overview["ready"], overview["blocked"]) == (1, 0)
    assert overview["activity"]["total"] >= 5
    schema = browser.get("/api/openapi.json").json()
    for path in (
        "/api/overview",
        "/api/rigs/{rig}/board",
        "/api/sling",
        "/api/beads/{bead_id}",
        "/api/convoys",
        "/api/convoys/{convoy_id}/start",
        "/api/agents/{name}",
        "/api/merge-requests",
        "/api/settings",
        "/api/escalations/{escalation_id}/ack",
        "/api/stream",
        "/api/mayor/stream",
        "/api/runs/{run_id}/transcript/stream",
    ):
        assert path in schema["paths"], path
    assert not any(p.startswith(("/rigs", "/beads/", "/login")) for p in schema["paths"])


def post_rows(browser: Browser, form: list[tuple[str, str]]) -> Any:
    """A form with repeated fields, in order, as a browser posts it."""
    return browser.client.post(
        "/convoys",
        content=urlencode(form),
        headers={"HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
    )


def test_a_convoy_from_the_form_with_dependencies_and_its_graph(
    browser: Browser, rig_gt: Gt
) -> None:
    form = [
        ("title", "Verbose mode"),
        ("rig", "app"),
        ("staged", "on"),
        ("merge_mode", ""),
        ("task_key", "flag"),
        ("task_title", "Add a --verbose flag"),
        ("task_needs", ""),
        ("task_key", "tests"),
        ("task_title", "Tests for --verbose"),
        ("task_needs", "flag"),
        ("task_key", "docs"),
        ("task_title", "Document --verbose"),
        ("task_needs", "flag, tests"),
        ("task_key", "4"),
        ("task_title", ""),
        ("task_needs", ""),
        ("csrf_token", browser.csrf),
    ]
    answer = post_rows(browser, form)
    assert answer.status_code == 204, answer.text
    convoy_id = answer.headers["hx-redirect"].removeprefix("/convoys/")
    shown = browser.get(f"/api/convoys/{convoy_id}").json()
    assert shown["staged"] is True and shown["merge_mode"] == "review-then-land"
    assert [len(w) for w in shown["waves"]] == [1, 1, 1]
    graph = shown["graph"]
    assert len(graph["nodes"]) == 3 and len(graph["edges"]) == 3
    assert sorted(n["x"] for n in graph["nodes"]) == [12, 272, 532]
    html = browser.get(f"/convoys/{convoy_id}").text
    assert html.count('class="node s-open"') == 3 and html.count('class="edge"') == 3
    assert "0/3" in html
    assert 'id="convoy-start"' in html

    cycle = [*form[:4], ("task_key", "a"), ("task_title", "A"), ("task_needs", "b")]
    cycle += [
        ("task_key", "b"),
        ("task_title", "B"),
        ("task_needs", "a"),
        ("csrf_token", browser.csrf),
    ]
    refused = post_rows(browser, cycle)
    assert refused.status_code == 400 and "cycle" in refused.text

    started = browser.post_form(f"/convoys/{convoy_id}/start", {}, htmx=True)
    assert started.status_code == 204
    assert browser.get(f"/api/convoys/{convoy_id}").json()["staged"] is False
    twice = browser.api("POST", f"/api/convoys/{convoy_id}/start")
    assert twice.status_code == 409 and "not staged" in twice.json()["error"]["message"]
    api_made = browser.api(
        "POST",
        "/api/convoys",
        {
            "title": "Cleanups",
            "rig": "app",
            "tasks": [
                {"key": "a", "title": "Remove dead code"},
                {"key": "b", "title": "Fix typos", "needs": ["a"]},
            ],
        },
    )
    assert api_made.status_code == 201 and api_made.json()["waves"][1] == [
        api_made.json()["beads"][1]["id"]
    ]
    closed = browser.api("POST", f"/api/convoys/{api_made.json()['id']}/close", {"force": True})
    assert closed.json()["status"] == "cancelled" and closed.json()["cancelled_at"]


def test_settings_change_through_the_service_and_say_why_not(
    browser: Browser, rig_gt: Gt, town_path: Path
) -> None:
    saved = browser.post_form("/settings", {"key": "max_polecats_per_rig", "value": "2"}, htmx=True)
    assert saved.status_code == 204
    assert "max_polecats_per_rig = 2" in (town_path / "town.toml").read_text()
    bad = browser.post_form(
        "/settings", {"key": "max_polecats_per_rig", "value": "lots"}, htmx=True
    )
    assert bad.status_code == 400 and "expects an integer" in bad.text
    rig = browser.post_form(
        "/settings", {"key": "refinery.gates", "value": '["make test"]', "rig": "app"}, htmx=True
    )
    assert rig.status_code == 204
    shown = browser.get("/api/settings?rig=app").json()["settings"]
    gates = next(s for s in shown if s["key"] == "refinery.gates")
    assert gates["value"] == ["make test"] and gates["origin"] == "rig" and gates["set_here"]
    unset = browser.post_form(
        "/settings", {"key": "refinery.gates", "op": "unset", "rig": "app"}, htmx=True
    )
    assert unset.status_code == 204
    assert browser.api("DELETE", "/api/settings/max_polecats_per_rig").json()["unset"] is True
    assert "max_polecats_per_rig" not in (town_path / "town.toml").read_text()
    assert browser.api("PUT", "/api/settings", {"key": "nope", "value": "1"}).status_code == 400
    page = browser.get("/settings?rig=app").text
    assert 'id="set-refinery-gates"' in page and "(built-in default)" in page


def test_escalations_are_listed_and_acknowledged(
    browser: Browser, rig_gt: Gt, town_path: Path
) -> None:
    store = load(town_path).open_store()
    try:
        raised = escalations.raise_(
            Ledger(store, actor="town"), "high", "The tests need a database"
        )
    finally:
        store.close()
    assert "The tests need a database" in browser.get("/").text
    listed = browser.get("/api/escalations").json()["escalations"]
    assert [e["id"] for e in listed] == [raised.id]
    acked = browser.post_form(f"/escalations/{raised.id}/ack", {}, htmx=True)
    assert acked.status_code == 204
    assert browser.get("/api/escalations").json()["escalations"] == []
    again = browser.api("POST", f"/api/escalations/{raised.id}/ack")
    assert again.status_code == 409 and "already acknowledged" in again.json()["error"]["message"]
    every = browser.get("/api/escalations?all=true").json()["escalations"]
    assert every[0]["acknowledged_by"] == "dashboard"


def test_without_a_town_loop_agents_cannot_be_steered(browser: Browser) -> None:
    answer = browser.post_form("/agents/alder/stop", {}, htmx=True)
    assert answer.status_code == 409 and "does not supervise agents" in answer.text
    assert browser.get("/api/agents").json() == {"agents": []}
    assert browser.get("/agents/alder").status_code == 404


def test_the_mayor_without_a_model_says_so_on_the_page(browser: Browser) -> None:
    answer = browser.post_form("/mayor", {"text": "Hello"})
    assert answer.status_code == 409 and "needs a model" in answer.text
    empty = browser.post_form("/mayor", {"text": "  "}, htmx=True)
    assert empty.status_code == 400 and "the text is empty" in empty.text
    streamed = browser.api("POST", "/api/mayor/stream", {"text": "Hello"})
    assert streamed.status_code == 200
    assert "event: error" in streamed.text and "needs a model" in streamed.text


def test_an_agent_page_shows_its_run_and_transcript(
    browser: Browser, rig_gt: Gt, town_path: Path
) -> None:
    import json as json_module

    from gastown.model import SUCCEEDED, Polecat, Run, run_branch

    bead = rig_gt.json("bead", "create", "Add a greeting", "--rig", "app")["id"]
    transcript = town_path / "logs" / "runs" / "run-1" / "transcript.jsonl"
    transcript.parent.mkdir(parents=True)
    lines = [
        {"kind": "start", "at": "2026-01-01T00:00:00Z", "model": "scripted"},
        {"kind": "text", "at": "2026-01-01T00:00:01Z", "role": "assistant", "text": "Writing it"},
        {"kind": "tool_call", "at": "2026-01-01T00:00:02Z", "tool": "write", "input": {}},
    ]
    transcript.write_text("".join(json_module.dumps(e) + "\n" for e in lines) + '{"kind": "te')
    store = load(town_path).open_store()
    try:
        with store.transaction() as tx:
            stamp = "2026-01-01T00:00:00.000000Z"
            tx.insert_polecat(Polecat("alder", "app", "idle", None, "run-1", None, stamp, stamp))
            run = Run("run-1", bead, "alder", "app", "scripted", run_branch("alder", bead), "w")
            run.status, run.tokens_in, run.cost_usd = "queued", 1200, 0.25
            run.created_at = stamp
            tx.insert_run(run)
            run.status, run.transcript = SUCCEEDED, str(transcript.relative_to(town_path))
            tx.update_run(run, "queued")
    finally:
        store.close()
    shown = browser.get("/api/agents/alder").json()
    assert shown["run"]["id"] == "run-1" and shown["bead_id"] == bead
    assert [t["text"][-10:] for t in shown["transcript"]][1] == "Writing it"
    assert len(shown["transcript"]) == 3  # the unfinished last line waits for its end
    page = browser.get("/agents/alder").text
    assert "Writing it" in page and "$0.2500" in page and 'data-follow="no"' in page
    stream = browser.get("/api/runs/run-1/transcript/stream?offset=0")
    assert stream.text.count("event: line") == 3 and "event: end" in stream.text
    later = browser.get(f"/api/runs/run-1/transcript/stream?offset={shown['offset']}")
    assert "event: line" not in later.text and "event: end" in later.text
    assert browser.get("/api/runs/run-9/transcript/stream").status_code == 404
    listed = browser.get("/agents").text
    assert "/agents/alder" in listed and "succeeded" in listed


def test_pages_and_their_json_show_what_was_spent_unknown_costs_apart(
    browser: Browser, town_path: Path
) -> None:
    """A bead, its convoy and its agent show tokens and USD with the run of unknown cost
    counted apart (never as $0); the overview charts today's spend among the last 14 days."""
    from datetime import UTC, datetime

    from gastown.model import Polecat, Run, run_branch
    from gastown.services import costs
    from tests.builders import bead, convoy

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    store = load(town_path).open_store()
    try:
        with store.transaction() as tx:
            tx.insert_convoy(convoy("gt-c1"))
            tx.insert_beads([bead("gt-a", rig="app", convoy_id="gt-c1")])
            tx.insert_polecat(Polecat("alder", "app", "idle", None, None, None, now, now))
            tx.insert_polecat(Polecat("birch", "app", "idle", None, None, None, now, now))
            for run_id, polecat, known in (("run-1", "alder", True), ("run-2", "birch", False)):
                run = Run(
                    run_id, "gt-a", polecat, "app", "scripted", run_branch(polecat, "gt-a"), "w"
                )
                run.created_at = run.ended_at = now
                run.status, run.tokens_in, run.tokens_out = "succeeded", 1200, 100
                run.cost_usd, run.cost_known, run.cache_read_tokens = 0.25 * known, known, 300
                tx.insert_run(run)
            costs.record(tx, costs.SpendRow(now, "reviewer", "api", rig="app", bead_id="gt-a"))
    finally:
        store.close()

    spend = browser.get("/api/beads/gt-a/detail").json()["spend"]
    assert (spend["calls"], spend["usd"], spend["unknown"]) == (3, 0.25, 1)
    assert spend["tokens_in"] == 2400 and spend["tokens_cache"] == 600
    said = '$0.2500</strong> known; <span class="unknown-cost">cost unknown for 1 call</span>'
    assert said in browser.get("/beads/gt-a").text
    assert browser.get("/api/convoys/gt-c1").json()["spend"]["unknown"] == 1
    assert said in browser.get("/convoys/gt-c1").text
    birch = browser.get("/api/agents/birch").json()["spend"]
    assert (birch["calls"], birch["usd"], birch["unknown"]) == (1, 0.0, 1)
    page = browser.get("/agents/birch").text
    assert "cost unknown for 1 call" in page and "$0.0000" not in page

    days = browser.get("/api/overview").json()["spend_days"]
    assert len(days) == 14 and days[-1]["key"] == now[:10]
    assert (days[-1]["usd"], days[-1]["calls"], days[-1]["unknown"]) == (0.25, 3, 1)
    assert all(d["calls"] == 0 for d in days[:-1])
    overview = browser.get("/").text
    assert 'class="chart spend-chart"' in overview
    assert f"<title>{now[:10]}: $0.2500 in 3 calls; cost unknown for 1 call</title>" in overview
    assert f"<tr><td>{now[:10]}</td><td>$0.2500</td><td>3</td>" in overview  # the table too
