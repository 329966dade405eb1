"""The scripted runtime: a deterministic agent for tests and `gt demo`, no model, no network.

    python -m gastown.runtimes.scripted_agent --script RUN_DIR/script.json

The script is the first fenced block marked `gt-script` at the start of a line in the prompt
(so a bead's body can carry it), else `DEFAULT_SCRIPT`. The adapter writes it to the run
folder, outside the worktree, and the agent performs it in the worktree, printing our own
event JSON: the parser reads those lines back as they are.
"""

from __future__ import annotations

import json
import re
import sys

from gastown.runtimes.base import JsonLineParser, LaunchRequest, ProcessSpec, base_env
from gastown.runtimes.events import End, Event, Text, Usage, event_from_json

# At the start of a line only: a script quoted in the prompt (a rework's original bead, `> `)
# is not the one to play.
FENCE = re.compile(r"^```gt-script[ \t]*\n(.*?)\n```", re.DOTALL | re.MULTILINE)
DEFAULT_SCRIPT: list[dict[str, object]] = [
    {"text": "Scripted agent: writing a note, as no script was given."},
    {  # a file of each bead's own, so every bead (and its rework) leaves a change
        "run": 'mkdir -p scripted && echo "Written by the scripted runtime for '
        '${GT_BEAD_ID:-a bead}." > "scripted/${GT_BEAD_ID:-note}.md"'
    },
    {"text": "Done."},
]


def script_for(prompt: str) -> str:
    """The script text a prompt carries, or the default one."""
    found = FENCE.search(prompt)
    return found.group(1) if found else json.dumps(DEFAULT_SCRIPT, indent=2)


class ScriptedRuntime:
    name = "scripted"
    model_api = False  # it plays its script and never calls a model, so no base URL is checked

    def __init__(self, python: str = sys.executable) -> None:
        self.binary = python

    def build(self, request: LaunchRequest) -> ProcessSpec:
        run_dir = request.run_dir or request.worktree.parent / f".{request.worktree.name}-run"
        script = run_dir / "script.json"
        argv = [self.binary, "-m", "gastown.runtimes.scripted_agent", "--script", str(script)]
        if request.model:  # reported back in its start event, as a real CLI says its model
            argv += ["--model", request.model]
        env = base_env(request)
        env["PYTHONUNBUFFERED"] = "1"
        return ProcessSpec(argv, env, request.worktree, files={script: script_for(request.prompt)})

    def parser(self, request: LaunchRequest) -> ScriptedParser:
        return ScriptedParser(request)


class ScriptedParser(JsonLineParser):
    def on_object(self, data: dict[str, object]) -> list[Event] | None:
        event = event_from_json(data)
        if event is None or isinstance(event, End):  # End is ours to add at exit
            return None
        if isinstance(event, Usage):  # priced from the table, as a real CLI's tokens are
            return self.usage_and_cost(event)
        if isinstance(event, Text):
            self.summary = event.text
        elif event.kind == "error":
            self.failed = True
        elif event.kind == "start":
            self.session_id = str(data.get("session_id", ""))
        return [event]
