"""The mayor, end to end: `gt mayor ask` against the scripted model server, through the real
Anthropic and OpenAI SDKs over real HTTP, acting on a real town."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gastown.scripted.server import ScriptedModelServer
from tests.builders import call, mayor_of, point_at, serve
from tests.conftest import Gt

SECRET = "sk-live-0123456789abcdef"


def bodies(server: ScriptedModelServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests]


def test_a_clear_request_becomes_a_convoy_with_the_right_dependencies(rig_gt: Gt) -> None:
    request = (
        "Create a convoy to add a --verbose flag, tests for it, and docs, "
        "with the tests after the flag"
    )
    server = serve(
        {
            "tool_calls": [
                call(
                    "sling_batch",
                    title="Verbose mode",
                    rig="app",
                    tasks=[
                        {"key": "flag", "title": "Add a --verbose flag"},
                        {"key": "tests", "title": "Tests for --verbose", "depends_on": ["flag"]},
                        {"key": "docs", "title": "Document --verbose", "depends_on": ["flag"]},
                    ],
                )
            ],
            "usage": {"input_tokens": 900, "output_tokens": 80},
        },
        {"text": "Convoy created: the flag first, then its tests and docs."},
    )
    with server:
        point_at(rig_gt, server)
        got = rig_gt.json("mayor", "ask", request)

    assert got["reply"] == "Convoy created: the flag first, then its tests and docs."
    (made,) = got["tool_calls"]
    assert (made["name"], made["ok"]) == ("sling_batch", True)
    ids = {b["key"]: b["id"] for b in made["result"]["beads"]}

    (convoy,) = rig_gt.json("convoy", "list")
    shown = rig_gt.json("convoy", "show", convoy["id"])
    assert sorted(b["title"] for b in shown["beads"]) == [
        "Add a --verbose flag",
        "Document --verbose",
        "Tests for --verbose",
    ]
    assert [sorted(w) for w in shown["waves"]] == [
        [ids["flag"]],
        sorted([ids["tests"], ids["docs"]]),
    ]
    tests = rig_gt.json("bead", "show", ids["tests"])
    assert [d["depends_on_id"] for d in tests["dependencies"]] == [ids["flag"]]

    first = server.requests[0].body
    assert first["messages"] == [{"role": "user", "content": request}]
    assert "sling_batch" in [t["name"] for t in first["tools"]]
    assert "never edit code" in first["system"].lower()
    events = rig_gt.json("events", "--kind", "mayor.tool_call")
    assert [e["after"]["name"] for e in events] == ["sling_batch"]
    assert events[0]["actor"] == "mayor"


def test_independent_tasks_are_refused_unless_marked_parallel(rig_gt: Gt) -> None:
    tasks = [{"key": "a", "title": "Remove dead code"}, {"key": "b", "title": "Fix typos"}]
    server = serve(
        {"tool_calls": [call("sling_batch", title="Cleanups", rig="app", tasks=tasks)]},
        {
            "tool_calls": [
                call("sling_batch", title="Cleanups", rig="app", tasks=tasks, parallel=True)
            ]
        },
        {"text": "Two independent cleanups are on their way."},
    )
    with server:
        point_at(rig_gt, server)
        got = rig_gt.json("mayor", "ask", "Remove dead code and fix typos, in parallel")

    assert [c["ok"] for c in got["tool_calls"]] == [False, True]
    assert "parallel" in got["tool_calls"][0]["result"]
    assert len(rig_gt.json("convoy", "list")) == 1


def test_whats_stuck_calls_town_status_and_answers_from_it(rig_gt: Gt) -> None:
    bead = rig_gt.json("bead", "create", "Fix the login redirect", "--rig", "app")["id"]
    rig_gt.ok("bead", "update", bead, "--status", "in_progress")
    rig_gt.ok("bead", "update", bead, "--status", "failed")
    server = serve(
        {"tool_calls": [call("town_status")]},
        {"text": f"One bead is stuck: {bead} failed."},
    )
    with server:
        point_at(rig_gt, server)
        done = rig_gt.ok("mayor", "ask", "what's stuck?")

    assert done.out.strip() == f"One bead is stuck: {bead} failed."
    (result,) = server.requests[1].body["messages"][-1]["content"]
    assert result["type"] == "tool_result" and not result["is_error"]
    status = json.loads(result["content"])
    assert status["beads"]["failed"] == 1
    assert status["failed_beads"] == [{"id": bead, "title": "Fix the login redirect"}]
    assert (status["ready"], status["blocked"]) == (0, 0)


def test_why_isnt_it_moving_calls_list_blocked(rig_gt: Gt) -> None:
    gate = rig_gt.json("bead", "create", "Pick a database", "--rig", "app")["id"]
    waiting = rig_gt.json("bead", "create", "Write the migrations", "--rig", "app")["id"]
    rig_gt.ok("dep", "add", waiting, gate)
    server = serve(
        {"tool_calls": [call("list_blocked", rig="app")]},
        {"text": f"{waiting} waits on {gate}."},
    )
    with server:
        point_at(rig_gt, server)
        done = rig_gt.ok("mayor", "ask", "why isn't the migrations work moving?")

    assert done.out.strip() == f"{waiting} waits on {gate}."
    (result,) = server.requests[1].body["messages"][-1]["content"]
    assert result["type"] == "tool_result" and not result["is_error"]
    assert json.loads(result["content"]) == [
        {
            "id": waiting,
            "title": "Write the migrations",
            "status": "open",
            "rig": "app",
            "waiting_on": [{"id": gate, "status": "open"}],
            "open_children": [],
            "under": None,
        }
    ]


def test_bad_tool_calls_come_back_as_errors_and_the_turn_goes_on(rig_gt: Gt) -> None:
    server = serve(
        {
            "tool_calls": [
                call("show_bead"),
                call("show_bead", id="gt-nope"),
                call("update_bead", id="gt-nope", priority="high"),
                call("set_setting", key="max_polecats_per_rig", value="lots"),
                call("launch_rockets"),
            ]
        },
        {"text": "Those did not work; nothing was changed."},
    )
    with server:
        point_at(rig_gt, server)
        done = rig_gt.ok("mayor", "ask", "poke around")

    assert done.out.strip() == "Those did not work; nothing was changed."
    results = server.requests[1].body["messages"][-1]["content"]
    assert [r["is_error"] for r in results] == [True] * 5
    texts = [r["content"] for r in results]
    assert "needs the argument `id`" in texts[0]
    assert "There is no bead 'gt-nope'." in texts[1]
    assert "`priority` must be a integer" in texts[2]
    assert "max_polecats_per_rig" in texts[3]
    assert "There is no tool `launch_rockets`" in texts[4]
    assert rig_gt.json("config", "get", "max_polecats_per_rig")["value"] == 4


def test_secrets_never_reach_the_model(rig_gt: Gt) -> None:
    rig_gt.ok("config", "set", "env_vars.DEPLOY_TOKEN", SECRET)
    server = serve(
        {
            "tool_calls": [
                call("get_setting", key="env_vars"),
                call("sling", title=f"Rotate {SECRET}", rig="app"),
            ]
        },
        {"text": "Done."},
    )
    with server:
        point_at(rig_gt, server)
        rig_gt.ok("mayor", "ask", f"Use the token {SECRET} to deploy")

    assert len(server.requests) == 2
    for body in bodies(server):
        assert SECRET not in json.dumps(body)
        assert "sk-test-key" not in json.dumps(body)
    shown = json.loads(server.requests[1].body["messages"][-1]["content"][0]["content"])
    assert shown["value"] == {"DEPLOY_TOKEN": "••••••"}


def test_cached_input_is_priced_at_the_cache_rate(rig_gt: Gt) -> None:
    """A reply that read most of its prompt from the cache costs the cache's rate for that
    part (claude-haiku-4-5: $1 a million input tokens, $0.10 cached, $5 output)."""
    usage = {"input_tokens": 100, "cache_read_tokens": 900, "output_tokens": 10}
    with serve({"text": "Cheap, thanks to the cache.", "usage": usage}) as server:
        point_at(rig_gt, server)
        got = rig_gt.json("mayor", "ask", "How much was that?")
    want = (100 * 1.0 + 900 * 0.1 + 10 * 5.0) / 1_000_000
    assert got["usage"]["input_tokens"] == 1000
    assert got["usage"]["cost_usd"] == pytest.approx(want)
    (mayor,) = rig_gt.json("costs", "--by", "agent")["rows"]
    assert (mayor["tokens_in"], mayor["tokens_cache"]) == (1000, 900)
    assert mayor["usd"] == pytest.approx(want)


def test_the_conversation_persists_across_processes_and_usage_adds_up(rig_gt: Gt) -> None:
    server = serve(
        {
            "text": "Noted: the app rig is yours.",
            "usage": {"input_tokens": 100, "output_tokens": 7},
        },
        {"tool_calls": [call("list_beads")], "usage": {"input_tokens": 150, "output_tokens": 9}},
        {"text": "No beads yet.", "usage": {"input_tokens": 200, "output_tokens": 5}},
    )
    with server:
        point_at(rig_gt, server)
        first = rig_gt.json("mayor", "ask", "I own the app rig.")
        second = rig_gt.json("mayor", "ask", "Any beads?")

    assert first["usage"]["input_tokens"] == 100
    assert second["usage"] == {
        "input_tokens": 350,
        "output_tokens": 14,
        "cost_usd": pytest.approx((350 * 1.0 + 14 * 5.0) / 1_000_000),
    }
    later = server.requests[1].body["messages"]
    assert later[:3] == [
        {"role": "user", "content": "I own the app rig."},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Noted: the app rig is yours."}],
        },
        {"role": "user", "content": "Any beads?"},
    ]
    usage = rig_gt.json("mayor", "usage")
    assert (usage["input_tokens"], usage["output_tokens"]) == (450, 21)
    assert usage["messages"] == 6  # two questions, three replies, one tool result
    assert usage["summaries"] == 0
    assert usage["cost_usd"] == pytest.approx((450 * 1.0 + 21 * 5.0) / 1_000_000, abs=1e-6)
    (mayor,) = rig_gt.json("costs", "--by", "agent")["rows"]  # gt costs counts it as the mayor
    assert (mayor["key"], mayor["calls"], mayor["tokens_in"]) == ("mayor", 3, 450)
    assert mayor["usd"] == pytest.approx(usage["cost_usd"], abs=1e-6)


def test_older_turns_are_summarised_out_of_the_prompt_but_stay_in_the_record(
    rig_gt: Gt,
) -> None:
    from gastown.mayor.context import INSTRUCTIONS, Budget

    asking = "The conversation to add to it"
    server = serve(
        {
            "match": asking,
            "text": "The user asked questions 0 and 1.",
            "usage": {"input_tokens": 50, "output_tokens": 9},
        },
        {
            "match": asking,
            "text": "The user asked questions 0 to 3.",
            "usage": {"input_tokens": 60, "output_tokens": 9},
        },
        *[
            {"text": f"Reply {i}.", "usage": {"input_tokens": 10, "output_tokens": 2}}
            for i in range(6)
        ],
    )
    with server:
        point_at(rig_gt, server)
        mayor, store = mayor_of(rig_gt)
        try:
            mayor.budget = Budget(messages=4, chars=100_000)
            results = [mayor.ask(f"Question {i}") for i in range(6)]
            with store.reader() as tx:
                record = tx.mayor_messages()
        finally:
            mayor.close()
            store.close()

    def users(body: dict[str, Any]) -> list[str]:
        return [m["content"] for m in body["messages"] if isinstance(m["content"], str)]

    bodies_ = bodies(server)
    # Turns 0-2 fit the budget of 4 earlier messages; turn 3 finds 6 and summarises the
    # oldest 4 (down to half the budget) in one model call before its own request.
    assert [users(b) for b in bodies_[:3]] == [
        ["Question 0"],
        ["Question 0", "Question 1"],
        ["Question 0", "Question 1", "Question 2"],
    ]
    first_summary = bodies_[3]
    assert first_summary["system"] == INSTRUCTIONS and "tools" not in first_summary
    (asked,) = first_summary["messages"]
    assert (
        "User: Question 0\nMayor: Reply 0.\nUser: Question 1\nMayor: Reply 1." in asked["content"]
    )
    assert "Question 2" not in asked["content"] and "summary so far" not in asked["content"]
    assert bodies_[4]["system"].endswith("\nThe user asked questions 0 and 1.\n")
    assert users(bodies_[4]) == ["Question 2", "Question 3"]
    # Turn 4 still fits after the summary: it is reused, not made again.
    assert bodies_[5]["system"] == bodies_[4]["system"]
    assert users(bodies_[5]) == ["Question 2", "Question 3", "Question 4"]
    # Turn 5 overflows again: the next summary builds on the one before.
    (asked,) = bodies_[6]["messages"]
    assert asked["content"].startswith("The summary so far:\nThe user asked questions 0 and 1.")
    assert "User: Question 2" in asked["content"] and "User: Question 3" in asked["content"]
    assert bodies_[7]["system"].endswith("\nThe user asked questions 0 to 3.\n")
    assert users(bodies_[7]) == ["Question 4", "Question 5"]
    assert len(bodies_) == 8
    assert [r.reply for r in results] == [f"Reply {i}." for i in range(6)]
    assert results[3].input_tokens == 50 + 10 and results[4].input_tokens == 10

    # The record holds the whole conversation, in order; the summaries are kept beside it.
    assert [(m.role, m.content) for m in record] == [
        pair
        for i in range(6)
        for pair in (
            ("user", f"Question {i}"),
            ("assistant", [{"type": "text", "text": f"Reply {i}."}]),
        )
    ]
    usage = rig_gt.json("mayor", "usage")
    assert (usage["messages"], usage["summaries"]) == (12, 2)
    assert usage["input_tokens"] == 6 * 10 + 50 + 60


def test_one_huge_turn_is_summarised_by_its_size(rig_gt: Gt) -> None:
    from gastown.mayor.context import Budget

    server = serve(
        {"text": "Here is a long answer. " + "x" * 3000},
        {"match": "The conversation to add to it", "text": "A long answer was given."},
        {"text": "Short."},
    )
    with server:
        point_at(rig_gt, server)
        mayor, store = mayor_of(rig_gt)
        try:
            mayor.budget = Budget(messages=40, chars=2000)
            mayor.ask("Tell me everything")
            mayor.ask("Now briefly")
        finally:
            mayor.close()
            store.close()

    summary_request, last = bodies(server)[1:]
    assert "Mayor: Here is a long answer." in summary_request["messages"][0]["content"]
    assert len(summary_request["messages"][0]["content"]) < 2000  # each part is cut
    assert last["messages"] == [{"role": "user", "content": "Now briefly"}]
    assert "A long answer was given." in last["system"]


def test_an_openai_compatible_server_summarises_too(rig_gt: Gt) -> None:
    from gastown.mayor.context import Budget

    server = serve(
        {"match": "The conversation to add to it", "text": "Two greetings so far."},
        *[{"text": f"Hello {i}."} for i in range(3)],
    )
    with server:
        rig_gt.ok("config", "set", "model_base_url", server.openai_base_url)
        rig_gt.ok("config", "set", "role_models.mayor", "gpt-5-mini")
        mayor, store = mayor_of(rig_gt)
        try:
            mayor.budget = Budget(messages=2, chars=100_000)
            for i in range(3):
                mayor.ask(f"Hi {i}")
        finally:
            mayor.close()
            store.close()

    summary, last = bodies(server)[2:]
    assert "tools" not in summary
    assert "User: Hi 0" in summary["messages"][-1]["content"]
    assert last["messages"][0]["role"] == "system"
    assert last["messages"][0]["content"].endswith("\nTwo greetings so far.\n")
    # Half of a budget of 2 holds no whole turn: all earlier turns are in the summary.
    assert [m["content"] for m in last["messages"][1:]] == ["Hi 2"]
    assert "User: Hi 1\nMayor: Hello 1." in summary["messages"][-1]["content"]


def test_an_openai_compatible_server_works_too(rig_gt: Gt) -> None:
    server = serve(
        {"tool_calls": [call("sling", title="Fix the login redirect", rig="app")]},
        {"text": "Slung."},
    )
    with server:
        rig_gt.ok("config", "set", "model_base_url", server.openai_base_url)
        rig_gt.ok("config", "set", "role_models.mayor", "gpt-5-mini")
        got = rig_gt.json("mayor", "ask", "Fix the login redirect on app")

    assert got["reply"] == "Slung."
    assert server.requests[0].api == "chat"
    tool_message = server.requests[1].body["messages"][-1]
    assert tool_message["role"] == "tool"
    (bead,) = rig_gt.json("bead", "list")
    assert bead["title"] == "Fix the login redirect"


def test_an_unreachable_model_is_one_plain_error(rig_gt: Gt) -> None:
    rig_gt.ok("config", "set", "model_base_url", "http://127.0.0.1:9")
    rig_gt.ok("config", "set", "model_api_key", "sk-test-key")
    rig_gt.ok("config", "set", "role_models.mayor", "claude-haiku-4-5")
    done = rig_gt("mayor", "ask", "hello")
    assert done.code == 1
    assert done.err.startswith("gt: The mayor's model API failed")


def test_the_step_limit_ends_a_turn_that_never_stops_calling_tools(rig_gt: Gt) -> None:
    server = serve({"tool_calls": [call("town_status")], "repeat": True})
    with server:
        point_at(rig_gt, server)
        mayor, store = mayor_of(rig_gt)
        try:
            mayor.max_steps = 3
            result = mayor.ask("Loop forever")
        finally:
            mayor.close()
            store.close()

    assert result.stopped and len(server.requests) == 3
    assert result.reply == "(The mayor stopped after 3 steps of tool calls.)"


def test_a_tool_call_left_without_results_by_a_crash_is_not_sent_again(rig_gt: Gt) -> None:
    from gastown.store.mayor import MayorMessage

    server = serve({"text": "Back again."})
    with server:
        point_at(rig_gt, server)
        mayor, store = mayor_of(rig_gt)
        try:
            with store.transaction() as tx:
                tx.insert_mayor_message(MayorMessage(0, "user", "Sling it", created_at="t"))
                cut = [
                    {"type": "text", "text": "Slinging."},
                    {"type": "tool_use", "id": "t1", "name": "town_status", "input": {}},
                ]
                tx.insert_mayor_message(MayorMessage(0, "assistant", cut, created_at="t"))
            mayor.ask("Are you there?")
        finally:
            mayor.close()
            store.close()

    assert server.requests[0].body["messages"] == [
        {"role": "user", "content": "Sling it"},
        {"role": "assistant", "content": [{"type": "text", "text": "Slinging."}]},
        {"role": "user", "content": "Are you there?"},
    ]


def test_settings_and_beads_change_through_the_services(rig_gt: Gt) -> None:
    bead = rig_gt.json("bead", "create", "Old title", "--rig", "app")["id"]
    server = serve(
        {
            "tool_calls": [
                call("set_setting", key="max_polecats_per_rig", value="6"),
                call("update_bead", id=bead, title="New title", priority=1),
                call("show_bead", id=bead),
                call("close_bead", id=bead, reason="not needed"),
                call("list_beads", status="closed"),
                call("list_agents"),
            ]
        },
        {"text": "The limit is 6 and the bead is closed."},
    )
    with server:
        point_at(rig_gt, server)
        got = rig_gt.json("mayor", "ask", "raise the polecat limit to 6 and close that bead")

    assert [c["ok"] for c in got["tool_calls"]] == [True] * 6
    assert rig_gt.json("config", "get", "max_polecats_per_rig")["value"] == 6
    shown = rig_gt.json("bead", "show", bead)
    assert (shown["title"], shown["priority"], shown["status"]) == ("New title", 1, "closed")
    listed = got["tool_calls"][4]["result"]
    assert [b["id"] for b in listed] == [bead]
    assert got["tool_calls"][5]["result"] == []
    kinds = [e["kind"] for e in rig_gt.json("events", "--bead", bead)]
    assert "bead.closed" in kinds


def test_a_mayor_without_a_model_says_so(rig_gt: Gt) -> None:
    result = rig_gt("mayor", "ask", "hello")
    assert result.code == 1
    assert "The mayor needs a model: no API key is set." in result.err


def test_what_happened_while_idle_is_told_once_at_the_next_turn(rig_gt: Gt) -> None:
    from gastown.services import escalations
    from gastown.services.ledger import Ledger
    from gastown.town import find

    bead = rig_gt.json("bead", "create", "Fix the login redirect", "--rig", "app")["id"]
    rig_gt.ok("bead", "update", bead, "--status", "in_progress")
    rig_gt.ok("bead", "update", bead, "--status", "failed", "--reason", "tests kept failing")
    convoy = rig_gt.json("convoy", "create", "Docs", "--task", "Write docs", "--staged")["id"]
    rig_gt.ok("convoy", "close", convoy, "--force", "--reason", "dropped")
    done = rig_gt.json("convoy", "create", "Typos", "--task", "Fix typos")
    rig_gt.ok("bead", "close", done["beads"][0]["id"])
    town = find(str(rig_gt.cwd), {}, rig_gt.cwd)
    store = town.open_store()
    try:
        ledger = Ledger(store, town.prefix, "gt")
        escalations.raise_(ledger, "high", "Needs a database password", bead_id=bead)
        with store.transaction() as tx:  # as the reconciler's circuit breaker records it
            tx.append_events([ledger.event("dispatch.paused", reason="5 runs failed in a row")])
    finally:
        store.close()
    server = serve({"text": "Seen: one failure, one escalation."}, {"text": "All quiet."})
    with server:
        point_at(rig_gt, server)
        first = rig_gt.json("mayor", "ask", "Anything new?")
        second = rig_gt.json("mayor", "ask", "And now?")

    told = server.requests[0].body["messages"][-1]["content"]
    assert told.startswith("[Town notes since your last turn]")
    assert f"- Bead {bead} failed: tests kept failing" in told
    assert f"raised, high (bead {bead}): Needs a database password" in told
    assert f"- Convoy {convoy} was cancelled before its work landed: dropped" in told
    assert f"- Convoy {done['id']} landed: 1/1 beads closed" in told
    assert "- The circuit breaker paused dispatch: 5 runs failed in a row" in told
    assert told.endswith("\n\nAnything new?")
    assert first["notes"] and told.startswith(first["notes"])
    assert server.requests[1].body["messages"][-1]["content"] == "And now?"
    assert second["notes"] == ""


def test_convoys_escalations_and_agents_are_steered_through_the_services(rig_gt: Gt) -> None:
    from gastown.services import escalations
    from gastown.services.ledger import Ledger
    from gastown.town import find

    done = rig_gt.json("bead", "create", "Old work", "--rig", "app")["id"]
    rig_gt.ok("bead", "close", done)
    extra = rig_gt.json("bead", "create", "Extra docs", "--rig", "app")["id"]
    town = find(str(rig_gt.cwd), {}, rig_gt.cwd)
    store = town.open_store()
    try:
        raised = escalations.raise_(Ledger(store, town.prefix, "gt"), "low", "Flaky CI")
    finally:
        store.close()
    tasks = [{"key": "a", "title": "Add it"}, {"key": "b", "title": "Test it", "depends_on": ["a"]}]
    staging = serve(
        {"tool_calls": [call("sling_batch", title="Staged", rig="app", tasks=tasks, staged=True)]},
        {"text": "Staged."},
    )
    with staging:
        point_at(rig_gt, staging)
        convoy = rig_gt.json("mayor", "ask", "Stage a convoy")["tool_calls"][0]["result"]["convoy"]
    server = serve(
        {
            "tool_calls": [
                call("list_convoys"),
                call("convoy_add", id=convoy, beads=[extra]),
                call("convoy_remove", id=convoy, beads=[extra]),
                call("convoy_start", id=convoy),
                call("convoy_start", id=convoy),
                call("reopen_bead", id=done, reason="not really done"),
                call("list_escalations"),
                call("ack_escalation", id=raised.id),
                call("list_runs"),
                call("run_transcript", run="run-nope"),
                call("nudge_agent", name="nobody", text="hurry up"),
            ]
        },
        {"text": "Started the convoy, reopened the bead, acknowledged the escalation."},
    )
    with server:
        point_at(rig_gt, server)
        got = rig_gt.json("mayor", "ask", "Start it, reopen that bead, clear the escalation")

    calls = got["tool_calls"]
    assert [(c["id"], c["staged"]) for c in calls[0]["result"]] == [(convoy, True)]
    assert [(c["name"], c["ok"]) for c in calls[1:]] == [
        ("convoy_add", True),
        ("convoy_remove", True),
        ("convoy_start", True),
        ("convoy_start", False),
        ("reopen_bead", True),
        ("list_escalations", True),
        ("ack_escalation", True),
        ("list_runs", True),
        ("run_transcript", False),
        ("nudge_agent", False),
    ]
    results = {c["name"]: c["result"] for c in calls}
    assert results["list_escalations"][0]["message"] == "Flaky CI"
    assert "There is no polecat or run 'run-nope'." in results["run_transcript"]
    assert "The town is not running" in results["nudge_agent"]  # nudges go through it
    assert rig_gt.json("convoy", "show", convoy)["staged"] is False
    assert rig_gt.json("bead", "show", done)["status"] == "open"
    assert rig_gt.json("escalations") == []


def test_gt_mayor_chats_line_by_line_and_remembers_earlier_turns(rig_gt: Gt) -> None:
    import subprocess
    import sys

    server = serve(
        {"text": "Hello! The app rig is quiet."},
        {"tool_calls": [call("list_beads")]},
        {"text": "Still no beads, as I said."},
    )
    with server:
        rig_gt.ok("config", "set", "model_base_url", server.base_url)
        rig_gt.ok("config", "set", "model_api_key", "sk-test-key")
        rig_gt.ok("config", "set", "default_model", "claude-haiku-4-5")
        done = subprocess.run(
            [sys.executable, "-m", "gastown", "mayor"],
            check=False,
            cwd=rig_gt.cwd,
            input="Hello\nAny beads?\n/exit\nnever read\n",
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "you> mayor> Hello! The app rig is quiet.\nyou> mayor> Still no beads, as I said.\nyou> "
    )
    assert all(r.body.get("stream") for r in server.requests)
    assert [m["content"] for m in server.requests[2].body["messages"] if m["role"] == "user"][
        :2
    ] == ["Hello", "Any beads?"]
    assert len(server.requests) == 3
    assert rig_gt.json("mayor", "usage")["messages"] == 6


def test_the_town_api_asks_the_mayor_and_the_conversation_survives_a_restart(
    rig_gt: Gt,
) -> None:
    import urllib.error
    import urllib.request

    def post(text: str, token: str | None = None) -> tuple[int, Any]:
        address = rig_gt.json("status")
        token = token or (rig_gt.cwd / "run" / "token").read_text().strip()
        request = urllib.request.Request(
            address["url"] + "/api/mayor/ask",
            data=json.dumps({"text": text}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def ask(text: str) -> dict[str, Any]:
        code, got = post(text)
        assert code == 200, got
        return dict(got)

    server = serve(
        {"text": "Noted: you own the app rig.", "usage": {"input_tokens": 10, "output_tokens": 5}},
        {"text": "You told me you own the app rig."},
    )
    with server:
        point_at(rig_gt, server)
        rig_gt.ok("up", "-d")
        try:
            assert post("hello", token="wrong")[0] == 401
            assert post("   ")[0] == 400
            first = ask("I own the app rig.")
        finally:
            rig_gt.ok("down")
        rig_gt.ok("up", "-d")
        try:
            second = ask("What do I own?")
        finally:
            rig_gt.ok("down")

    assert first == {
        "reply": "Noted: you own the app rig.",
        "tool_calls": [],
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cost_usd": pytest.approx((10 * 1.0 + 5 * 5.0) / 1_000_000),
        },
        "notes": "",
    }
    assert second["reply"] == "You told me you own the app rig."
    assert server.requests[1].body["messages"] == [
        {"role": "user", "content": "I own the app rig."},
        {"role": "assistant", "content": [{"type": "text", "text": "Noted: you own the app rig."}]},
        {"role": "user", "content": "What do I own?"},
    ]
