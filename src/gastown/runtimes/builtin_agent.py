"""The built-in agent: a small tool loop over the Anthropic or an OpenAI-compatible API.

    python -m gastown.runtimes.builtin_agent --prompt-file FILE [--max-steps N] [--max-cost USD]

It sends the prompt with the tools of `builtin_tools` (shell, read_file, write_file, edit_file,
finish) to the model, runs the tool calls it returns in the current folder, sends the results
back, and stops when the model calls `finish` or answers without a tool call (exit 0), or when
the API fails or a limit is hit (an `error` event, exit 1). Everything it does is printed as our
own event JSON lines (`gastown.runtimes.events`), one `usage` per model call. It never reads
stdin and asks nobody anything; inside a run, each tool call's result also carries the
polecat's unread mail, so a nudge reaches the model at its next step (`builtin_mail`).

Environment (the adapter sets the first three from settings; `env_vars` may set any):
`GT_BUILTIN_MODEL`, `GT_BUILTIN_BASE_URL`, `GT_BUILTIN_API_KEY` (else the SDK's own
`ANTHROPIC_API_KEY` / `OPENAI_API_KEY`), `GT_BUILTIN_API` (`anthropic` or `openai`; by default
`anthropic` for Claude models), `GT_BUILTIN_MAX_STEPS` (model calls, default 100),
`GT_BUILTIN_MAX_COST` (USD, default 10; only priced models count), `GT_BUILTIN_SHELL_TIMEOUT`
(seconds per command, default 600).
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from gastown.llm import ModelFailure
from gastown.record import Record
from gastown.runtimes.builtin_mail import mailbox
from gastown.runtimes.builtin_models import Model, api_for, make
from gastown.runtimes.builtin_tools import Call, Outcome, perform
from gastown.runtimes.events import Error, Event, Start, Text, ToolCall, ToolResult
from gastown.runtimes.prices import cost_of

SYSTEM = """You are a coding agent working alone in the git worktree {folder}.
Do the task with the tools: inspect the code, change it, run the tests. Nobody will answer
questions, so decide for yourself. When the task is done, call `finish` with a short summary."""


class Limits(Record):
    """When a run stops even though the model has not finished."""

    max_steps: int = 100
    """Model calls."""
    max_cost: float = 10.0
    """USD, by the price table; a model without a price is not limited."""
    shell_timeout: float = 600.0
    """Seconds one shell command may take before it is killed."""


def emit(event: Event) -> None:
    print(event.dumps(), flush=True)


def run(model: Model, folder: Path, limits: Limits, mail: Callable[[], str] | None = None) -> int:
    """The loop: ask, run the tool calls, tell, until the model is done or a limit is hit.
    `mail` gives the messages that came meanwhile ("" when none), added to a call's result."""
    spent = 0.0
    for _ in range(limits.max_steps):
        turn = model.ask()
        emit(turn.usage)
        priced = cost_of(turn.usage, turn.usage.model)
        spent += priced.usd if priced else 0.0
        if turn.text:
            emit(Text(turn.text))
        if not turn.calls:
            return 0
        results: list[tuple[Call, Outcome]] = []
        for call in turn.calls:
            emit(ToolCall(call.name, call.arguments, call.id))
            outcome = perform(call, folder, limits.shell_timeout)
            heard = mail() if mail and not outcome.finished else ""
            if heard:
                outcome.output = f"{outcome.output}\n\n{heard}"
            emit(ToolResult(call.id, outcome.output, outcome.is_error))
            if outcome.finished:
                return 0
            results.append((call, outcome))
        if spent > limits.max_cost:
            emit(Error(f"Stopped: the run cost ${spent:.2f}, over its ${limits.max_cost:g}."))
            return 1
        model.tell(results)
    emit(Error(f"Stopped: {limits.max_steps} model calls without finishing."))
    return 1


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(prog="builtin_agent", description="Run the built-in agent.")
    parser.add_argument("--prompt-file", type=Path, required=True, help="the task, as text")
    # String defaults go through `type` too, so a bad variable gets argparse's plain message.
    parser.add_argument("--max-steps", type=int, default=env.get("GT_BUILTIN_MAX_STEPS", "100"))
    parser.add_argument("--max-cost", type=float, default=env.get("GT_BUILTIN_MAX_COST", "10"))
    parser.add_argument(
        "--shell-timeout", type=float, default=env.get("GT_BUILTIN_SHELL_TIMEOUT", "600")
    )
    args = parser.parse_args(argv)
    limits = Limits(args.max_steps, args.max_cost, args.shell_timeout)
    model_name, base_url = env.get("GT_BUILTIN_MODEL", ""), env.get("GT_BUILTIN_BASE_URL", "")
    api = env.get("GT_BUILTIN_API") or api_for(model_name, base_url)
    folder = Path.cwd()
    emit(Start(f"builtin-{uuid.uuid4().hex[:12]}", model_name))
    try:
        prompt = args.prompt_file.read_text("utf-8")
    except OSError as exc:
        emit(Error(f"Cannot read the prompt file: {exc}"))
        return 1
    key = env.get("GT_BUILTIN_API_KEY", "")
    try:
        model = make(api, model_name, base_url, key, SYSTEM.format(folder=folder), prompt)
        return run(model, folder, limits, mailbox(env))
    except ModelFailure as exc:
        emit(Error(str(exc)))
        return 1


if __name__ == "__main__":
    sys.exit(main())
