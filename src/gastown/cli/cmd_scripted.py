"""`gt scripted-model`: run the scripted model server in the foreground."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli import args
from gastown.cli.app import App


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    cmd = sub.add_parser(
        "scripted-model",
        parents=[shared],
        help="serve the Anthropic, OpenAI and Gemini APIs from a script, for tests and demos",
        description="Answers POST /v1/messages (Anthropic), /v1/chat/completions and "
        "/v1/responses (OpenAI), /v1beta/models/MODEL:generateContent and "
        ":streamGenerateContent (Gemini), streamed or not, with the replies in a script file "
        "(TOML, or JSON when it ends in .json), in order. Point ANTHROPIC_BASE_URL or "
        "GOOGLE_GEMINI_BASE_URL at the printed URL, or OPENAI_BASE_URL at it plus /v1; any API "
        "key works. Runs until interrupted.",
    )
    cmd.add_argument("--script", required=True, metavar="FILE", help="the replies to give")
    cmd.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    cmd.add_argument("--port", type=args.port, default=0, help="port to listen on (0: a free one)")
    cmd.add_argument("--log", metavar="FILE", help="append every request received, as JSONL")
    cmd.set_defaults(handler=scripted_model)


def scripted_model(app: App) -> int:
    from gastown.errors import UsageError
    from gastown.scripted import load
    from gastown.scripted.server import base_url, bind, serve_forever

    log = app.path(app.args.log) if app.args.log else None
    script = load(app.path(app.args.script), log_path=log)
    try:
        sock = bind(app.args.host, app.args.port)
    except OSError as exc:
        raise UsageError(
            f"Cannot listen on {app.args.host}:{app.args.port}: {exc.strerror}.",
            hint="Choose another --port, or 0 for a free one.",
        ) from exc
    url = base_url(sock)
    app.emit(
        {"base_url": url, "openai_base_url": url + "/v1", "replies": len(script.replies)},
        f"Scripted model server on {url} ({len(script.replies)} replies)\n"
        f"  ANTHROPIC_BASE_URL={url}\n  OPENAI_BASE_URL={url}/v1\n"
        "Press Ctrl-C to stop.",
    )
    app.out.flush()
    serve_forever(script, sock)
    return 0
