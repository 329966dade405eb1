"""The open line into a running agent's session: where a nudge goes when the CLI takes input
mid-run (Claude Code's stream-json input), instead of waiting in mail for `gt mail check`.

The agent's stdin is a pipe held by the town process. The prompt is written first; a nudge is
one more user message, which the CLI hands the model with its next tool result. When the CLI
ends its turn the pipe is closed, which ends the CLI; from then on (and for an adopted run,
whose pipe died with the town process that started it) a nudge waits in mail.
"""

from __future__ import annotations

import asyncio
import contextlib

from gastown.runtimes.base import user_message


class Session:
    """A running agent's stdin, while it still takes messages."""

    def __init__(self, stdin: asyncio.StreamWriter) -> None:
        self.stdin = stdin
        self.closed = False

    @property
    def open(self) -> bool:
        """Whether a message written now reaches the agent in this turn."""
        return not self.closed and not self.stdin.is_closing()

    def send(self, text: str) -> bool:
        """Write one user message; False when the session no longer takes messages. The pipe
        buffers what the agent has not read yet, so this never waits."""
        if not self.open:
            return False
        try:
            self.stdin.write(user_message(text).encode("utf-8"))
        except (BrokenPipeError, ConnectionResetError):  # the agent is gone: mail it instead
            self.closed = True
            return False
        return True

    def close(self) -> None:
        """End the input: the agent finishes what it has and exits."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.stdin.close()
