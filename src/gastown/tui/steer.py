"""What the terminal view's keys do, through what the CLI commands use: the town process's
agent routes for nudge and stop (as `gt nudge` and `gt agent stop`), the bead service for hold
(as `gt bead update --hold`), the escalation service for acknowledge (as `gt escalation ack`),
and the transcript readers of `gt peek` and the dashboard for peek.

Each returns the sentence to show; a refusal raises the command's own `GastownError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gastown.cli.app import App
from gastown.errors import NotFound

if TYPE_CHECKING:
    from gastown.polecat.transcript import Source

PEEK_LINES = 200
"""Transcript events peek starts with; it then follows the file (or, for a run on another
host, what it ships to the ledger)."""


class Steering:
    def __init__(self, app: App) -> None:
        self.app = app

    def nudge(self, polecat: str, text: str) -> str:
        """Nudge the polecat with `text` through the town; what was done, in one sentence."""
        result = self._agent(polecat, "nudge", text)
        said = result.get("said") or "sent"
        return f"Nudged {polecat}: {said}."

    def stop(self, polecat: str) -> str:
        """Stop the polecat's run (its bead is held); what was done, in one sentence."""
        result = self._agent(polecat, "stop", "")
        if result.get("stopping"):
            return f"Stopping {polecat}'s run {result['run']}; its bead will be held."
        return f"{polecat} had no run to stop."

    def hold(self, bead_id: str) -> str:
        """Hold the bead, or let a held one be dispatched again."""
        from gastown.services import beads

        with self.app.store.reader() as tx:
            found = tx.get_bead(bead_id)
        if found is None:
            raise NotFound(f"There is no bead '{bead_id}'.", hint="`gt bead list` lists them.")
        held = not found.held
        beads.update(self.app.ledger, bead_id, {"held": held}, reason="from gt feed")
        from gastown.townrun.wake import notify

        notify(self.app.town.path)  # the town process, if up, plans with it at once
        if held:
            return f"Held {bead_id}: it is not dispatched until released (h again)."
        return f"Released {bead_id}: it may be dispatched again."

    def acknowledge(self, escalation_id: int) -> str:
        """Acknowledge the escalation; what was done, in one sentence."""
        from gastown.services import escalations

        done = escalations.acknowledge(self.app.ledger, escalation_id)
        return f"Acknowledged escalation {done.id} ({done.severity})."

    def peek(self, polecat: str) -> tuple[str, Follower]:
        """A heading for the polecat's current (or last) run, and its transcript's reader."""
        from gastown.polecat.transcript import Source

        with self.app.store.reader() as tx:
            found = tx.get_polecat(polecat)
            run = tx.get_run(found.run_id) if found and found.run_id else None
        if run is None:
            raise NotFound(f"{polecat} has no run to peek at yet.")
        heading = f"{run.id}: {run.polecat} on {run.bead_id} ({run.status})"
        source = Source(self.app.town.path, run.id, run.transcript, self.app.store)
        return heading, Follower(source)

    def _agent(self, polecat: str, action: str, text: str) -> dict[str, Any]:
        from gastown.townrun.client import call_town

        body = {"actor": self.app.actor, "text": text}
        result: dict[str, Any] = call_town(
            self.app.town.path, "POST", f"/api/agents/{polecat}/{action}", body
        )
        return result


class Follower:
    """A run's transcript read as a conversation (as `gt peek` reads it), from its last
    `PEEK_LINES` events on, then what is written after."""

    def __init__(self, source: Source) -> None:
        from gastown.polecat.conversation import Conversation

        self.source = source
        self.talk = Conversation()
        events, self.offset = source.tail(PEEK_LINES)
        self.first = self._lines(events)

    def more(self) -> list[str]:
        """The lines written since the last read."""
        events, self.offset = self.source.read(self.offset)
        return self._lines(events)

    def _lines(self, events: list[dict[str, Any]]) -> list[str]:
        from gastown.polecat.conversation import as_text

        done = self.talk.feed_all(events)
        if not events:  # nothing new: a call still waiting for its result is shown running
            done += self.talk.flush()
        return [as_text(line) for line in done]
