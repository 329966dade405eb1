"""Runtimes by name, as the `runtime` setting names them."""

from __future__ import annotations

import shutil

from gastown.errors import UserError
from gastown.runtimes import preflight
from gastown.runtimes.base import AgentRuntime
from gastown.runtimes.builtin import BuiltinRuntime
from gastown.runtimes.claude import ClaudeRuntime
from gastown.runtimes.codex import CodexRuntime
from gastown.runtimes.gemini import GeminiRuntime
from gastown.runtimes.opencode import OpencodeRuntime
from gastown.runtimes.scripted import ScriptedRuntime

REGISTRY: dict[str, AgentRuntime] = {
    "claude": ClaudeRuntime(),
    "codex": CodexRuntime(),
    "opencode": OpencodeRuntime("opencode"),
    "kilo": OpencodeRuntime("kilo"),
    "gemini": GeminiRuntime(),
    "builtin": BuiltinRuntime(),
    "scripted": ScriptedRuntime(),
}
"""An adapter for every name in `config.RUNTIMES`, in its order (a test checks both ways)."""


def runtime(name: str, *, path: str | None) -> AgentRuntime:
    """The runtime called `name`, once its program is found on `path` (a PATH string; None means
    the process's own) and is not older than the adapter's `min_version`. Raises UserError
    naming the `runtime` setting otherwise, before any run starts, so no dispatch attempt is
    spent on it."""
    found = REGISTRY.get(name)
    if found is None:
        raise UserError(
            f"The runtime setting is '{name}', which Gas Town does not know.",
            hint="Choose one of " + ", ".join(REGISTRY) + " with `gt config set runtime NAME`.",
        )
    program = shutil.which(found.binary, path=path)
    if program is None:
        raise UserError(
            f"The runtime setting is '{name}', but its program `{found.binary}` is not on PATH.",
            hint=f"Install `{found.binary}`, or choose another runtime with "
            "`gt config set runtime NAME` (`scripted` needs nothing installed).",
        )
    preflight.check_version(found, program)
    return found
