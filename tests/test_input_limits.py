"""Input that is refused at the edge, alike on the command line and over the API: numbers out
of range (exit 2, HTTP 422), bead titles and bodies past their limits or holding control
characters, settings that would break the refinery or an agent later, and a town.toml
edited by hand with a bad value. Each refusal is one sentence, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gastown.errors import InvalidValue
from gastown.limits import MAX_BODY, printable
from gastown.services import beads, escalations
from gastown.services.ledger import Ledger
from gastown.store import open_store
from gastown.town import load
from gastown.web.api import create_app
from tests.conftest import Gt

TOKEN = "town-token-for-limits"
HUGE = "99999999999999999999999"


def event_count(gt: Gt) -> int:
    return len(gt.json("events", "--limit", "0"))


# --- numbers on the command line ------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["bead", "list", "--limit", HUGE],
        ["bead", "list", "--limit", "-1"],
        ["ready", "--limit", HUGE],
        ["ready", "--limit", "-5"],
        ["blocked", "--limit", HUGE],
        ["events", "--limit", HUGE],
        ["events", "--limit", "ten"],
        ["runs", "--limit", HUGE],
        ["peek", "alder", "-n", "-1"],
        ["feed", "--since", HUGE],
        ["escalation", "ack", HUGE],
        ["escalation", "ack", "0"],
        ["mr", "log", "mr-1", "--gate", "-1"],
        ["up", "--port", "70000"],
        ["scripted-model", "--script", "s.json", "--port", "-1"],
        ["bead", "list", "--limit", "9" * 5000],
    ],
)
def test_numbers_out_of_range_are_usage_errors(rig_gt: Gt, argv: list[str]) -> None:
    """Given a town, when a command gets a number it cannot use, then it exits 2 with one
    sentence naming the option and the range, and writes nothing."""
    events = event_count(rig_gt)
    result = rig_gt(*argv)
    assert result.code == 2, result.err
    first = result.err.splitlines()[0]
    assert "expects a whole number from" in first and len(first) < 200
    assert "Unexpected" not in result.err
    assert event_count(rig_gt) == events


def test_a_limit_of_zero_means_all_on_every_listing(rig_gt: Gt) -> None:
    blocker = rig_gt.json("bead", "create", "Blocker")["id"]
    for n in range(3):
        waiting = rig_gt.json("bead", "create", f"Waiting {n}")["id"]
        rig_gt.ok("dep", "add", waiting, blocker)
    assert len(rig_gt.json("bead", "list", "--limit", "0")) == 4
    assert len(rig_gt.json("bead", "list", "--limit", "2")) == 2
    assert len(rig_gt.json("ready", "--limit", "0")) == 1
    assert len(rig_gt.json("blocked", "--limit", "0")) == 3
    assert len(rig_gt.json("events", "--limit", "0")) > 3


# --- beads: titles and bodies, on every path ------------------------------------------------


def test_bead_titles_and_bodies_past_their_limits_are_refused(rig_gt: Gt, tmp_path: Path) -> None:
    """Given a town, when a bead is made or changed with a body over 64 kB, a title over
    500 characters, or control characters, then the command exits 2 and nothing is kept."""
    bead = rig_gt.json("bead", "create", "Fine")["id"]
    events = event_count(rig_gt)
    big = "x" * (MAX_BODY + 1)
    for argv, said in (
        (["bead", "create", "Big", "-b", big], "A bead body is at most 64 kB; this one is 65 kB"),
        (["bead", "create", "T" * 501], "A bead title is one line of at most 500 characters"),
        (["bead", "create", "Bell\x07"], "cannot hold control characters (U+0007)"),
        (["bead", "create", "T", "-b", "a\x00b"], "other than tabs and line breaks (U+0000)"),
        (["bead", "update", bead, "--body", big], "at most 64 kB"),
        (["bead", "update", bead, "--title", "Esc\x1b[31m"], "control characters (U+001B)"),
        (["sling", "Big", "--rig", "app", "-b", big], "at most 64 kB"),
        (["sling", "Odd", "--rig", "app", "--runtime", "bogus"], "Runtime must be one of"),
        (["bead", "create", "T", "-l", "x" * 101], "A label is at most 100 characters"),
        (["bead", "close", bead, "--reason", "r\x00"], "A reason cannot hold control"),
    ):
        result = rig_gt(*argv)
        assert result.code == 2, (argv[:3], result.err)
        assert said in result.err, result.err
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"title": "Big", "tasks": [{"title": "One", "body": big}]}))
    result = rig_gt("convoy", "create", "--file", str(plan))
    assert result.code == 2 and "task 1: A bead body is at most 64 kB" in result.err
    assert len(rig_gt.json("bead", "list")) == 1 and event_count(rig_gt) == events
    # At the limit, a body with tabs and line breaks is kept as it was given.
    fits = "\tline\r\n" * (MAX_BODY // 8)
    made = rig_gt.json("bead", "create", "Fits", "-b", fits)
    assert made["body"] == fits


# --- settings -------------------------------------------------------------------------------


def test_settings_that_would_break_the_refinery_are_refused(rig_gt: Gt, town_path: Path) -> None:
    before = (town_path / "town.toml").read_text()
    events = event_count(rig_gt)
    for argv, said in (
        (["config", "set", "env_vars.A=B", "v"], "'A=B' cannot name an environment variable"),
        (["config", "set", "env_vars", '{"9X": "v"}'], "'9X' cannot name an environment"),
        (["config", "set", "github.api_url", "api.github.com"], "an http:// or https:// URL"),
        (["config", "set", "model_base_url", "ftp://x"], "an http:// or https:// URL"),
        (["config", "set", "max_polecats_per_rig", HUGE], "an integer from 1 to 256"),
        (["config", "set", "polecat.run_timeout_seconds", "-3"], "an integer from 1 to 604800"),
        (["config", "set", "refinery.batch_size", "1000", "--rig", "app"], "from 1 to 64"),
        (["config", "set", "github.repo", "a/b/c"], "a GitHub repository as owner/name"),
    ):
        result = rig_gt(*argv)
        assert result.code == 2, (argv, result.err)
        assert said in result.err.splitlines()[0]
    assert (town_path / "town.toml").read_text() == before
    assert rig_gt.json("config", "show", "--rig", "app")["refinery.batch_size"]["value"] == 4
    assert event_count(rig_gt) == events


def test_a_town_toml_edited_by_hand_with_a_bad_value_says_where(gt: Gt, town_path: Path) -> None:
    """Given a town.toml whose env_vars someone edited by hand, every command refuses with
    the file, the value and how to fix it, instead of the refinery failing later."""
    toml = town_path / "town.toml"
    toml.write_text(toml.read_text() + '\n[settings.env_vars]\n"A=B" = "v"\n')
    result = gt("ready")
    assert result.code == 2
    assert result.err.splitlines() == [
        f"gt: In {toml}: 'A=B' cannot name an environment variable: use letters, digits and _, "
        "not starting with a digit (e.g. env_vars.API_KEY).",
        f"    Fix or remove it in {toml} (`gt config set` checks values first).",
    ]
    toml.write_text(toml.read_text().replace('"A=B"', "API_KEY"))
    assert gt("ready").code == 0
    kept = toml.read_text()
    for broken, said in (
        ("town = 5\n", "[town] must be a table (name, prefix, db)"),
        (kept + "\n[settings.polecat]\nrun_timeout_seconds = 1e9\n", "an integer from 1 to 604800"),
        ('settings = 3\n[town]\nprefix = "gt"\n', "[settings] must be a table"),
    ):
        toml.write_text(broken)
        result = gt("ready")
        assert result.code == 2 and said in result.err and "Unexpected" not in result.err


# --- the API --------------------------------------------------------------------------------


@pytest.fixture
def api(rig_gt: Gt, town_path: Path) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    app = create_app(load(town_path), TOKEN, "2026-01-01T00:00:00Z", environ={})
    with TestClient(app, headers=headers) as client:
        yield client


def error_of(answer: Any) -> str:
    return str(answer.json()["error"]["message"])


@pytest.mark.parametrize(
    "path",
    [
        f"/api/beads?limit={HUGE}",
        "/api/beads?limit=-1",
        f"/api/ready?limit={HUGE}",
        f"/api/events?limit={HUGE}",
        f"/api/events?after_id={HUGE}",
        "/api/events?after_id=-1",
        f"/api/runs/run-1/transcript/stream?offset={HUGE}",
    ],
)
def test_numbers_out_of_range_are_422_with_a_sentence(api: TestClient, path: str) -> None:
    answer = api.get(path)
    assert answer.status_code == 422
    name = path.rsplit("?", 1)[1].split("=", maxsplit=1)[0]
    assert error_of(answer).startswith(f"The query parameter '{name}' is not valid: ")


def test_the_api_refuses_what_the_cli_refuses(api: TestClient, town_path: Path) -> None:
    town = load(town_path)
    store = town.open_store()
    try:
        escalations.raise_(Ledger(store, prefix=town.prefix), "low", "Look")
    finally:
        store.close()
    ack = api.post(f"/api/escalations/{HUGE}/ack")
    assert ack.status_code == 422
    assert error_of(ack).startswith("The path parameter 'escalation_id' is not valid")
    assert api.post("/api/escalations/1/ack").status_code == 200

    bogus = api.get("/api/beads?status=bogus")
    assert bogus.status_code == 400
    assert error_of(bogus).startswith("Bead status must be one of open, in_progress")

    before = (town_path / "town.toml").read_text()
    for key, value, said in (
        ("env_vars.A=B", "v", "'A=B' cannot name an environment variable"),
        ("github.api_url", "not a url", "an http:// or https:// URL"),
        ("max_polecats_per_rig", HUGE, "an integer from 1 to 256"),
    ):
        answer = api.put("/api/settings", json={"key": key, "value": value})
        assert answer.status_code == 400 and said in error_of(answer)
    assert (town_path / "town.toml").read_text() == before

    big = "x" * (MAX_BODY + 1)
    for body, said in (
        ({"title": "T", "rig": "app", "body": big}, "A bead body is at most 64 kB"),
        ({"title": "Nul\x00", "rig": "app"}, "cannot hold control characters (U+0000)"),
        ({"title": "T" * 501, "rig": "app"}, "at most 500 characters"),
        ({"title": "T", "rig": "app", "runtime": "bogus"}, "Runtime must be one of"),
    ):
        answer = api.post("/api/sling", json=body)
        assert answer.status_code == 400 and said in error_of(answer)
    made = api.post("/api/sling", json={"title": "Fine", "rig": "app"}).json()
    patched = api.patch(f"/api/beads/{made['id']}", json={"body": big})
    assert patched.status_code == 400 and "at most 64 kB" in error_of(patched)
    convoy = api.post(
        "/api/convoys",
        json={"title": "C", "rig": "app", "tasks": [{"key": "a", "title": "A", "body": big}]},
    )
    assert convoy.status_code == 400 and "at most 64 kB" in error_of(convoy)
    assert [b["title"] for b in api.get("/api/beads?limit=0").json()] == ["Fine"]


def test_an_agent_action_with_a_body_that_is_not_an_object_is_refused(api: TestClient) -> None:
    answer = api.post("/api/agents/alder/stop", content=b"[1, 2]")
    assert answer.status_code == 422
    assert error_of(answer).startswith("The body")


# --- what the database cannot keep ---------------------------------------------------------


def test_a_value_the_database_cannot_keep_is_an_input_error(db_url: str, tmp_path: Path) -> None:
    """Given either backend, when a value slips past the edges that neither can keep (text that
    is not Unicode, a NUL for PostgreSQL, a number wider than 64 bits for SQLite), then the
    store refuses it as bad input, not as a crash."""
    store = open_store(db_url, tmp_path)
    try:
        with pytest.raises(InvalidValue, match="must be valid Unicode"), store.reader() as tx:
            tx.get_rig("\ud800")
        if db_url.startswith("postgresql"):
            with pytest.raises(InvalidValue, match="NUL character"), store.reader() as tx:
                tx.get_rig("a\x00b")
        else:
            with pytest.raises(InvalidValue, match="too large to keep"), store.reader() as tx:
                tx.get_escalation(10**30)
        with store.reader() as tx:  # and the store goes on working
            assert tx.get_rig("app") is None
    finally:
        store.close()


def test_what_programs_print_is_made_fit_for_a_bead() -> None:
    """The refinery quotes gate logs and review comments into beads: colour codes are dropped,
    other control characters shown as U+FFFD, and a log past 64 kB cut, so that such a bead
    is never refused."""
    log = "\x1b[31mFAILED\x1b[0m test_x\r\n\tassert 1 == 2\x00\x07\n" * 20_000
    body = beads.body(printable(log))
    assert body.startswith("FAILED test_x\r\n\tassert 1 == 2\ufffd\ufffd\n")
    assert body.endswith(" … (cut)") and len(body.encode()) <= MAX_BODY
    title = beads.title(printable("Gate fails on main: make\ntest\x1b[0m", one_line=True))
    assert title == "Gate fails on main: make test"
