"""Telling a polecat at work what to do: `gt agent stop|reset NAME` and `gt nudge NAME TEXT`.

The town loop owns the agents it supervises; this module decides what an order means and
records it, and asks the loop (a `Supervisor`) to stop a run or for the session a nudge goes
into. A stop holds the bead with its attempt given back; a reset requeues it with all its
attempts given back (`polecat.ending` decides both when the run has ended).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from gastown.errors import Conflict, NotFound
from gastown.services import nudges
from gastown.services.ledger import Ledger

AFTER_STOP = {"stop": "hold", "reset": "requeue"}
"""What each order does to the bead of the run it stops (see `polecat.run.Handle`)."""


class Supervisor(Protocol):
    """The town loop, as the orders see it."""

    def supervises(self, run_id: str) -> bool:
        """Whether this town process follows the run's agent."""
        ...

    def session_of(self, run_id: str) -> Callable[[str], bool] | None:
        """How to write into the run's running session, if its agent takes messages."""
        ...

    def stop(self, run_id: str, reason: str, after: str | None = None) -> bool:
        """Stop a supervised run; its end is recorded when its agent exits."""
        ...


def control(
    ledger: Ledger, loop: Supervisor, name: str, action: str, actor: str, text: str = ""
) -> dict[str, object]:
    """Carry out `action` (stop, reset or nudge) on polecat `name` for `actor`."""
    with ledger.store.reader() as tx:
        polecat = tx.get_polecat(name)
        run = tx.get_run(polecat.run_id) if polecat and polecat.run_id else None
    if polecat is None:
        raise NotFound(f"There is no polecat '{name}'.", hint="`gt agents` lists them.")
    working = run if run is not None and run.active and loop.supervises(run.id) else None
    if action == "nudge":
        into = loop.session_of(working.id) if working is not None else None
        return nudges.nudge(ledger, polecat, working, actor, text, into)
    if action not in AFTER_STOP:
        raise NotFound(f"'{action}' is not something an agent can be told to do.")
    with ledger.store.transaction() as tx:
        ledger.record_event(
            tx,
            f"agent.{action}",
            bead_id=run.bead_id if run else None,
            rig=polecat.rig,
            after={"polecat": name, "run": run.id if run else None},
            reason=f"by {actor}",
        )
    if working is not None:
        loop.stop(working.id, f"{action} by {actor}", AFTER_STOP[action])
        return {"polecat": name, "run": working.id, "stopping": True}
    if action == "stop":
        raise Conflict(f"Polecat {name} is not working on anything.")
    return {"polecat": name, "run": None, "stopping": False}
