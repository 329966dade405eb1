"""`plan(snapshot, now, policy)`: what the reconciler should do next. Pure: no store, no clock.

Read top to bottom: stop overdue runs and runs over their bead's budget; open or close the
circuit breaker; fail beads whose attempts are used up; then, unless dispatch is paused (town
or rig), fill each rig's free slots with its ready beads in priority order, skipping those
still backing off or over a budget, reusing idle polecats before naming new ones; last, say
what budgets reached a new level.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from gastown.model import IDLE
from gastown.reconciler.actions import (
    Action,
    BudgetNotice,
    Dispatch,
    Escalate,
    FailBead,
    PauseDispatch,
    ResumeDispatch,
    StopRun,
)
from gastown.reconciler.budget import EXCEEDED, LEVELS, Gauge
from gastown.reconciler.policy import Policy
from gastown.reconciler.snapshot import BREAKER, RigView, Snapshot


def plan(snap: Snapshot, now: datetime, policy: Policy) -> list[Action]:
    """The actions that bring the town closer to what its records ask for, in order."""
    actions: list[Action] = []
    seen: dict[str, Gauge] = {}

    def gauges(rig: RigView, bead_id: str, convoy_id: str | None) -> list[Gauge]:
        if snap.spend is None:
            return []
        found = policy.budgets.gauges(
            snap.spend, rig.limits, snap.town_daily_usd, rig.name, bead_id, convoy_id
        )
        for gauge in found:
            seen.setdefault(gauge.key, gauge)
        return found

    for run in snap.runs:
        if (reason := policy.timeouts.overdue(run, now)) is not None:
            actions.append(StopRun(run.id, run.bead_id, reason))
        elif (view := snap.rigs.get(run.rig)) is not None:
            # Only the bead's own budget stops a run; the others stop what comes next.
            for g in gauges(view, run.bead_id, None):
                if g.key.startswith("bead:") and g.level == EXCEEDED:
                    actions.append(StopRun(run.id, run.bead_id, g.stop_reason(), "release"))

    paused = snap.paused is not None
    failures = policy.breaker.recent(snap.failures, now)
    if not paused and failures >= policy.breaker.threshold:
        why = policy.breaker.describe(failures)
        actions.append(PauseDispatch(f"circuit breaker open: {why}"))
        actions.append(Escalate("high", f"Dispatch paused: {why}. Look at the failed runs."))
        paused = True
    elif snap.paused is not None and snap.paused.by == BREAKER and failures == 0:
        actions.append(ResumeDispatch("circuit breaker closed: no recent failures"))
        paused = False

    # Runs being stopped still count against capacity until they have ended.
    active = Counter(run.rig for run in snap.runs)
    busy = {run.polecat for run in snap.runs}
    idle = [p for p in snap.polecats if p.state == IDLE and p.name not in busy]
    taken = busy | {p.name for p in snap.polecats}

    for rig_name in sorted(snap.ready):
        rig = snap.rigs.get(rig_name)
        if rig is None:  # the rig was removed: nothing to cut a branch from
            continue
        free = policy.capacity.free(rig, active[rig_name])
        for bead in policy.priority.order(snap.ready[rig_name]):
            if bead.held or bead.staged:
                continue
            if policy.attempts.exhausted(bead, rig):
                reason = f"{bead.attempts} dispatch attempts failed"
                actions.append(FailBead(bead.id, reason))
                actions.append(
                    Escalate("high", f"Bead {bead.id} failed: {reason}.", bead.id, None, rig_name)
                )
                continue
            if paused or rig_name in snap.rig_pauses or free == 0:
                continue
            ready_at = policy.attempts.ready_at(bead)
            if ready_at is not None and ready_at > now:
                continue
            if policy.budgets.blocking(gauges(rig, bead.id, bead.convoy_id)) is not None:
                continue
            # An idle polecat already on this rig keeps its worktree; then any idle one.
            reuse = next((p for p in idle if p.rig == rig_name), idle[0] if idle else None)
            if reuse is not None:
                idle.remove(reuse)
                name, new = reuse.name, False
            else:
                name, new = policy.names.fresh(taken), True
                taken.add(name)
            runtime = bead.runtime or rig.runtime
            attempt = bead.attempts + 1
            actions.append(Dispatch(bead.id, rig_name, name, attempt, runtime, new, rig.retry_from))
            free -= 1
    if snap.spend is not None:
        actions.extend(_notices(snap, seen, policy))
    return actions


def _notices(snap: Snapshot, seen: dict[str, Gauge], policy: Policy) -> list[Action]:
    """A notice for each budget looked at whose level changed since it was last told."""
    assert snap.spend is not None
    if snap.town_daily_usd is not None:  # told even when nothing waits: the mayor spends too
        town = policy.budgets.town(snap.spend, snap.town_daily_usd)
        seen.setdefault(town.key, town)
    out: list[Action] = []
    for key, g in sorted(seen.items()):
        told = snap.spend.told.get(key, "")
        if g.level == told:
            continue
        rising = LEVELS.index(g.level) > LEVELS.index(told)
        message = "" if not rising else g.escalation() if g.level == EXCEEDED else g.warning()
        rig = None if key.startswith("town:") else g.rig
        bead = g.bead_id if key.startswith("bead:") else None
        out.append(BudgetNotice(key, g.level, message, g.setting, g.spent, g.limit, bead, rig))
    return out
