"""The scripted model server's Gemini API, read with a plain HTTP client over real HTTP.

The shapes are the ones Gemini CLI reads: candidates with `text` and `functionCall` parts,
`finishReason`, and `usageMetadata`; streamed as `data:` events with `?alt=sse`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer

MODEL = "gemini-2.5-pro"
SCRIPT = {
    "replies": [
        {
            "model": MODEL,
            "text": "I'll write the file for you now.",
            "tool_calls": [
                {"name": "write_file", "arguments": {"file_path": "a.txt", "content": "hi"}}
            ],
            "usage": {"input_tokens": 100, "output_tokens": 12, "cache_read_tokens": 30},
        },
        {"model": MODEL, "match": "Wrote a.txt", "text": "Done.", "usage": {"output_tokens": 2}},
        {"repeat": True, "text": "A side answer"},
    ]
}
ASK: dict[str, Any] = {
    "contents": [{"role": "user", "parts": [{"text": "Write a.txt"}]}],
    "tools": [{"functionDeclarations": [{"name": "write_file", "parameters": {}}]}],
}
ANSWER: dict[str, Any] = {
    "contents": [
        *ASK["contents"],
        {"role": "model", "parts": [{"functionCall": {"name": "write_file", "args": {}}}]},
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "write_file", "response": {"output": "Wrote a.txt"}}}
            ],
        },
    ]
}


@pytest.fixture
def server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(parse(SCRIPT)) as running:
        yield running


@pytest.fixture
def http(server: ScriptedModelServer) -> Iterator[httpx.Client]:
    headers = {"x-goog-api-key": "any"}
    with httpx.Client(base_url=server.base_url + "/v1beta", headers=headers) as client:
        yield client


def events(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith("text/event-stream")
    lines = response.text.splitlines()
    return [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data:")]


def test_generate_content_answers_with_a_function_call_and_usage(
    http: httpx.Client, server: ScriptedModelServer
) -> None:
    got = http.post(f"/models/{MODEL}:generateContent", json=ASK)
    assert got.status_code == 200
    body = got.json()
    [candidate] = body["candidates"]
    assert candidate["content"]["role"] == "model"
    assert candidate["content"]["parts"] == [
        {"text": "I'll write the file for you now."},
        {"functionCall": {"name": "write_file", "args": {"file_path": "a.txt", "content": "hi"}}},
    ]
    assert candidate["finishReason"] == "STOP"
    # Gemini counts cached tokens inside the prompt count.
    assert body["usageMetadata"] == {
        "promptTokenCount": 130,
        "candidatesTokenCount": 12,
        "cachedContentTokenCount": 30,
        "totalTokenCount": 142,
    }
    assert body["modelVersion"] == MODEL
    [logged] = server.requests
    assert (logged.api, logged.latest, logged.reply) == ("gemini", "Write a.txt", 0)
    assert logged.path == f"/v1beta/models/{MODEL}:generateContent"


def test_stream_sends_text_in_pieces_then_the_call_then_usage_last(http: httpx.Client) -> None:
    got = http.post(f"/models/{MODEL}:streamGenerateContent", params={"alt": "sse"}, json=ASK)
    assert got.status_code == 200
    chunks = events(got)
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    assert len(chunks) == len(parts) > 2
    assert "".join(p.get("text", "") for p in parts) == "I'll write the file for you now."
    assert parts[-1] == {
        "functionCall": {"name": "write_file", "args": {"file_path": "a.txt", "content": "hi"}}
    }
    assert [c["candidates"][0].get("finishReason") for c in chunks][-2:] == [None, "STOP"]
    assert ["usageMetadata" in c for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] == 142


def test_function_responses_are_the_latest_message_and_the_model_comes_from_the_path(
    http: httpx.Client, server: ScriptedModelServer
) -> None:
    http.post(f"/models/{MODEL}:generateContent", json=ASK)
    # Another model's request takes the catch-all, not the agent's next reply.
    side = http.post("/models/gemini-2.5-flash-lite:generateContent", json=ANSWER)
    assert side.json()["candidates"][0]["content"]["parts"] == [{"text": "A side answer"}]
    done = http.post(f"/models/{MODEL}:generateContent", json=ANSWER).json()
    assert done["candidates"][0]["content"]["parts"] == [{"text": "Done."}]
    assert done["usageMetadata"]["candidatesTokenCount"] == 2
    assert [r.latest for r in server.requests][1:] == ["Wrote a.txt", "Wrote a.txt"]
    assert [r.reply for r in server.requests] == [0, 2, 1]


def test_count_tokens_takes_no_reply(http: httpx.Client, server: ScriptedModelServer) -> None:
    got = http.post(f"/models/{MODEL}:countTokens", json=ASK)
    assert got.status_code == 200
    assert got.json()["totalTokens"] > 0
    assert server.requests == []


def test_errors_come_in_googles_shape(http: httpx.Client) -> None:
    bad = http.post(f"/models/{MODEL}:generateContent", content=b"not json")
    assert bad.status_code == 400
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    unknown = http.post(f"/models/{MODEL}:embedContent", json=ASK)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == 404


def test_a_spent_script_answers_with_a_clear_error() -> None:
    with ScriptedModelServer(parse({"replies": [{"text": "Only once."}]})) as running:
        url = f"{running.base_url}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
        assert httpx.post(url, json=ASK).status_code == 200
        spent = httpx.post(url, json=ASK)
    assert spent.status_code == 400
    error = spent.json()["error"]
    assert "no reply left" in error["message"]
    assert error["details"][0]["reason"] == "script_exhausted"
