"""A deterministic agent for tests and demos: it performs a script's steps in its folder.

    python -m gastown.runtimes.scripted_agent --script FILE

The script is JSON: a list of steps (or `{"steps": [...]}`), each one object:

    {"text": "Looking around"}                   say something
    {"write": "PATH", "content": "..."}          write a file (relative to the folder)
    {"run": "SHELL COMMAND"}                     run a command; a failing one ends the run
    {"usage": {"input": 10, "output": 5}, "model": "claude-sonnet-4-5"}   report tokens
    {"cost": 0.001}                              report a cost in USD
    {"error": "MESSAGE"}                         report an error
    {"exit": N}                                  stop now with exit status N
    {"hang": true}                               stop making progress until killed

Every step prints our own event JSON lines (`gastown.runtimes.events`) on stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from gastown.runtimes.events import (
    Cost,
    Error,
    Event,
    Start,
    Text,
    ToolCall,
    ToolResult,
    Usage,
)


def emit(event: Event) -> None:
    print(event.dumps(), flush=True)


def load_steps(path: Path) -> list[dict[str, Any]]:
    """The steps of a script file; a malformed one is an error before anything happens."""
    data = json.loads(path.read_text("utf-8"))
    steps = data.get("steps") if isinstance(data, dict) else data
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise ValueError(f"{path}: a script is a list of step objects")
    return steps


def perform(step: dict[str, Any], folder: Path, number: int) -> int | None:
    """Do one step; returns an exit status when the run must stop there."""
    call_id = f"step-{number}"
    if "text" in step:
        emit(Text(str(step["text"])))
    elif "write" in step:
        target = folder / str(step["write"])
        emit(ToolCall("write", {"path": str(step["write"])}, call_id))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(step.get("content", "")), "utf-8")
        emit(ToolResult(call_id, f"wrote {step['write']}"))
    elif "run" in step:
        emit(ToolCall("shell", {"command": str(step["run"])}, call_id))
        done = subprocess.run(
            str(step["run"]), shell=True, cwd=folder, capture_output=True, text=True, check=False
        )
        emit(ToolResult(call_id, done.stdout + done.stderr, is_error=done.returncode != 0))
        if done.returncode != 0:
            emit(Error(f"`{step['run']}` exited with status {done.returncode}"))
            return done.returncode
    elif "usage" in step:
        tokens = step["usage"]
        emit(
            Usage(
                input_tokens=int(tokens.get("input", 0)),
                output_tokens=int(tokens.get("output", 0)),
                cache_read_tokens=int(tokens.get("cache_read", 0)),
                cache_write_tokens=int(tokens.get("cache_write", 0)),
                model=str(step.get("model", "")),
            )
        )
    elif "cost" in step:
        emit(Cost(float(step["cost"])))
    elif "error" in step:
        emit(Error(str(step["error"])))
    elif "exit" in step:
        return int(step["exit"])
    elif step.get("hang"):
        threading.Event().wait()  # until a signal ends the process
    else:
        emit(Error(f"unknown step {json.dumps(step)}"))
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripted_agent", description="Perform a scripted run.")
    parser.add_argument("--script", type=Path, required=True, help="the JSON script to perform")
    parser.add_argument("--session", default="scripted", help="the session id to report")
    parser.add_argument("--model", default="scripted", help="the model to say it uses")
    args = parser.parse_args(argv)
    steps = load_steps(args.script)
    emit(Start(args.session, args.model))
    for number, step in enumerate(steps, 1):
        status = perform(step, Path.cwd(), number)
        if status is not None:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
