"""The built-in agent's tools: a shell and plain file edits in the worktree, and `finish`.

Each tool takes string arguments only, described once in `TOOLS`; `schema` turns that into the
JSON schema both APIs want. `perform` runs one call and never raises for the agent's mistakes
(missing arguments, a missing file, an edit that does not match): it returns them as an error
result, so the model reads what went wrong and the loop goes on.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from gastown.record import Record, field

OUTPUT_LIMIT = 10_000
"""Characters of a tool's output sent back to the model; the tail is kept, as errors and
summaries come last."""

UNATTENDED = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_EDITOR": "true",
    "EDITOR": "true",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
}
"""Environment for shell commands, so that no program stops to ask a question."""


class Tool(Record):
    """One tool the model may call."""

    description: str
    """What it does, for the model."""
    parameters: dict[str, str]
    """Argument name to its description; every argument is a required string."""


TOOLS: dict[str, Tool] = {
    "shell": Tool(
        "Run a shell command (bash) in the worktree, without input. Returns the exit code and "
        "the tail of stdout and stderr together.",
        {"command": "The command line to run."},
    ),
    "read_file": Tool(
        "Read a text file.",
        {"path": "The file's path, relative to the worktree."},
    ),
    "write_file": Tool(
        "Create or overwrite a text file (folders are created as needed).",
        {"path": "The file's path, relative to the worktree.", "content": "The whole new text."},
    ),
    "edit_file": Tool(
        "Replace one exact occurrence of `old` with `new` in a file. `old` must occur exactly "
        "once: include enough surrounding lines to make it unique.",
        {
            "path": "The file's path, relative to the worktree.",
            "old": "The exact text to replace, whitespace included.",
            "new": "The text to put in its place.",
        },
    ),
    "finish": Tool(
        "End the run once the task is done (or cannot be done), with a short summary.",
        {"summary": "What was done, in a few sentences."},
    ),
}


def schema(tool: Tool) -> dict[str, Any]:
    """The JSON schema of a tool's arguments."""
    return {
        "type": "object",
        "properties": {
            name: {"type": "string", "description": text} for name, text in tool.parameters.items()
        },
        "required": list(tool.parameters),
        "additionalProperties": False,
    }


class Call(Record):
    """A tool call as the model made it."""

    id: str
    """The model's id of the call, to answer it by."""
    name: str
    """The tool called."""
    arguments: dict[str, Any] = field(default_factory=dict)
    """The arguments given (empty when they could not be read)."""
    problem: str = ""
    """Why the arguments could not be read (not JSON, not an object); empty when they could."""


class Outcome(Record):
    """What a tool call returned."""

    output: str
    """What the model is told the tool gave."""
    is_error: bool = False
    """The call failed; `output` says why."""
    finished: bool = False
    """The call was `finish`: the run ends here."""


class ToolError(Exception):
    """The call cannot be done as asked; the message goes back to the model."""


def perform(call: Call, folder: Path, shell_timeout: float) -> Outcome:
    """Run one call in `folder`; the agent's mistakes come back as error outcomes."""
    try:
        if call.problem:
            raise ToolError(call.problem)
        args = arguments(call)
        if call.name == "finish":
            return Outcome("Finished.", finished=True)
        if call.name == "shell":
            return shell(args["command"], folder, shell_timeout)
        target = folder / args["path"]
        if call.name == "write_file":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(args["content"], "utf-8")
            return Outcome(f"Wrote {args['path']} ({len(args['content'])} characters).")
        text = read(target, args["path"])
        if call.name == "read_file":
            return Outcome(tail(text))
        target.write_text(replace_once(text, args["old"], args["new"], args["path"]), "utf-8")
        return Outcome(f"Edited {args['path']}.")
    except ToolError as exc:
        return Outcome(str(exc), is_error=True)
    except OSError as exc:
        return Outcome(f"{call.name} failed: {exc}", is_error=True)


def arguments(call: Call) -> dict[str, str]:
    """The call's arguments, checked against its tool's parameters."""
    tool = TOOLS.get(call.name)
    if tool is None:
        raise ToolError(f"There is no tool `{call.name}`; the tools are {', '.join(TOOLS)}.")
    wrong = [n for n in tool.parameters if not isinstance(call.arguments.get(n), str)]
    extra = sorted(set(call.arguments) - set(tool.parameters))
    if wrong or extra:
        expected = ", ".join(f"`{n}`" for n in tool.parameters)
        raise ToolError(f"`{call.name}` takes exactly these string arguments: {expected}.")
    return {n: call.arguments[n] for n in tool.parameters}


def read(target: Path, shown: str) -> str:
    """The UTF-8 text of `target` (named `shown` in errors); a `ToolError` if it is no
    text file."""
    if not target.is_file():
        raise ToolError(f"There is no file {shown}.")
    try:
        return target.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(f"{shown} is not UTF-8 text.") from exc


def replace_once(text: str, old: str, new: str, shown: str) -> str:
    """`text` with its one occurrence of `old` replaced; ToolError when there is not exactly one."""
    count = text.count(old) if old else 0
    if count == 0:
        raise ToolError(f"`old` does not occur in {shown}; read the file and copy it exactly.")
    if count > 1:
        raise ToolError(f"`old` occurs {count} times in {shown}; include more lines around it.")
    return text.replace(old, new, 1)


def shell(command: str, folder: Path, timeout: float) -> Outcome:
    """Run `command` with bash, stdin closed; on timeout its whole process group is killed."""
    with subprocess.Popen(
        ["bash", "-c", command],
        cwd=folder,
        env={**os.environ, **UNATTENDED},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a group of its own, so a timeout kills its children too
    ) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            text = tail(out.decode("utf-8", "replace"))
            return Outcome(f"Timed out after {timeout:g} s and was killed.\n{text}", True)
    code = proc.returncode
    return Outcome(f"Exit code {code}.\n{tail(out.decode('utf-8', 'replace'))}", code != 0)


def tail(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """The last `limit` characters of `text`, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"[{len(text) - limit} characters cut]\n{text[-limit:]}"
