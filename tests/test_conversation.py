"""A transcript read as a conversation: one table of events in, lines a person reads out."""

from __future__ import annotations

from typing import Any

import pytest

from gastown.polecat.conversation import Conversation, first_line, read, tool_argument


def at(second: int, **event: Any) -> dict[str, Any]:
    return {"at": f"2026-01-01T00:00:{second:02d}.000000Z", **event}


START = at(0, kind="start", session_id="s-1", model="sonnet")
SAY = at(1, kind="text", role="assistant", text="Looking at the code")
THINK = at(1, kind="text", role="reasoning", text="the flag goes in main")
CALL = at(2, kind="tool_call", tool="Bash", input={"command": "pytest -q"}, call_id="c1")
OK = at(3, kind="tool_result", call_id="c1", output="\n3 passed\n")
BAD = at(3, kind="tool_result", call_id="c1", output="FAILED test_a\nE assert 1\n", is_error=True)
USAGE = at(4, kind="usage", input_tokens=1200, output_tokens=30, cache_read_tokens=800)
COST = at(4, kind="cost", usd=0.0125)
ERROR = at(5, kind="error", message="rate limited")
END = at(6, kind="end", exit_status=0, ok=True, summary="Added the flag")


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([START], ["00:00:00  started session s-1 (sonnet)"]),
        (
            [SAY, THINK],
            ["00:00:01  Looking at the code", "00:00:01  (thinking) the flag goes in main"],
        ),
        ([CALL, OK], ["00:00:02  → Bash pytest -q  ← 3 passed"]),
        ([CALL, BAD], ["00:00:02  → Bash pytest -q  ✗ FAILED test_a (+1 lines)"]),
        ([CALL], ["00:00:02  → Bash pytest -q …"]),
        (
            [USAGE, COST],
            ["00:00:04  · 2,000 tokens in, 30 out, $0.0125 so far"],
        ),
        ([USAGE], ["00:00:04  · 2,000 tokens in, 30 out, cost unknown so far"]),
        ([ERROR], ["00:00:05  ✗ error: rate limited"]),
        ([END], ["00:00:06  ended (ok, exit 0): Added the flag"]),
        (
            [at(6, kind="end", exit_status=1, ok=False)],
            ["00:00:06  ended (failed, exit 1)"],
        ),
        (
            [at(1, kind="unknown", raw='{"type":"x"}'), at(1, kind="unknown", raw='{"type":"y"}')],
            ["00:00:01  (2 lines of the runtime's output not understood; --raw shows them)"],
        ),
        ([at(1, kind="unknown", raw="npm warn old")], ["00:00:01  npm warn old"]),
        ([{"kind": "text", "text": "no stamp"}], ["--:--:--  no stamp"]),
    ],
)
def test_events_read_as_lines(events: list[dict[str, Any]], expected: list[str]) -> None:
    assert read(events) == expected


def test_a_call_waits_for_its_result_and_lines_after_it_wait_too() -> None:
    talk = Conversation()
    assert talk.feed(CALL) == []
    assert talk.feed(SAY) == []  # kept in order behind the call
    done = talk.feed(OK)
    assert [line.text for line in done] == ["→ Bash pytest -q  ← 3 passed", "Looking at the code"]
    assert done[0].kind == "tool" and not done[0].failed and not done[0].running


def test_a_call_shown_running_gets_its_result_on_a_line_of_its_own() -> None:
    talk = Conversation()
    talk.feed(CALL)
    (running,) = talk.flush()
    assert running.running and running.call_id == "c1" and running.text.endswith("…")
    (result,) = talk.feed(BAD)
    assert result.kind == "result" and result.call_id == "c1" and result.failed
    assert result.text == "Bash ✗ FAILED test_a (+1 lines)"


def test_parallel_calls_pair_by_id_and_calls_without_ids_take_the_latest() -> None:
    other = at(2, kind="tool_call", tool="Read", input={"file_path": "a.py"}, call_id="c2")
    talk = Conversation()
    lines = talk.feed_all([CALL, other, at(3, kind="tool_result", call_id="c2", output="x"), OK])
    assert [line.text for line in lines] == ["→ Bash pytest -q  ← 3 passed", "→ Read a.py  ← x"]
    bare = [at(2, kind="tool_call", tool="shell", input={}), at(3, kind="tool_result", output="")]
    assert read(bare) == ["00:00:02  → shell  ← (no output)"]


def test_running_totals_add_up_across_turns() -> None:
    talk = Conversation()
    lines = talk.feed_all([USAGE, COST, SAY, USAGE, COST, END])
    spent = [line.text for line in lines if line.kind == "spent"]
    assert spent == [
        "· 2,000 tokens in, 30 out, $0.0125 so far",
        "· 4,000 tokens in, 60 out, $0.0250 so far",
    ]
    assert lines[-1].kind == "end"


def test_the_end_releases_a_call_that_never_got_its_result() -> None:
    lines = Conversation().feed_all([CALL, END])
    assert [line.kind for line in lines] == ["tool", "end"] and lines[0].running


@pytest.mark.parametrize(
    ("arguments", "shown"),
    [
        ({"command": ["bash", "-lc", "ls"]}, "bash -lc ls"),
        ({"file_path": "src/a.py", "content": "x" * 500}, "src/a.py"),
        ({"description": "look\naround"}, "look around"),
        ({"n": 3}, '{"n": 3}'),
        ({}, ""),
        ("not a dict", ""),
        ({"command": "x" * 200}, "x" * 79 + "…"),
    ],
)
def test_a_call_is_named_by_its_telling_argument(arguments: Any, shown: str) -> None:
    assert tool_argument(arguments) == shown


def test_a_result_is_its_first_line() -> None:
    assert first_line("") == "(no output)"
    assert first_line("\n\n  done\nmore\n") == "done (+1 lines)"
