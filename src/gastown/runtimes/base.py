"""The agent runtime protocol: how the town starts an agent CLI and reads what it prints.

A runtime is two pure pieces. `build(request)` says how to start the agent (argv, environment,
folder, files to write first) without starting anything. `parser(request)` returns a fresh,
stateful parser that turns each stdout line into `events`, and at exit adds the `End` event.
The supervisor that owns the process sits elsewhere; this module only describes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from gastown.record import Record, field
from gastown.runtimes.events import Cost, End, Error, Event, Unknown, Usage
from gastown.runtimes.prices import cost_of


class LaunchRequest(Record):
    """Everything an adapter needs to start one agent run."""

    prompt: str
    """The rendered prompt: the bead, its context and how to finish."""
    worktree: Path
    """The polecat's git worktree; the agent runs with it as its working folder."""
    model: str = ""
    """The model from settings (`role_models.*` or `default_model`); empty lets the CLI pick."""
    base_url: str = ""
    """The model API's base URL (a gateway, the scripted model server); empty: the CLI's own."""
    api_key: str = ""
    """The key for that API; empty leaves the CLI's own login in charge."""
    env_vars: dict[str, str] = field(default_factory=dict)
    """The `env_vars` setting: passed to the agent as they are."""
    role: str = "polecat"
    """polecat, refinery or mayor."""
    run_dir: Path | None = None
    """A folder outside the worktree for files the runtime needs (scripts, configs)."""
    writable: list[Path] = field(default_factory=list)
    """Folders besides the worktree the agent must be able to write: the worktree's git folders
    (its own, the clone's objects and its branch's refs), so that a sandboxed agent can commit."""
    messages: bool = False
    """Ask for stdin to stay open for messages mid-run (a polecat's nudges); honoured only by a
    CLI that reads them there (Claude Code's stream-json input), which then gets the prompt as
    its first message."""


class ProcessSpec(Record):
    """How to start an agent; the supervisor writes `files`, then runs `argv` in `cwd` with
    stdin closed (opencode, Kilo and Gemini read a stdin that is not a terminal and add it to
    the prompt, so an open pipe would stall them)."""

    argv: list[str]
    """The program and its arguments."""
    env: dict[str, str]
    """Added to (and overriding) the town's own environment."""
    cwd: Path
    """The folder it runs in (the worktree it works on)."""
    files: dict[Path, str] = field(default_factory=dict)
    """Files to write before starting, path to text (an opencode config, a script)."""
    private_dirs: list[Path] = field(default_factory=list)
    """Folders to create first, open to the town's user only (mode 0700): a CLI's own home."""
    messages: bool = False
    """Whether stdin stays open for user messages, one stream-json line each (`user_message`),
    the first of them the prompt; the supervisor closes it once the agent's turn has ended."""


def write_files(spec: ProcessSpec) -> None:
    """What the supervisor does before starting: the private folders, then the files."""
    for folder in spec.private_dirs:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)  # it may be left from an earlier run, or the umask may have widened it
    for path, text in spec.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def user_message(text: str) -> str:
    """One user message as Claude Code's `--input-format stream-json` reads it: a JSON line."""
    content = [{"type": "text", "text": text}]
    line = {"type": "user", "message": {"role": "user", "content": content}}
    return json.dumps(line, ensure_ascii=False) + "\n"


class StreamParser(Protocol):
    """Turns one run's stdout, line by line, into events."""

    turn_ended: bool
    """Whether the agent has said its turn is over (then it takes no more messages)."""

    def feed(self, line: str) -> list[Event]:
        """The events one stdout line means (a line never yields nothing unless it is blank)."""
        ...

    def finish(self, exit_status: int | None) -> list[Event]:
        """The closing events once the process has exited (always ends with `End`)."""
        ...


class AgentRuntime(Protocol):
    """One agent CLI: its name, its program and how to drive it headless."""

    name: str
    """How settings and commands name it (`claude`, `codex`, ...)."""
    binary: str
    """The program looked up on PATH before a run starts."""

    def build(self, request: LaunchRequest) -> ProcessSpec:
        """The process that runs the agent on `request`."""
        ...

    def parser(self, request: LaunchRequest) -> StreamParser:
        """A fresh parser of the process's output for `request`."""
        ...


def base_env(request: LaunchRequest) -> dict[str, str]:
    """The `env_vars` setting, which every adapter passes on; adapters add their own keys."""
    return dict(request.env_vars)


class JsonLineParser:
    """Shared parsing for CLIs that print one JSON object a line.

    Subclasses implement `on_object`; it returns the events an object means, or None for an
    object it does not know (kept as `Unknown`). Lines that are not JSON objects are kept too.
    """

    def __init__(self, request: LaunchRequest) -> None:
        self.model = request.model
        self.session_id = ""
        self.summary = ""
        self.failed = False
        self.turn_ended = False
        """Set when the CLI said its turn is over (Claude Code's `result`): messages sent after
        it would start a turn nobody waits for, so the supervisor closes stdin then."""

    def feed(self, line: str) -> list[Event]:
        """The events one line of output means (a line that is not a JSON object is kept
        as `Unknown`)."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return []
        try:
            data = json.loads(line)
        except ValueError:
            return [Unknown(line)]
        if not isinstance(data, dict):
            return [Unknown(line)]
        events = self.on_object(data)
        return [Unknown(line)] if events is None else events

    def on_object(self, data: dict[str, Any]) -> list[Event] | None:
        """The events a JSON object means, or None for one this CLI's parser does not
        know; each adapter says."""
        raise NotImplementedError

    def finish(self, exit_status: int | None) -> list[Event]:
        """The run's last event once the process ended with `exit_status`."""
        ok = exit_status == 0 and not self.failed
        return [End(exit_status, ok=ok, summary=self.summary, session_id=self.session_id)]

    def fail(self, message: str) -> list[Event]:
        """Record a failure the CLI reported; the run will not end `ok`."""
        self.failed = True
        return [Error(message)]

    def usage_and_cost(self, usage: Usage, cli_cost: float | None = None) -> list[Event]:
        """A usage event and its cost: the CLI's when given, else the price table's, else none."""
        if cli_cost is not None:
            return [usage, Cost(float(cli_cost), source="cli")]
        priced = cost_of(usage, usage.model or self.model)
        return [usage] if priced is None else [usage, priced]


def as_int(value: Any) -> int:
    """A token count from JSON, tolerating null and absent values."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def as_text(value: Any) -> str:
    """Tool output as text: strings as they are, lists of text blocks joined, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [b.get("text", "") if isinstance(b, dict) else str(b) for b in value]
        return "\n".join(p for p in parts if p)
    return "" if value is None else json.dumps(value)
