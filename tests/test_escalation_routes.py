"""Escalations that reach someone: routes by severity to a webhook, a command and email,
tried again when they fail, and a bump when nobody acknowledges.

Given a town whose `escalation.routes` send medium and up to a real local HTTP server and high
and up to a command, when a person raises a medium escalation with no town up, then the webhook
gets it at once; when it is left unacknowledged past `escalation.bump_after_minutes` (a fake
clock), then it goes up to high and both routes get it again. Email goes to a real SMTP server
(`scripted.smtp`); one that refuses is recorded as a failure after its tries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gastown import config
from gastown.clock import FakeClock
from gastown.mayor.notes import note
from gastown.model import Event
from gastown.scripted.smtp import FakeSmtp
from gastown.services import escalations
from gastown.services.ledger import Ledger
from gastown.services.routing import Router
from gastown.town import load
from tests.builders.hooks import Hook
from tests.conftest import Gt


async def no_wait(_: float) -> None:
    """The retries' backoff, without the waiting."""


@contextlib.contextmanager
def router(town: Path, clock: FakeClock) -> Iterator[Router]:
    """The town process's router over the town's store, with a fake clock and no waiting."""
    ledger = Ledger(load(town).open_store(), prefix="gt", actor="town", clock=clock)
    try:
        yield Router(
            ledger, lambda: config.resolve(load(town).settings).values, clock, sleep=no_wait
        )
    finally:
        ledger.store.close()


@pytest.fixture
def pg_town(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "town"
    assert Gt(tmp_path)("init", str(path), "--db", db_url).code == 0
    return path


def test_a_webhook_gets_an_escalation_and_its_bump(pg_town: Path, tmp_path: Path) -> None:
    gt = Gt(pg_town)
    caught = tmp_path / "caught.json"
    command = f"{sys.executable} -c {shlex.quote(_KEEP_STDIN.format(str(caught)))}"
    with Hook() as hook:
        gt.ok(
            "config",
            "set",
            "escalation.routes",
            json.dumps([f"medium webhook {hook.url}/hooks/T1", f"high command {command}"]),
        )
        said = gt.ok("escalate", "--severity", "medium", "The staging database is full")
        assert "Raised escalation 1 (medium); sent along 1 route." in said.out
        (first,) = hook.bodies
        assert first["text"] == "[gastown] MEDIUM escalation #1: The staging database is full"
        assert first["escalation"]["id"] == 1 and first["bumped_from"] is None
        assert not caught.exists()  # the command takes high and up

        clock = FakeClock(datetime.now(UTC))
        with router(pg_town, clock) as town_router:
            assert asyncio.run(town_router.pass_()) == []  # nothing new, nothing due
            clock.advance(241 * 60)
            ((bumped, sent),) = asyncio.run(town_router.pass_())
            assert bumped.severity == "high" and [s.ok for s in sent] == [True, True]
            assert asyncio.run(town_router.pass_()) == []  # told once per severity
        assert hook.bodies[1]["text"].startswith("[gastown] HIGH escalation #1 (raised medium")
        assert json.loads(caught.read_text())["escalation"]["severity"] == "high"

    shown = gt.json("escalations", "show", "1")
    assert shown["severity"] == "high" and shown["routing"]["severity"] == "high"
    assert [(s["severity"], s["ok"]) for s in shown["routing"]["sent"]] == [
        ("medium", True),
        ("high", True),
        ("high", True),
    ]
    kinds = [e["kind"] for e in gt.json("events", "--limit", "0")]
    assert kinds.count("escalation.routed") == 3 and kinds.count("escalation.bumped") == 1
    gt.ok("escalation", "ack", "1")
    clock.advance(10_000 * 60)
    with router(pg_town, clock) as town_router:
        assert asyncio.run(town_router.pass_()) == []  # acknowledged: nobody is told again


_KEEP_STDIN = "import sys, pathlib; pathlib.Path({0!r}).write_text(sys.stdin.read())"


def test_a_failing_route_is_tried_again_then_recorded(gt: Gt, town_path: Path) -> None:
    with Hook(status=503) as hook:
        gt.ok("config", "set", "escalation.routes", json.dumps([f"low webhook {hook.url}"]))
        gt.ok("config", "set", "escalation.bump_after_minutes", "30")
        with router(town_path, FakeClock()) as town_router:
            escalations.raise_about(town_router.ledger, "low", "Disk at 91%")
            ((_, (sent,)),) = asyncio.run(town_router.pass_())
        assert len(hook.bodies) == 3  # bounded: three tries, then it is recorded
    assert not sent.ok and sent.error == "the webhook answered HTTP 503 Service Unavailable"
    shown = gt.ok("escalations", "show", "1").out
    assert "FAILED" in shown and "HTTP 503" in shown
    failed = [
        e for e in gt.json("events", "--limit", "0") if e["kind"] == "escalation.route_failed"
    ]
    assert failed[0]["reason"] == sent.error and failed[0]["after"]["attempts"] == 3


def test_a_command_route_that_exits_non_zero_says_so(gt: Gt, town_path: Path) -> None:
    failing = f"{sys.executable} -c " + shlex.quote("import sys; sys.exit('no pager today')")
    gt.ok("config", "set", "escalation.routes", json.dumps([f"low command {failing}"]))
    with router(town_path, FakeClock()) as town_router:
        escalations.raise_about(town_router.ledger, "high", "Builds are red")
        ((_, (sent,)),) = asyncio.run(town_router.pass_())
    assert not sent.ok and sent.attempts == 3
    assert sent.error is not None and sent.error.endswith("exited 1: no pager today")


def test_email_goes_through_smtp_and_a_refusing_server_is_recorded(gt: Gt, town_path: Path) -> None:
    gt.ok("config", "set", "escalation.routes", '["critical email"]')
    gt.ok("config", "set", "smtp.from", "town@example.com")
    gt.ok("config", "set", "smtp.to", '["oncall@example.com"]')
    gt.ok("config", "set", "smtp.host", "127.0.0.1")
    with FakeSmtp(login=("town", "hunter2")) as smtp:
        gt.ok("config", "set", "smtp.port", str(smtp.port))
        gt.ok("config", "set", "smtp.user", "town")
        gt.ok("config", "set", "smtp.password", "hunter2")
        said = gt.ok("escalate", "--severity", "critical", "Production is down")
        assert "sent along 1 route" in said.out
        ((sender, to, body),) = smtp.messages
    assert sender == "town@example.com" and to == ["oncall@example.com"]
    assert b"Subject: [gastown] critical escalation #1" in body
    assert b"Production is down" in body
    assert "hunter2" not in (town_path / "town.toml").read_text()  # kept in secrets.toml

    with FakeSmtp(refuse=True) as refusing:
        gt.ok("config", "set", "smtp.port", str(refusing.port))
        gt.ok("config", "unset", "smtp.user")
        said = gt.ok("escalate", "--severity", "critical", "Still down")
        assert refusing.messages == []
    assert "sent along 0 routes." in said.out
    assert "critical email: failed after 3 tries: the SMTP server refused: 554" in said.out


def test_bad_routes_and_severities_are_refused(gt: Gt, town_path: Path) -> None:
    before = (town_path / "town.toml").read_text()
    not_url = gt("config", "set", "escalation.routes", '["high webhook hooks.slack.com/x"]')
    assert not_url.code == 2
    assert "needs an http:// or https:// URL with a host, and 'hooks.slack.com/x'" in not_url.err
    wrong = gt("config", "set", "escalation.routes", '["urgent email"]')
    assert wrong.code == 2 and "must start with a severity (low, medium" in wrong.err
    by = gt("config", "set", "escalation.routes", '["low pigeon coop"]')
    assert by.code == 2 and "goes by webhook, command or email, not 'pigeon'" in by.err
    assert (town_path / "town.toml").read_text() == before
    unknown = gt("escalate", "--severity", "urgent", "help")
    assert unknown.code == 2 and "urgent" in unknown.err
    no_bead = gt("escalate", "--severity", "low", "help", "--bead", "gt-nope")
    assert no_bead.code == 1 and "There is no bead 'gt-nope'" in no_bead.err
    assert gt.json("escalations", "--all") == []


def test_a_held_bead_is_told_to_the_mayor_as_a_note() -> None:
    held = Event(
        id=7,
        at="2026-01-01T00:00:00Z",
        kind="bead.updated",
        actor="town",
        bead_id="gt-abc",
        after={"held": True},
        reason="the run timed out three times",
    )
    told = note(held)
    assert told == "- Bead gt-abc held: consider splitting it: the run timed out three times"
