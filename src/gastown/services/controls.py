"""The operator's levers: pause dispatch (the town or one rig), resume it, and drain.

A pause stops new dispatch only: running work carries on. `resume` lifts the pauses in its
scope, closes the circuit breaker at once (the failures that opened it no longer count) and
lets work that a used-up budget stopped go on for another budget's worth. Each writes the
ledger and wakes the town process, which acts on its next pass; with the town down, the
next `gt up` finds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gastown.clock import parse_stamp
from gastown.errors import Conflict
from gastown.limits import shown
from gastown.model import ACTIVE_RUN_STATUSES, Run
from gastown.reconciler.budget import EXCEEDED, Gauge
from gastown.reconciler.snapshot import BREAKER, Snapshot, load_snapshot
from gastown.record import Record, field
from gastown.services.ledger import Ledger
from gastown.services.listing import require_rig
from gastown.store import Tx, controls

MAX_REASON = 500
"""Characters kept of a pause's reason."""


class Resumed(Record):
    """What `resume` did."""

    lifted: list[dict[str, Any]] = field(default_factory=list)
    """The pauses it lifted, each with its `rig` (None: the town)."""
    breaker_closed: bool = False
    """Whether it closed the circuit breaker (it had paused the town)."""
    granted: list[dict[str, Any]] = field(default_factory=list)
    """The used-up budgets it let go on: `budget`, `setting`, `spent`, `limit`."""

    def to_json(self) -> dict[str, Any]:
        """What it did, as `gt resume --json` prints it."""
        return {
            "lifted": self.lifted,
            "breaker_closed": self.breaker_closed,
            "budgets_granted": self.granted,
        }

    def describe(self) -> str:
        """What it did, in sentences, as `gt resume` prints it."""
        said = []
        for p in self.lifted:
            said.append(f"Resumed dispatch on rig {p['rig']}." if p["rig"] else "Resumed dispatch.")
        if self.breaker_closed:
            said.append("Closed the circuit breaker: earlier failures no longer count.")
        for g in self.granted:
            said.append(
                f"Budget {g['setting']} for {g['what']} may spend another ${g['limit']:.2f}."
            )
        return "\n".join(said)


def who(pause: Mapping[str, Any]) -> str:
    """Who paused, in words."""
    return "the circuit breaker" if pause.get("by") == BREAKER else str(pause.get("by"))


def describe_pause(pause: Mapping[str, Any], rig: str | None = None) -> str:
    """ "dispatch is paused by … since …: reason" (on rig R)."""
    where = f" on rig {rig}" if rig else ""
    since = str(pause.get("since", ""))[:19].replace("T", " ")
    reason = f": {pause['reason']}" if pause.get("reason") else ""
    return f"dispatch{where} is paused by {who(pause)} since {since} UTC{reason}"


def pauses(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """Every pause: the town's under "", each paused rig's under its name."""
    with ledger.store.reader() as tx:
        return controls.pauses(tx)


def pause(ledger: Ledger, rig: str | None, reason: str, town: Path | None = None) -> dict[str, Any]:
    """Stop new dispatch on `rig` (None: the town). Pausing what is paused keeps the first
    pause (its time and reason) and says so."""
    reason = shown(reason.strip(), MAX_REASON) if reason.strip() else ""
    with ledger.store.transaction() as tx:
        require_rig(tx, rig)
        existing = controls.pauses(tx).get(rig or "")
        if existing is not None:
            return {"rig": rig, **existing, "already": True}
        now = ledger.now()
        record = {"since": now, "reason": reason, "by": ledger.actor}
        controls.set_pause(tx, rig, record)
        ledger.record_event(
            tx, "dispatch.paused", at=now, rig=rig, after={"by": ledger.actor}, reason=reason
        )
    _wake(town)
    return {"rig": rig, **record, "already": False}


def resume(
    ledger: Ledger,
    settings: Mapping[str, Any],
    environ: Mapping[str, str],
    rig: str | None = None,
    town: Path | None = None,
) -> Resumed:
    """Lift the pauses of `rig` (None: the town's and every rig's), close the circuit breaker
    (town-wide only) and grant the used-up budgets in scope another budget's worth."""
    done = Resumed()
    with ledger.store.transaction() as tx:
        require_rig(tx, rig)
        now = ledger.now()
        found = controls.pauses(tx)
        for scope, record in sorted(found.items()):
            if rig is not None and scope != rig:
                continue
            controls.set_pause(tx, scope or None, None)
            done.lifted.append({"rig": scope or None, **record})
            if record.get("by") == BREAKER:
                done.breaker_closed = True
            ledger.record_event(
                tx, "dispatch.resumed", at=now, rig=scope or None, reason=f"by {ledger.actor}"
            )
        if rig is None:
            controls.reset_breaker(tx, now)
        snap = load_snapshot(tx, parse_stamp(now), settings, environ=environ)
        used_up = [g for g in _gauges(snap, rig) if g.level == EXCEEDED]
        if used_up:
            state = controls.budget_state(tx).pruned(now[:10])
            for g in used_up:
                state.granted[g.key] = state.granted.get(g.key, 0.0) + g.spent
                state.told.pop(g.key, None)
                done.granted.append(
                    {
                        "budget": g.key,
                        "setting": g.setting,
                        "what": g.what,
                        "spent": round(g.spent, 6),
                        "limit": g.limit,
                    }
                )
            controls.set_budget_state(tx, state)
            ledger.record_event(
                tx,
                "budget.granted",
                at=now,
                rig=rig,
                after={"budgets": [g["budget"] for g in done.granted]},
                reason=f"by {ledger.actor}",
            )
        if not done.lifted and not done.granted:
            where = f" on rig {rig}" if rig else ""
            raise Conflict(
                f"Nothing is paused{where}: dispatch is running and no budget is used up.",
                hint="`gt status` shows what the town is doing.",
            )
    _wake(town)
    return done


def _gauges(snap: Snapshot, rig: str | None) -> list[Gauge]:
    """Every budget over the beads that could be dispatched or are running in scope."""
    if snap.spend is None:
        return []
    from gastown.reconciler.budget import Budgets

    budgets, seen = Budgets(), dict[str, Gauge]()
    items = [(b.rig, b.id, b.convoy_id) for beads in snap.ready.values() for b in beads]
    items += [(r.rig, r.bead_id, None) for r in snap.runs]
    for rig_name, bead_id, convoy_id in items:
        view = snap.rigs.get(rig_name)
        if view is None or (rig is not None and rig_name != rig):
            continue
        for g in budgets.gauges(
            snap.spend,
            view.limits,
            snap.town_daily_usd if rig is None else None,
            rig_name,
            bead_id,
            convoy_id,
        ):
            seen.setdefault(g.key, g)
    if rig is None and snap.town_daily_usd is not None:
        town = budgets.town(snap.spend, snap.town_daily_usd)
        seen.setdefault(town.key, town)
    return list(seen.values())


def active_runs(ledger: Ledger, rig: str | None) -> list[Run]:
    """The runs still going in scope (what a drain waits for)."""
    with ledger.store.reader() as tx:
        return _active(tx, rig)


def _active(tx: Tx, rig: str | None) -> list[Run]:
    require_rig(tx, rig)
    return tx.list_runs(statuses=ACTIVE_RUN_STATUSES, rig=rig)


def _wake(town: Path | None) -> None:
    if town is not None:
        from gastown.townrun import wake

        wake.notify(town)
