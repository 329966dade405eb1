"""Why a bead that is ready is not being dispatched: the town's reasons, not the bead's.

`deps.readiness` says what holds a bead back in the ledger (held, blocked, a staged convoy).
A ready bead may still wait on the town: dispatch paused (by a person or the circuit
breaker, town-wide or on its rig), a used-up budget, the backoff after a failed attempt, or
a runtime whose program is missing. `holdups` names each, as the planner would decide.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

from gastown import config
from gastown.clock import duration, stamp
from gastown.model import Bead
from gastown.reconciler.budget import EXCEEDED, Budgets, Limits
from gastown.sections import rig_daily_usd, sections
from gastown.services import retries
from gastown.services.controls import describe_pause
from gastown.services.ledger import Ledger
from gastown.store import controls


def holdups(
    ledger: Ledger,
    bead: Bead,
    settings: Mapping[str, Any],
    environ: Mapping[str, str],
) -> list[str]:
    """What keeps `bead` (open, on a rig) from its next dispatch, in words; empty if nothing."""
    if bead.rig is None or bead.status != "open":
        return []
    now = ledger.clock.now()
    found: list[str] = []
    with ledger.store.reader() as tx:
        rig = tx.get_rig(bead.rig)
        if rig is None:
            return []
        read = sections(config.resolve(settings, rig.settings, environ))
        town_daily = sections(config.resolve(settings, None, environ)).budget.daily_usd
        pauses = controls.pauses(tx)
        for scope in ("", bead.rig):
            if scope in pauses:
                found.append(f"{describe_pause(pauses[scope], scope or None)} (`gt resume`)")
        limits = Limits(
            read.budget.per_bead_usd, read.budget.per_convoy_usd, rig_daily_usd(rig.settings)
        )
        if limits.any or town_daily is not None:
            spend = controls.spend(tx, stamp(now)[:10], controls.budget_state(tx))
            gauges = Budgets().gauges(spend, limits, town_daily, bead.rig, bead.id, bead.convoy_id)
            for g in gauges:
                if g.level == EXCEEDED:
                    found.append(
                        f"{g.stop_reason()} (`gt config set {g.setting} N` or `gt resume`)"
                    )
        attempts, not_before = tx.get_dispatch(bead.id) or (0, None)
        ended = [r.ended_at for r in tx.list_runs(bead_id=bead.id) if r.ended_at]
    waiting = retries.next_attempt(
        attempts,
        not_before,
        max(ended, default=None),
        float(read.polecat.retry_backoff_seconds),
    )
    if waiting is not None and waiting > now:
        found.append(
            f"waiting for its next attempt (attempt {attempts + 1}) until "
            f"{stamp(waiting)[:19].replace('T', ' ')} UTC, in "
            f"{duration((waiting - now).total_seconds())}"
        )
    runtime = bead.runtime or read.agents.runtime
    if (missing := missing_program(runtime, environ)) is not None:
        found.append(
            f"runtime {runtime}'s program `{missing}` is not on PATH (install it, or "
            "`gt config set runtime NAME`)"
        )
    return found


def missing_program(runtime: str, environ: Mapping[str, str]) -> str | None:
    """The program `runtime` needs, when it is not on PATH (None when it is, or unknown)."""
    from gastown.runtimes.registry import REGISTRY

    found = REGISTRY.get(runtime)
    if found is None or shutil.which(found.binary, path=environ.get("PATH")) is not None:
        return None
    return found.binary
