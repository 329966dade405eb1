"""The scripted model server, driven by the official Anthropic and OpenAI SDKs over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from gastown.errors import UsageError
from gastown.scripted import Script, load
from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer

SCRIPT = """
[[replies]]
text = "Let me look at the files first."
usage = { input_tokens = 120, output_tokens = 15, cache_read_tokens = 30 }

[[replies.tool_calls]]
name = "shell"
arguments = { command = "ls -la", timeout = 5 }

[[replies]]
text = "All done: the README is there."
usage = { input_tokens = 200, output_tokens = 9 }
"""

TOOLS_ANTHROPIC: list[Any] = [
    {
        "name": "shell",
        "description": "Run a command.",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
    }
]
TOOLS_CHAT: list[Any] = [
    {"type": "function", "function": {"name": "shell", "parameters": {"type": "object"}}}
]


def script_of(text: str, tmp_path: Path, log: bool = False) -> Script:
    path = tmp_path / "script.toml"
    path.write_text(text)
    return load(path, log_path=tmp_path / "requests.jsonl" if log else None)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(script_of(SCRIPT, tmp_path, log=True)) as running:
        yield running


def anthropic_client(server: ScriptedModelServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key="any", max_retries=0)


def openai_client(server: ScriptedModelServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_base_url, api_key="any", max_retries=0)


@pytest.fixture
def claude(server: ScriptedModelServer) -> Iterator[anthropic.Anthropic]:
    with anthropic_client(server) as client:
        yield client


@pytest.fixture
def gpt(server: ScriptedModelServer) -> Iterator[openai.OpenAI]:
    with openai_client(server) as client:
        yield client


def test_anthropic_messages_tool_call_then_text(
    server: ScriptedModelServer, claude: anthropic.Anthropic
) -> None:
    first = claude.messages.create(
        model="claude-test",
        max_tokens=100,
        tools=TOOLS_ANTHROPIC,
        messages=[{"role": "user", "content": "What is in this folder?"}],
    )
    assert first.stop_reason == "tool_use"
    assert first.model == "claude-test"
    text, call = first.content
    assert text.type == "text" and text.text == "Let me look at the files first."
    assert call.type == "tool_use" and call.name == "shell"
    assert call.input == {"command": "ls -la", "timeout": 5}
    assert (first.usage.input_tokens, first.usage.output_tokens) == (120, 15)
    assert first.usage.cache_read_input_tokens == 30

    second = claude.messages.create(
        model="claude-test",
        max_tokens=100,
        messages=[
            {"role": "user", "content": "What is in this folder?"},
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "README"}],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert [b.type for b in second.content] == ["text"]

    assert [r.api for r in server.requests] == ["anthropic", "anthropic"]
    assert [r.latest for r in server.requests] == ["What is in this folder?", "README"]
    assert server.requests[0].body["tools"][0]["name"] == "shell"


def test_anthropic_stream_events_and_final_message(
    server: ScriptedModelServer, claude: anthropic.Anthropic
) -> None:
    with claude.messages.stream(
        model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "Look"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"content_block_start", "content_block_delta", "content_block_stop"} <= set(kinds)
    assert "message_delta" in kinds
    assert final.content[0].type == "text"
    assert final.content[0].text == "Let me look at the files first."
    tool = final.content[1]
    assert tool.type == "tool_use" and tool.input == {"command": "ls -la", "timeout": 5}
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (120, 15)
    assert server.requests[0].body["stream"] is True


def test_chat_completions_not_streamed(gpt: openai.OpenAI) -> None:
    done = gpt.chat.completions.create(
        model="gpt-test", tools=TOOLS_CHAT, messages=[{"role": "user", "content": "Look"}]
    )
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me look at the files first."
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "shell"
    assert json.loads(call.function.arguments) == {"command": "ls -la", "timeout": 5}
    assert done.usage is not None
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (150, 15)
    assert done.usage.prompt_tokens_details is not None
    assert done.usage.prompt_tokens_details.cached_tokens == 30


def test_chat_completions_streamed_with_usage(gpt: openai.OpenAI) -> None:
    stream = gpt.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "Look"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, arguments, names, finish, usage = "", "", [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                assert call.index == 0
                if call.function and call.function.name:
                    names.append(call.function.name)
                arguments += (call.function.arguments or "") if call.function else ""
            finish = choice.finish_reason or finish
    assert text == "Let me look at the files first."
    assert names == ["shell"]
    assert json.loads(arguments) == {"command": "ls -la", "timeout": 5}
    assert finish == "tool_calls"
    assert usage is not None and usage.total_tokens == 165


def test_responses_streamed_as_codex_reads_it(
    server: ScriptedModelServer, gpt: openai.OpenAI
) -> None:
    with gpt.responses.stream(model="gpt-test", input="Look") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    for kind in (
        "response.output_item.added",
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.output_item.done",
    ):
        assert kind in kinds
    assert final.output_text == "Let me look at the files first."
    call = final.output[1]
    assert call.type == "function_call" and call.name == "shell"
    assert json.loads(call.arguments) == {"command": "ls -la", "timeout": 5}
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (150, 15)

    follow_up = gpt.responses.create(
        model="gpt-test",
        input=[
            {"role": "user", "content": "Look"},
            {"type": "function_call", "call_id": call.call_id, "name": "shell", "arguments": "{}"},
            {"type": "function_call_output", "call_id": call.call_id, "output": "README"},
        ],
    )
    assert follow_up.output_text == "All done: the README is there."
    assert follow_up.usage is not None and follow_up.usage.total_tokens == 209
    assert [r.latest for r in server.requests] == ["Look", "README"]


def test_models_and_token_counts_take_no_reply(
    server: ScriptedModelServer, claude: anthropic.Anthropic, gpt: openai.OpenAI
) -> None:
    assert [m.id for m in gpt.models.list()] == ["scripted"]
    assert [m.id for m in claude.models.list()] == ["scripted"]
    counted = claude.messages.count_tokens(
        model="m", messages=[{"role": "user", "content": "How many tokens is this?"}]
    )
    assert counted.input_tokens > 0
    assert server.requests == []
    assert server.script.remaining == 2


def test_match_picks_the_reply_for_each_conversation(tmp_path: Path) -> None:
    script = script_of(
        """
        [[replies]]
        match = "weather"
        text = "Sunny."
        [[replies]]
        text = "Hello, whoever you are."
        [[replies]]
        match = "time"
        text = "Noon."
        """,
        tmp_path,
    )
    with ScriptedModelServer(script) as server, openai_client(server) as client:

        def ask(question: str) -> str | None:
            done = client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": question}]
            )
            return done.choices[0].message.content

        assert ask("What time is it?") == "Noon."
        assert ask("Hi there") == "Hello, whoever you are."
        assert ask("And the weather?") == "Sunny."
        assert [r.reply for r in server.requests] == [2, 1, 0]


def test_model_picks_the_agents_replies_and_repeat_answers_side_requests(
    tmp_path: Path,
) -> None:
    script = script_of(
        """
        [[replies]]
        model = "big"
        text = "First step."
        [[replies]]
        model = "big"
        text = "Second step."
        [[replies]]
        repeat = true
        text = "A title"
        """,
        tmp_path,
    )
    with ScriptedModelServer(script) as server, openai_client(server) as client:

        def ask(model: str) -> str | None:
            done = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Go"}]
            )
            return done.choices[0].message.content

        # Given a title request in between, when the agent's model asks, it still gets its
        # replies in order; the side requests share the one reply that is never used up.
        assert ask("small") == "A title"
        assert ask("big") == "First step."
        assert ask("small") == "A title"
        assert ask("big") == "Second step."
        assert ask("big") == "A title"
        assert [r.reply for r in server.requests] == [2, 0, 2, 1, 2]
        assert server.script.remaining == 1


def test_a_spent_script_answers_with_a_clear_error(tmp_path: Path) -> None:
    script = script_of('[[replies]]\ntext = "Only once."\n', tmp_path, log=True)
    with (
        ScriptedModelServer(script) as server,
        anthropic_client(server) as client,
        openai_client(server) as other,
    ):
        messages: Any = [{"role": "user", "content": "again"}]
        client.messages.create(model="m", max_tokens=10, messages=messages)
        with pytest.raises(anthropic.BadRequestError) as caught:
            client.messages.create(model="m", max_tokens=10, messages=messages)
        assert "no reply left" in str(caught.value)
        with pytest.raises(openai.BadRequestError) as spent:
            other.responses.create(model="m", input="again")
        assert spent.value.code == "script_exhausted"
    logged = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert [(e["api"], e["path"], e["reply"]) for e in logged] == [
        ("anthropic", "/v1/messages", 0),
        ("anthropic", "/v1/messages", None),
        ("responses", "/v1/responses", None),
    ]
    assert logged[0]["body"]["messages"] == [{"role": "user", "content": "again"}]


def test_bad_scripts_are_refused_with_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="neither `text` nor `tool_calls`"):
        parse({"replies": [{"usage": {"input_tokens": 3}}]})
    with pytest.raises(UsageError, match="unknown keys: txt"):
        parse([{"txt": "typo"}])
    with pytest.raises(UsageError, match="`repeat` to be true or false"):
        parse([{"text": "x", "repeat": "yes"}])
    with pytest.raises(UsageError, match="`model` to be strings"):
        parse([{"text": "x", "model": 4}])
    with pytest.raises(UsageError, match="not valid"):
        script_of("[[replies]\n", tmp_path)
    json_script = tmp_path / "s.json"
    json_script.write_text(json.dumps({"replies": [{"tool_calls": [{"name": "x"}]}]}))
    assert load(json_script).replies[0].tool_calls[0].name == "x"


def test_gt_scripted_model_runs_as_a_real_process(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text('[[replies]]\ntext = "From a subprocess."\n')
    gt = Path(sys.executable).parent / "gt"
    process = subprocess.Popen(
        [str(gt), "scripted-model", "--script", "s.toml", "--port", "0", "--log", "log.jsonl"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("Scripted model server on http://127.0.0.1:")
        url = banner.split()[4]
        with anthropic.Anthropic(base_url=url, api_key="k", max_retries=0) as client:
            done = client.messages.create(
                model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
        assert done.content[0].type == "text" and done.content[0].text == "From a subprocess."
    finally:
        process.terminate()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0
    assert json.loads((tmp_path / "log.jsonl").read_text())["latest"] == "hi"
