"""A nudge: a short message for a polecat at work, from a person or the mayor.

It goes the fastest way the polecat's runtime allows: into the running session when the CLI
takes messages mid-run (`polecat/session.py`); else into its mail, which the built-in agent
reads after its next tool call (`runtimes/builtin_mail.py`) and any other agent at its next
`gt mail check`. Either way the message is kept as mail (read at once when it went into the
session, so `gt mail check` does not give it twice) and an `agent.nudged` event says which
way it went. A polecat with nothing running cannot be nudged: mail waits for it instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from gastown.errors import Conflict
from gastown.model import Polecat, Run
from gastown.services import mail
from gastown.services.ledger import Ledger

Way = Literal["session", "tool", "mail"]

AT_TOOL_CALLS = frozenset({"builtin"})
"""Runtimes whose agent reads its mail after every tool call."""

SAID: dict[Way, str] = {
    "session": "delivered into its running session",
    "tool": "delivered at its next tool call",
    "mail": "queued for its next `gt mail check`",
}
"""What `gt nudge` says about each way."""


def nudge(
    ledger: Ledger,
    polecat: Polecat,
    run: Run | None,
    actor: str,
    text: str,
    into_session: Callable[[str], bool] | None,
) -> dict[str, Any]:
    """Nudge `polecat` (whose active run is `run`, None when it has none) with `text`;
    `into_session` writes into its session and says whether it could."""
    if run is None:
        raise Conflict(
            f"Polecat {polecat.name} is not working on anything, so there is nobody to nudge.",
            hint=f"Mail it instead: `gt inbox send {polecat.name} TEXT` waits for its next run.",
        )
    body = mail.checked_text(text)
    way: Way = "mail"
    if into_session and into_session(f"Message from {actor}: {body}"):
        way = "session"
    elif run.runtime in AT_TOOL_CALLS:
        way = "tool"
    with ledger.store.transaction() as tx:
        sent = mail.send_in(
            ledger,
            tx,
            actor,
            polecat.name,
            body,
            bead_id=run.bead_id,
            rig=polecat.rig,
            delivered=way == "session",
        )
        ledger.record_event(
            tx,
            "agent.nudged",
            bead_id=run.bead_id,
            rig=polecat.rig,
            after={"polecat": polecat.name, "mail": sent.id, "delivered": way},
            reason=body,
        )
    return {
        "polecat": polecat.name,
        "run": run.id,
        "mail": sent.id,
        "delivered": way,
        "said": SAID[way],
        "working": True,
    }
