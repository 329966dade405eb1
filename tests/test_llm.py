"""The one model-client layer (`gastown.llm`), for real: the official Anthropic and OpenAI
SDKs over HTTP to the scripted model server. One conversation in the Anthropic shape goes to
either API, and either reply comes back in one shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gastown import llm
from gastown.llm import Call, ModelFailure, Reply, api_for, parse_call, to_chat
from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer

TOOLS = [
    {
        "name": "sling",
        "description": "Give a rig a bead.",
        "input_schema": {"type": "object", "properties": {"title": {"type": "string"}}},
    }
]

CONVERSATION: list[dict[str, Any]] = [
    {"role": "user", "content": "Fix the login redirect"},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Slinging it."},
            {"type": "tool_use", "id": "c1", "name": "sling", "input": {"title": "Login"}},
            {"type": "tool_use", "id": "c2", "name": "sling", "input": {"title": "Logout"}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": "gt-1", "is_error": False},
            {"type": "tool_result", "tool_use_id": "c2", "content": "No rig.", "is_error": True},
        ],
    },
]


def serve(*replies: dict[str, Any]) -> ScriptedModelServer:
    return ScriptedModelServer(parse({"replies": list(replies)}))


def send(
    api: str,
    replies: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    tools: list[Any],
    on_text: llm.OnText | None = None,
    role: str = "",
) -> tuple[Reply, dict[str, Any]]:
    """One request through a client made for `api`; the reply, and the body the server got."""
    with serve(*replies) as server:
        url = server.openai_base_url if api == "openai" else server.base_url
        client = llm.make(api, "claude-haiku-4-5", url, "sk-test", role=role)
        try:
            reply = client.send("You are the mayor.", messages, tools, on_text)
        finally:
            client.close()
    return reply, server.requests[0].body


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_either_api_replies_in_one_shape(api: str) -> None:
    usage = {"input_tokens": 10, "output_tokens": 5, "cache_read_tokens": 30}
    called = {"name": "sling", "arguments": {"title": "Fix it"}, "id": "call_1"}
    scripted = {"text": "On it.", "tool_calls": [called], "usage": usage}
    reply, _ = send(api, [scripted], CONVERSATION[:1], TOOLS)

    assert reply == Reply(
        content=[
            {"type": "text", "text": "On it."},
            {"type": "tool_use", "id": "call_1", "name": "sling", "input": {"title": "Fix it"}},
        ],
        text="On it.",
        calls=[Call("call_1", "sling", {"title": "Fix it"})],
        input_tokens=40,  # cache reads included
        output_tokens=5,
        cache_read_tokens=30,
        model="claude-haiku-4-5",
    )


def test_anthropic_gets_the_conversation_as_it_is_and_streams_its_text() -> None:
    pieces: list[str] = []
    reply, body = send(
        "anthropic", [{"text": "Both are slung."}], CONVERSATION, TOOLS, pieces.append
    )

    assert body["messages"] == CONVERSATION and body["system"] == "You are the mayor."
    assert body["stream"] is True and body["max_tokens"] == llm.MAX_TOKENS
    assert [t["name"] for t in body["tools"]] == ["sling"]
    assert "".join(pieces) == reply.text == "Both are slung."


def test_openai_gets_the_conversation_as_chat_messages() -> None:
    pieces: list[str] = []
    reply, body = send("openai", [{"text": "Both are slung."}], CONVERSATION, TOOLS, pieces.append)

    assert body["messages"] == [
        {"role": "system", "content": "You are the mayor."},
        *to_chat(CONVERSATION),
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "sling",
                "description": "Give a rig a bead.",
                "parameters": TOOLS[0]["input_schema"],
            },
        }
    ]
    assert pieces == [reply.text]  # whole, once it is in


def test_anthropic_content_becomes_chat_messages() -> None:
    def fn(call_id: str, title: str) -> dict[str, Any]:
        arguments = '{"title": "' + title + '"}'
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": "sling", "arguments": arguments},
        }

    assert to_chat(CONVERSATION) == [
        {"role": "user", "content": "Fix the login redirect"},
        {
            "role": "assistant",
            "content": "Slinging it.",
            "tool_calls": [fn("c1", "Login"), fn("c2", "Logout")],
        },
        # One tool message a result; Chat Completions has no error flag, so the text says it.
        {"role": "tool", "tool_call_id": "c1", "content": "gt-1"},
        {"role": "tool", "tool_call_id": "c2", "content": "Error: No rig."},
    ]
    only_calls = {"role": "assistant", "content": [CONVERSATION[1]["content"][1]]}
    assert to_chat([only_calls])[0]["content"] is None


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_a_request_without_tools_leaves_the_list_out(api: str) -> None:
    reply, body = send(api, [{"text": "A summary."}], CONVERSATION[:1], [])
    assert reply.text == "A summary." and "tools" not in body


@pytest.mark.parametrize(
    ("api", "role", "said"),
    [
        ("anthropic", "reviewer", "The reviewer's model API failed: "),
        ("openai", "mayor", "The mayor's model API failed: "),
        ("anthropic", "", "The Anthropic API failed: "),
        ("openai", "", "The OpenAI-compatible API failed: "),
    ],
)
def test_an_api_failure_is_one_sentence_naming_the_role(api: str, role: str, said: str) -> None:
    with pytest.raises(ModelFailure) as failed:  # no replies: the request gets an error answer
        send(api, [], CONVERSATION[:1], TOOLS, role=role)
    assert failed.value.message.startswith(said)
    assert "no reply left" in failed.value.message


def test_an_unknown_api_is_refused() -> None:
    with pytest.raises(ModelFailure, match="Unknown model API 'gemini'"):
        llm.make("gemini", "gemini-pro", "", "")


def test_openai_arguments_are_parsed_and_bad_ones_say_why() -> None:
    assert parse_call("c1", "sling", '{"title": "x"}') == Call("c1", "sling", {"title": "x"})
    assert parse_call("c1", "finish", "") == Call("c1", "finish", {})
    assert parse_call("c1", "sling", "{title") == Call(
        "c1", "sling", "{title", "The arguments of `sling` are not valid JSON."
    )
    assert parse_call("c1", "sling", "[1]") == Call(
        "c1", "sling", [1], "The arguments of `sling` are not a JSON object."
    )


def test_the_api_follows_the_model_and_base_url() -> None:
    assert api_for("claude-haiku-4-5", "") == "anthropic"
    assert api_for("", "https://api.anthropic.com") == "anthropic"
    assert api_for("anthropic/claude-sonnet-4-5", "https://openrouter.ai/api/v1") == "anthropic"
    assert api_for("gpt-5-mini", "") == "openai"
    assert api_for("qwen3-coder", "http://127.0.0.1:11434/v1") == "openai"
    assert api_for("", "") == api_for("", "", otherwise="openai") == "anthropic"
    # A name that gives nothing away: the caller's guess.
    assert api_for("qwen3-coder", "") == "anthropic"
    assert api_for("qwen3-coder", "", otherwise="openai") == "openai"


def test_openai_replies_stream_their_text_and_assemble_tool_calls() -> None:
    """With `on_text`, an OpenAI-compatible reply is streamed: the text arrives in pieces as it
    is generated, tool calls are put together from their pieces, usage comes last."""
    pieces: list[str] = []
    text = "Slinging the login fix to the app rig now, then I will report back."
    reply, body = send(
        "openai",
        [
            {
                "text": text,
                "tool_calls": [{"name": "sling", "arguments": {"title": "Login"}, "id": "c9"}],
                "usage": {"input_tokens": 120, "output_tokens": 30},
            }
        ],
        CONVERSATION[:1],
        TOOLS,
        on_text=pieces.append,
    )
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert len(pieces) > 1 and "".join(pieces) == text == reply.text
    assert [(c.id, c.name, c.input) for c in reply.calls] == [("c9", "sling", {"title": "Login"})]
    assert (reply.input_tokens, reply.output_tokens) == (120, 30)


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_the_reviewers_model_failing_names_the_reviewer_alone(api: str) -> None:
    from gastown.refinery.review import ModelReviewer, ReviewFailed, ReviewRequest

    request = ReviewRequest(title="Fix", body="", branch="gt/b", target="main", diff="+x")
    with serve() as server:  # no replies: the request gets an error answer
        url = server.openai_base_url if api == "openai" else server.base_url
        model = "gpt-5-mini" if api == "openai" else "claude-haiku-4-5"
        with pytest.raises(ReviewFailed) as failed:
            ModelReviewer(model, url, "sk-test").review(request)
    assert failed.value.message.startswith("The reviewer's model API failed: ")
    assert "mayor" not in failed.value.message
