"""Triage by the mayor: new issues nobody labelled for intake are told to the mayor once in
its town notes (no model call until someone talks to it), and its tools read, label, comment
on, accept and close issues; `gt triage` is one turn. Against the fake GitHub and the fake
GitLab, with the scripted model server as the mayor's model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from gastown.scripted.github import FakeGitHub
from gastown.scripted.gitlab import FakeGitLab
from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from gastown.services import triage
from tests.builders import Yard, remote, yard

__all__ = ["remote", "yard"]  # the Yard's fixtures, which pytest finds here by name

TOKEN = "ghs-test"


def call(name: str, /, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def mayor_says(yard: Yard, *replies: dict[str, Any]) -> ScriptedModelServer:
    server = ScriptedModelServer(parse({"replies": list(replies)}, source="mayor script"))
    yard.gt.ok("config", "set", "model_base_url", server.base_url)
    yard.gt.ok("config", "set", "model_api_key", "sk-test-key")
    yard.gt.ok("config", "set", "role_models.mayor", "claude-haiku-4-5")
    return server


@pytest.fixture
def github(yard: Yard) -> Iterator[FakeGitHub]:
    with FakeGitHub({"acme/app": yard.remote}, token=TOKEN) as fake:
        yard.gt.ok("config", "set", "github.repo", "acme/app")
        yard.gt.ok("config", "set", "github.api_url", fake.url)
        yard.gt.ok("config", "set", "github.token", TOKEN)
        yield fake


def seen_events(yard: Yard) -> list[dict[str, Any]]:
    found = yard.gt.json("events", "--limit", "500")
    return [e for e in found if e["kind"] == "forge.issue_seen"]


def look(yard: Yard) -> list[Any]:
    ledger = yard.ledger()
    try:
        return triage.look(ledger, yard.town, {})
    finally:
        ledger.store.close()


def test_new_unlabelled_issues_are_seen_once_and_cost_no_model_call(
    yard: Yard, github: FakeGitHub
) -> None:
    github.open_issue("acme/app", "Crash on start", "Traceback ...", user="dana")
    github.open_issue("acme/app", "Add mul", labels=["gastown"], user="erin")
    server = mayor_says(yard)
    with server:
        first = look(yard)
        again = look(yard)
        assert server.requests == []
    assert [(rig, issue.title) for rig, issue in first] == [("app", "Crash on start")]
    assert again == []
    (event,) = seen_events(yard)
    assert event["after"]["number"] == 1 and event["rig"] == "app"


def test_gt_triage_is_one_turn_that_labels_accepts_and_closes_duplicates(
    yard: Yard, github: FakeGitHub
) -> None:
    crash = github.open_issue("acme/app", "Crash on start", "It crashes.", user="dana")
    again = github.open_issue("acme/app", "Crashes when starting", "Same here.", user="erin")
    vague = github.open_issue("acme/app", "It is slow", user="fay")
    github.add_label("acme/app", "bug")
    server = mayor_says(
        yard,
        {"tool_calls": [call("read_issue", rig="app", number=crash)]},
        {
            "tool_calls": [
                call("label_issue", rig="app", number=crash, labels=["bug"]),
                call("accept_issue", rig="app", number=crash, priority=1),
                call("close_duplicate", rig="app", number=again, original=crash),
                call("comment_issue", rig="app", number=vague, body="Slow doing what?"),
            ]
        },
        {"text": "Accepted #1, closed #2 as its duplicate, asked #3 for details."},
    )
    with server:
        done = yard.gt.json("triage")
    told = server.requests[0].body["messages"][-1]["content"]
    assert told.startswith("[Town notes since your last turn]")
    for number in (crash, again, vague):
        assert f"- New issue #{number} on rig app, unlabelled:" in told
    assert "Triage the new issues" in told
    assert [c["name"] for c in done["tool_calls"]] == [
        "read_issue",
        "label_issue",
        "accept_issue",
        "close_duplicate",
        "comment_issue",
    ]
    read = json.dumps(server.requests[1].body)
    assert "It crashes." in read  # the issue's body came back to the model
    issues = github.issues
    assert "bug" in issues[crash].labels
    assert issues[again].state == "closed"
    assert any(f"#{crash}" in c["body"] for c in github.comments(again))
    assert [c["body"] for c in github.comments(vague)] == ["Slow doing what?"]
    (bead,) = yard.gt.json("bead", "list")
    assert bead["title"] == "Crash on start" and bead["rig"] == "app"
    assert any(bead["id"] in c["body"] for c in github.comments(crash))
    assert len(server.requests) == 3  # one turn: three replies, no more


def test_the_tools_work_on_gitlab_and_refuse_plainly(yard: Yard) -> None:
    with FakeGitLab({"acme/app": yard.remote}, token="glpat-test") as gitlab:
        yard.gt.ok("config", "set", "gitlab.repo", "acme/app")
        yard.gt.ok("config", "set", "gitlab.api_url", gitlab.url)
        yard.gt.ok("config", "set", "gitlab.token", "glpat-test")
        first = gitlab.open_issue("Login fails")
        dup = gitlab.open_issue("Cannot log in")
        server = mayor_says(
            yard,
            {
                "tool_calls": [
                    call("list_issues", rig="app"),
                    call("close_duplicate", rig="app", number=dup, original=first),
                    call("read_issue", rig="app", number=99),
                    call("list_issues", rig="nowhere"),
                ]
            },
            {"text": "Done."},
        )
        with server:
            yard.gt.json("mayor", "ask", "Tidy the issues.")
        results = json.dumps(server.requests[1].body)
        assert gitlab.issues()[dup].state == "closed" and gitlab.issues()[first].state != "closed"
    assert "Login fails" in results and "Cannot log in" in results
    assert "There is no rig 'nowhere'." in results
    assert "glpat" not in results
