"""What an agent may tell the town about its own run: done, status, checkpoint, escalate, mail,
and asking for its instructions again (`prime`).

Every call names the run its token was minted for, and each one checks, in the transaction that
writes, that the run is still active: an ended run's agent is refused, whatever it was told
before. The one exception is `gt done` said twice, which answers that it was already recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gastown.errors import InvalidValue, NotFound, Refused
from gastown.model import Escalation, Event, Mail, Run
from gastown.services import escalations, mail
from gastown.services.ledger import Ledger
from gastown.store import Tx

MAX_STATUS = 500
MAX_CHECKPOINT = 64_000
"""Bytes of JSON a checkpoint may hold: enough for notes and a plan, not for files."""


def actor(run: Run) -> str:
    """Who an agent is in the event log: as its commits are authored."""
    return f"{run.rig}/polecat/{run.polecat}"


def find_run(tx: Tx, run_id: str, *, lock: bool = False) -> Run:
    """The run an agent's token names; else the refusal that the token is not this town's."""
    run = tx.get_run(run_id, lock=lock)
    if run is None:
        raise Refused(f"Run {run_id} is not a run of this town; its token is refused.")
    return run


def active_run(tx: Tx, run_id: str) -> Run:
    """The run, locked until commit, if it is still active; else a plain refusal."""
    run = find_run(tx, run_id, lock=True)
    if not run.active:
        raise Refused(f"Run {run.id} has ended ({run.status}); its token is no longer accepted.")
    return run


def done(ledger: Ledger, run_id: str, summary: str | None) -> dict[str, Any]:
    """Record the agent's `gt done`. Said again, it is answered, not recorded twice."""
    text = (summary or "").strip() or None
    with ledger.store.transaction() as tx:
        run = find_run(tx, run_id, lock=True)
        if run.done_at is not None:
            tx.append_events([_event(ledger, "run.done_repeated", run, {"done_at": run.done_at})])
            return {**_done(run), "already": True}
        run = active_run(tx, run_id)
        at = ledger.now()
        tx.mark_done(run.id, text, at)
        run.summary, run.done_at = text, at
        tx.append_events([_event(ledger, "run.done", run, {"summary": text}, at=at)])
        return {**_done(run), "already": False}


def status(ledger: Ledger, run_id: str, text: str) -> dict[str, Any]:
    """Keep the agent's latest word on its progress."""
    said = " ".join(text.split())
    if not said:
        raise InvalidValue("A status needs some text.")
    if len(said) > MAX_STATUS:
        raise InvalidValue(
            f"A status is at most {MAX_STATUS} characters; this one has {len(said)}."
        )
    with ledger.store.transaction() as tx:
        run = active_run(tx, run_id)
        at = ledger.now()
        tx.set_run_status(run.id, said, at)
        tx.append_events([_event(ledger, "run.status", run, {"text": said}, at=at)])
    return {"run_id": run.id, "bead_id": run.bead_id, "status_text": said, "status_at": at}


def checkpoint(ledger: Ledger, run_id: str, data: Any) -> dict[str, Any]:
    """Keep a JSON object the agent wants remembered (the latest replaces the one before)."""
    if not isinstance(data, dict):
        raise InvalidValue('A checkpoint must be a JSON object, like {"step": 2}.')
    size = len(json.dumps(data))
    if size > MAX_CHECKPOINT:
        raise InvalidValue(f"A checkpoint is at most {MAX_CHECKPOINT} bytes of JSON, not {size}.")
    with ledger.store.transaction() as tx:
        run = active_run(tx, run_id)
        at = ledger.now()
        tx.set_checkpoint(run.id, data, at)
        after = {"keys": sorted(data), "bytes": size}
        tx.append_events([_event(ledger, "run.checkpoint", run, after, at=at)])
    return {"run_id": run.id, "bead_id": run.bead_id, "checkpoint_at": at, "bytes": size}


def escalate(ledger: Ledger, run_id: str, severity: str, text: str) -> Escalation:
    """Raise an escalation about the run's bead."""
    with ledger.store.transaction() as tx:
        run = active_run(tx, run_id)
        return escalations.raise_in(
            ledger, tx, severity, text, bead_id=run.bead_id, run_id=run.id, rig=run.rig
        )


def send_mail(ledger: Ledger, run_id: str, to: str, text: str) -> Mail:
    """Mail from the run's polecat to another polecat, the mayor or the town."""
    with ledger.store.transaction() as tx:
        run = active_run(tx, run_id)
        return mail.send_in(ledger, tx, run.polecat, to, text, bead_id=run.bead_id, rig=run.rig)


def check_mail(ledger: Ledger, run_id: str, *, quiet: bool = False) -> list[Mail]:
    """The polecat's unread mail, marked read. `quiet` (the built-in agent, which asks at
    every tool call) looks first and writes nothing when there is none."""
    if quiet:
        with ledger.store.reader() as tx:
            run = active_run(tx, run_id)
            if not tx.count_unread_mail([run.polecat]):
                return []
    with ledger.store.transaction() as tx:
        run = active_run(tx, run_id)
        return mail.take_in(ledger, tx, run.polecat, bead_id=run.bead_id, rig=run.rig)


def prime(ledger: Ledger, run_id: str, town_path: Path) -> dict[str, Any]:
    """The run's prompt, as the supervisor wrote it to `logs/runs/<run-id>/prompt.md`."""
    path = town_path / "logs" / "runs" / run_id / "prompt.md"
    with ledger.store.transaction() as tx:
        run = active_run(tx, run_id)
        try:
            prompt = path.read_text()
        except FileNotFoundError:
            raise NotFound(f"No prompt was written for run {run_id} (expected {path}).") from None
        tx.append_events([_event(ledger, "run.primed", run, {"bytes": len(prompt)})])
    return {"run_id": run.id, "bead_id": run.bead_id, "prompt": prompt}


def _done(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "bead_id": run.bead_id,
        "summary": run.summary,
        "done_at": run.done_at,
    }


def _event(
    ledger: Ledger, kind: str, run: Run, after: dict[str, Any], at: str | None = None
) -> Event:
    return ledger.event(
        kind, at=at, bead_id=run.bead_id, rig=run.rig, after={"run_id": run.id, **after}
    )
