"""The mayor's plans and calls for help, end to end: `gt mayor ask` against the scripted model
server, acting on a real town.

Given a town with a rig, when the mayor lists the formulas and runs `bugfix` with its variables,
then the convoy with its two beads and their dependency exists; a run missing a variable (or
naming one the formula lacks) comes back to the model as the tool's error sentence, and nothing
is written. When the mayor raises an escalation, a webhook route (a real local HTTP server)
receives it: at once with no town up (the tool sends it, as `gt escalate` does), and from the
town process when the town is up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from gastown.scripted.server import ScriptedModelServer
from tests.builders import call, point_at, serve, until
from tests.builders.hooks import Hook
from tests.conftest import Gt

BUG = "a crash on an empty file"


def tool_results(server: ScriptedModelServer, request: int) -> list[dict[str, Any]]:
    """The tool results the model got with its `request`th request (Anthropic's shape)."""
    content = server.requests[request].body["messages"][-1]["content"]
    return [c for c in content if c["type"] == "tool_result"]


def test_the_mayor_lists_formulas_and_runs_bugfix_into_a_convoy(rig_gt: Gt) -> None:
    server = serve(
        {"tool_calls": [call("list_formulas", rig="app")]},
        {
            "tool_calls": [
                call(
                    "run_formula",
                    name="bugfix",
                    rig="app",
                    vars=[f"bug={BUG}", "details=Run `app` on an empty file: it raises."],
                )
            ]
        },
        {"text": "The bugfix convoy is on its way: a failing test first, then the fix."},
    )
    with server:
        point_at(rig_gt, server)
        got = rig_gt.json("mayor", "ask", f"Fix {BUG} in app, test first")

    assert [(c["name"], c["ok"]) for c in got["tool_calls"]] == [
        ("list_formulas", True),
        ("run_formula", True),
    ]
    (listed,) = tool_results(server, 1)
    formulas = {f["name"]: f for f in json.loads(listed["content"])}
    assert list(formulas) == ["bugfix", "dependency-update", "docs", "feature", "sweep"]
    assert [v["name"] for v in formulas["bugfix"]["vars"]] == ["bug", "details"]
    assert formulas["bugfix"]["source"] == "package"  # shipped with gt

    made = got["tool_calls"][1]["result"]
    assert (made["formula"], made["title"]) == ("bugfix", f"Fix: {BUG}")
    (convoy,) = rig_gt.json("convoy", "list")
    assert convoy["id"] == made["convoy"] and convoy["rig"] == "app"
    shown = rig_gt.json("convoy", "show", convoy["id"])
    ids = {b["title"]: b["id"] for b in shown["beads"]}
    test, fix = ids[f"A failing test for {BUG}"], ids[f"Fix {BUG}"]
    assert len(ids) == 2 and shown["waves"] == [[test], [fix]]
    fixing = rig_gt.json("bead", "show", fix)
    assert fixing["type"] == "bug" and fixing["rig"] == "app"
    assert [d["depends_on_id"] for d in fixing["dependencies"]] == [test]
    assert "Run `app` on an empty file" in rig_gt.json("bead", "show", test)["body"]
    events = rig_gt.json("events", "--kind", "mayor.tool_call")
    assert [e["after"]["name"] for e in events] == ["list_formulas", "run_formula"]


def test_a_run_missing_a_variable_comes_back_as_the_tools_sentence(rig_gt: Gt) -> None:
    server = serve(
        {
            "tool_calls": [
                call("run_formula", name="bugfix", rig="app", vars=["details=It crashes."]),
                call("run_formula", name="bugfix", rig="app", vars=[f"bug={BUG}", "owner=sam"]),
                call("run_formula", name="bugfix", rig="app", vars=["bug"]),
            ]
        },
        {"text": "I need to know what the bug is."},
    )
    with server:
        point_at(rig_gt, server)
        got = rig_gt.json("mayor", "ask", "Run the bugfix formula on app")

    assert [c["ok"] for c in got["tool_calls"]] == [False, False, False]
    results = tool_results(server, 1)
    assert all(r["is_error"] for r in results)
    missing, unknown, shapeless = (r["content"] for r in results)
    assert missing.startswith("Formula bugfix needs --var bug=… (line ")
    assert "`gt formula show bugfix` lists its variables." in missing
    assert unknown == "Formula bugfix has no variable 'owner'; its variables are bug, details."
    assert shapeless == "`run_formula`: each of vars is KEY=VALUE, not 'bug'."
    assert rig_gt.json("convoy", "list") == []
    assert rig_gt.json("bead", "list") == []


@pytest.fixture
def hook(rig_gt: Gt) -> Iterator[Hook]:
    """A chat tool's webhook that the town routes medium escalations and up to."""
    with Hook() as caught:
        routes = [f"medium webhook {caught.url}/hooks/T1"]
        rig_gt.ok("config", "set", "escalation.routes", json.dumps(routes))
        yield caught


def test_the_mayors_escalation_reaches_a_webhook_with_no_town_up(rig_gt: Gt, hook: Hook) -> None:
    bead = rig_gt.json("bead", "create", "Rotate the API keys", "--rig", "app")["id"]
    server = serve(
        {
            "tool_calls": [
                call("escalate", severity="low", text="The nightly build is slow."),
                call("escalate", severity="high", text="The keys leaked; rotate them.", bead=bead),
            ]
        },
        {"text": "I asked a person to rotate the keys."},
    )
    with server:
        point_at(rig_gt, server)
        got = rig_gt.json("mayor", "ask", "The API keys are in a public gist")

    low, high = (c["result"] for c in got["tool_calls"])
    assert low["sent"] == []  # the route takes medium and up
    (sent,) = high["sent"]
    assert sent["ok"] and sent["route"] == f"medium webhook {hook.url}/hooks/T1"
    (body,) = hook.bodies
    assert body["text"] == f"[gastown] HIGH escalation #2 on {bead}: The keys leaked; rotate them."
    assert body["escalation"]["bead_id"] == bead
    shown = rig_gt.json("escalations", "show", "2")
    assert [(s["severity"], s["ok"]) for s in shown["routing"]["sent"]] == [("high", True)]
    raised = rig_gt.json("events", "--kind", "escalation.raised")
    assert [e["actor"] for e in raised] == ["mayor", "mayor"]


@pytest.fixture
def town(rig_gt: Gt, hook: Hook) -> Iterator[Gt]:
    rig_gt.ok("config", "set", "runtime", "scripted")
    rig_gt.ok("config", "set", "refinery.auto", "false")
    yield rig_gt
    rig_gt("down")


def test_the_mayors_escalation_reaches_a_webhook_from_the_running_town(
    town: Gt, hook: Hook
) -> None:
    server = serve(
        {"tool_calls": [call("escalate", severity="critical", text="Production is down.")]},
        {"text": "A person is told."},
    )
    with server:
        point_at(town, server)
        town.ok("up", "-d")
        got = town.json("mayor", "ask", "Production is down")

    (raised,) = got["tool_calls"]
    assert raised["ok"] and raised["result"]["then"].startswith("the town sends it")
    (body,) = until(lambda: hook.bodies, "the town to send the escalation")
    assert body["text"] == "[gastown] CRITICAL escalation #1: Production is down."
    routed = until(lambda: town.json("escalations", "show", "1")["routing"]["sent"], "routing")
    assert [(s["severity"], s["ok"]) for s in routed] == [("critical", True)]
