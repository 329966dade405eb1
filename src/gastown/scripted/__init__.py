"""The scripted model server: the Anthropic, OpenAI and Gemini HTTP APIs, answered from a script.

Tests, `gt demo` and real agent CLIs (Claude Code, Codex, opencode, Kilo, Gemini CLI) talk to it
as they would to a hosted model, with no network and no key: `gt scripted-model --script FILE`
runs it, and `ScriptedModelServer` runs it in a background thread. It speaks the Anthropic
Messages API (`POST /v1/messages`), OpenAI Chat Completions (`POST /v1/chat/completions`), the
OpenAI Responses API (`POST /v1/responses`) and the Gemini API
(`POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
`:countTokens`), streamed (server-sent events) and not, plus `GET /v1/models`. Any API key is
accepted; request fields it does not use are ignored.

A script is a TOML file (or JSON of the same shape, when the name ends in `.json`)::

    [[replies]]
    match = "fix the bug"          # optional: answer only when the latest message contains this
    model = "claude-sonnet-4-5"    # optional: answer only requests naming this model
    text = "I'll look at the code first."
    usage = { input_tokens = 120, output_tokens = 12, cache_read_tokens = 0 }

    [[replies.tool_calls]]
    name = "shell"                 # the tool the client declared
    arguments = { command = "ls" } # a table; sent as JSON
    # id = "call_1"                # optional; made up when absent

    [[replies]]
    text = "Done."

    [[replies]]
    repeat = true                  # never used up: a catch-all, e.g. for title requests
    text = "A title"

Each reply has `text`, `tool_calls` or both, and `usage` (`input_tokens`, `output_tokens`,
`cache_read_tokens`, `cache_write_tokens`; all default to 0). Every reply is used once, unless it
has `repeat = true`. A request gets the first unused reply that it fits and that has a `match` or
a `model`: its `match` occurs in the request's latest message (the last user message, with its
tool results, for Anthropic; the user and tool messages after the model's last turn, for
OpenAI; the user turns, with their function responses, after the model's last turn, for
Gemini), and its `model` is the model the request names (in the path, for Gemini). Failing
that, it gets the first unused reply with neither; failing that, an error response (HTTP 400,
code `script_exhausted`) saying so. Agent CLIs send side requests (a session title, a summary)
to a smaller model: give the agent's replies its `model`, and add a `repeat` reply for the
rest. Replies with tool calls stop with `tool_use` (Anthropic) or `tool_calls` (OpenAI); the
others with `end_turn` or `stop`. Gemini gets each tool call as a `functionCall` part, and
`STOP` either way.

Every request is kept, in order, in `Script.requests` (API, path, body, latest message, which
reply answered it), and appended to a JSONL log file when one is given.
"""

from gastown.scripted.script import Logged, Reply, Script, ScriptExhausted, ToolCall, Usage, load

__all__ = ["Logged", "Reply", "Script", "ScriptExhausted", "ToolCall", "Usage", "load"]
