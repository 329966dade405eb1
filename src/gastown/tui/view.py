"""What the terminal view shows, read in one pass over the store: `town_view`.

Pure over its inputs (a reader transaction, the time, two limits): no Textual, no printing,
no writes, so it is tested on its own and the view only lays it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gastown.cli.cmd_town import event_line
from gastown.clock import duration, parse_stamp
from gastown.model import ACTIVE_RUN_STATUSES, MR_HELD, MR_REWORK, Run
from gastown.reconciler.budget import EXCEEDED
from gastown.record import Record, field
from gastown.services import event_names
from gastown.services.controls import describe_pause
from gastown.services.merge_requests import LIVE
from gastown.store import BeadFilter, Tx, controls
from gastown.store.projection import bead_lines

FEED_LENGTH = 200
"""Events the feed keeps; older ones scroll away."""
LIST_LIMIT = 20
"""Failed and held beads listed among the problems (the newest ones)."""
PROBLEM_KINDS = ("escalation", "stalled", "failing", "sent back", "paused", "budget", "held")
"""Problem kinds, most urgent first: the pane lists them in this order."""


class AgentRow(Record):
    name: str
    """The polecat's name."""
    rig: str
    """The rig of its current or last work."""
    state: str
    """`idle`, `working` or `stopped`."""
    bead_id: str | None = None
    """The bead it works on, if any."""
    bead_title: str = ""
    """That bead's title."""
    run_id: str | None = None
    """Its current (or last) run."""
    status: str = "-"
    """The run's status (`running`, `succeeded`, ...), `-` with no run."""
    elapsed: float | None = None
    """Seconds the current run has been going (None when the polecat is not working)."""
    quiet: float | None = None
    """Seconds since the run's last output, while it runs."""
    cost_usd: float = 0.0
    """What the run has cost so far, in USD."""
    says: str = ""
    """The agent's latest `gt status` words, while it runs."""


class Problem(Record):
    kind: str
    """One of `PROBLEM_KINDS`."""
    text: str
    """What is wrong, in one line."""
    bead_id: str | None = None
    """The bead it is about, if any (the pane's keys act on it)."""
    polecat: str | None = None
    """The polecat it is about, if any."""
    escalation_id: int | None = None
    """The escalation it shows, if it is one (`a` acknowledges it)."""


class QueueRow(Record):
    id: str
    """The merge request's id."""
    status: str
    """Its status."""
    rig: str
    """Its rig."""
    bead_id: str | None = None
    """The bead it delivers (None for a convoy's landing)."""
    title: str = ""
    """That bead's title (for a landing, its branch)."""
    note: str = ""
    """Why it is where it is: the refinery's last word on it."""
    age: float = 0.0
    """Seconds since it was queued."""


class EventLine(Record):
    id: int
    """The event's id: the feed asks for those after the last one shown."""
    text: str
    """The event as a sentence."""


class TownView(Record):
    agents: list[AgentRow] = field(default_factory=list)
    """Every polecat, one row each."""
    problems: list[Problem] = field(default_factory=list)
    """What needs a person, most urgent first."""
    queue: list[QueueRow] = field(default_factory=list)
    """Merge requests not yet merged or failed."""
    events: list[EventLine] = field(default_factory=list)
    """Events after the `after` asked for, oldest first (at most `FEED_LENGTH`)."""
    working: int = 0
    """Polecats working now."""


def town_view(
    tx: Tx,
    now: datetime,
    *,
    quiet_after: float,
    after: int = 0,
    events: Mapping[str, Any] | None = None,
) -> TownView:
    """Agents (with their current run), problems, the merge queue, and the events after id
    `after` (those `events` picks: `Tx.list_events` filters, as `gt feed --rig` takes). A
    running agent silent for `quiet_after` seconds counts as stalled."""
    polecats = tx.list_polecats()
    active = {r.polecat: r for r in tx.list_runs(statuses=ACTIVE_RUN_STATUSES)}
    queue = tx.list_merge_requests(statuses=LIVE)
    # The newest few, straight from the beads table: a town may hold thousands of failed beads.
    failed, held = (
        tx.db.execute(
            f"SELECT id, title FROM beads WHERE {where} ORDER BY updated_at DESC LIMIT ?",
            (LIST_LIMIT,),
        ).fetchall()
        for where in ("status = 'failed'", "status = 'open' AND held = 1")
    )
    wanted = [p.bead_id for p in polecats if p.bead_id] + [m.bead_id for m in queue if m.bead_id]
    titles = _titles(tx, wanted)
    view = TownView()
    for p in polecats:
        run = active.get(p.name)
        row = AgentRow(p.name, p.rig, p.state, p.bead_id, titles.get(p.bead_id or "", ""))
        if run is not None:
            _with_run(row, run, now)
        view.agents.append(row)
    view.working = len(active)
    for e in tx.list_escalations(open_only=True):
        about = f" on {e.bead_id}" if e.bead_id else ""
        view.problems.append(
            Problem(
                "escalation", f"#{e.id} {e.severity}{about}: {e.message}", e.bead_id, None, e.id
            )
        )
    for row in view.agents:
        if row.quiet is not None and row.quiet >= quiet_after:
            view.problems.append(
                Problem(
                    "stalled",
                    f"{row.name} on {row.bead_id}: no output for {duration(row.quiet)}",
                    row.bead_id,
                    row.name,
                )
            )
    for run in active.values():
        if run.attempt > 1:
            view.problems.append(
                Problem(
                    "failing",
                    f"{run.bead_id} is on attempt {run.attempt} ({run.polecat})",
                    run.bead_id,
                    run.polecat,
                )
            )
    for bead_id, title in failed:
        view.problems.append(Problem("failing", f"{bead_id} failed: {title}", bead_id))
    for mr in queue:
        title = titles.get(mr.bead_id or "", mr.branch)
        view.queue.append(
            QueueRow(
                mr.id,
                mr.status,
                mr.rig,
                mr.bead_id,
                title,
                mr.note or "",
                _since(mr.created_at, now) or 0.0,
            )
        )
        if mr.status in (MR_REWORK, MR_HELD):
            why = f": {mr.note}" if mr.note else ""
            sent = "sent back" if mr.status == MR_REWORK else "held for a person"
            view.problems.append(Problem("sent back", f"{mr.id} '{title}' {sent}{why}", mr.bead_id))
    for scope, pause in sorted(controls.pauses(tx).items()):
        view.problems.append(Problem("paused", describe_pause(pause, scope or None)))
    state = controls.budget_state(tx).pruned(now.date().isoformat())
    for key, level in sorted(state.told.items()):
        if level == EXCEEDED:
            view.problems.append(Problem("budget", f"{budget_words(key)} is used up"))
    for bead_id, title in held:
        view.problems.append(Problem("held", f"{bead_id} is held: {title}", bead_id))
    order = {kind: i for i, kind in enumerate(PROBLEM_KINDS)}
    view.problems.sort(key=lambda p: order[p.kind])
    found = tx.list_events(**(events or {}), after_id=after, limit=FEED_LENGTH, newest_first=True)
    names = event_names.load(tx, [e.to_json() for e in found])  # titles for the sentences
    view.events = [EventLine(e.id, event_line(e, names)) for e in reversed(found)]
    return view


def budget_words(key: str) -> str:
    """A budget's key (`bead:gt-1`, `rig:app:2026-01-02`, `town:…`) in words."""
    kind, _, rest = key.partition(":")
    if kind == "town":
        return "the town's daily budget"
    if kind == "rig":
        return f"rig {rest.rpartition(':')[0] or rest}'s daily budget"
    return f"{kind} {rest}'s budget"


def _with_run(row: AgentRow, run: Run, now: datetime) -> None:
    row.run_id, row.status, row.cost_usd = run.id, run.status, run.cost_usd
    row.bead_id = row.bead_id or run.bead_id
    row.says = run.status_text or ""
    started = run.started_at or run.created_at
    row.elapsed = _since(started, now)
    if run.started_at:
        row.quiet = _since(run.last_heartbeat or run.started_at, now)


def _since(at: str | None, now: datetime) -> float | None:
    if not at:
        return None
    return max(0.0, (now - parse_stamp(at)).total_seconds())


def _titles(tx: Tx, ids: Sequence[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {line.id: line.title for line in bead_lines(tx, BeadFilter(ids=wanted))}
