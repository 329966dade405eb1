"""What the reconciler sees: an immutable view of the town at one moment.

`plan` decides from a `Snapshot` alone. `load_snapshot` builds one from the store in a single
read transaction; tests build them by hand. Times are RFC 3339 text, as in the records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from gastown import config
from gastown.clock import stamp
from gastown.model import ACTIVE_RUN_STATUSES, DEFAULT_PRIORITY, FAILED_RUN_STATUSES, Polecat, Run
from gastown.reconciler.budget import Limits, Spend
from gastown.sections import rig_daily_usd, sections

if TYPE_CHECKING:
    from gastown.store import Tx

BREAKER: str = "breaker"
"""`Pause.by` when the circuit breaker paused dispatch (it may also resume it)."""


class RigView(NamedTuple):
    """One rig's effective dispatch settings (town.toml < rig overrides < environment)."""

    name: str
    branch: str = ""
    """The target branch runs are cut from."""
    max_polecats: int | None = None
    """`max_polecats_per_rig`; None leaves it to the policy's `Capacity`."""
    max_attempts: int | None = None
    """`max_dispatch_attempts`; None leaves it to the policy's `Attempts`."""
    runtime: str = "claude"
    """The rig's runtime setting, for beads that did not ask for one."""
    limits: Limits = Limits()
    """The budgets of the rig's work."""
    retry_from: str = "previous"
    """`polecat.retry_from`: a retry continues its last attempt's branch, or starts `fresh`."""


class ReadyBead(NamedTuple):
    """A bead that may be dispatched: open, slung, on a rig, unblocked, and with no active run.
    (The column order is `Tx.dispatch_candidates`'.)"""

    id: str
    rig: str
    priority: int = DEFAULT_PRIORITY
    created_at: str = ""
    attempts: int = 0
    """Dispatches so far (each made a run)."""
    not_before: str | None = None
    """A hold-off set on the bead itself (for example after a missing runtime binary)."""
    runtime: str | None = None
    convoy_id: str | None = None
    last_ended_at: str | None = None
    """When its last run ended: the backoff counts from here."""
    held: bool = False
    """Never true from the store (held beads are not ready); `plan` still skips them."""
    staged: bool = False
    """In a staged convoy; likewise never ready, likewise skipped."""


class Pause(NamedTuple):
    """Dispatch is paused town-wide."""

    since: str
    reason: str
    by: str = BREAKER
    """`breaker`, or the person who paused it (the breaker resumes only its own pauses)."""


class Snapshot(NamedTuple):
    """The town as `plan` sees it. Treat the records inside as read-only."""

    rigs: Mapping[str, RigView]
    ready: Mapping[str, tuple[ReadyBead, ...]]
    """Ready beads per rig, by priority then age."""
    runs: tuple[Run, ...] = ()
    """Active runs (queued, starting, running) with their heartbeats."""
    polecats: tuple[Polecat, ...] = ()
    failures: tuple[Run, ...] = ()
    """Failed and lost runs that ended recently, for the circuit breaker."""
    paused: Pause | None = None
    rig_pauses: Mapping[str, Pause] = {}
    """Rigs paused on their own (`gt pause --rig`), by name."""
    town_daily_usd: float | None = None
    """The town's daily budget (`budget.daily_usd` in town.toml)."""
    spend: Spend | None = None
    """What budgets need to know; None when no budget is set (then nothing is read)."""


def load_snapshot(
    tx: Tx,
    now: datetime,
    settings: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    lookback: float = 3600.0,
) -> Snapshot:
    """Read a snapshot. `settings` is the town layer (town.toml, dotted keys); each rig's own
    overrides come from its record. Failures are read back `lookback` seconds (at least the
    circuit breaker's window)."""
    from gastown.store import controls

    rigs = {}
    for rig in tx.list_rigs():
        read = sections(config.resolve(settings, rig.settings, environ))
        rigs[rig.name] = RigView(
            rig.name,
            rig.branch,
            read.dispatch.max_polecats_per_rig,
            read.dispatch.max_dispatch_attempts,
            read.agents.runtime,
            Limits(
                read.budget.per_bead_usd,
                read.budget.per_convoy_usd,
                rig_daily_usd(rig.settings),
            ),
            read.polecat.retry_from,
        )
    town_daily = sections(config.resolve(settings, None, environ)).budget.daily_usd
    ready: dict[str, list[ReadyBead]] = defaultdict(list)
    for row in tx.dispatch_candidates():
        bead = ReadyBead(*row)
        ready[bead.rig].append(bead)
    everything = controls.pauses(tx)
    pause = everything.pop("", None)
    since = stamp(now - timedelta(seconds=lookback))
    reset = controls.breaker_reset_at(tx)
    if reset is not None and reset > since:  # `gt resume` closed the breaker: older ones are done
        since = reset
    spend = None
    if town_daily is not None or any(r.limits.any for r in rigs.values()):
        state = controls.budget_state(tx)
        spend = controls.spend(tx, stamp(now)[:10], state)
    return Snapshot(
        rigs=rigs,
        ready={rig: tuple(beads) for rig, beads in ready.items()},
        runs=tuple(tx.list_runs(statuses=ACTIVE_RUN_STATUSES)),
        polecats=tuple(tx.list_polecats()),
        failures=tuple(tx.list_runs(statuses=FAILED_RUN_STATUSES, ended_since=since)),
        paused=None if pause is None else Pause(pause["since"], pause["reason"], pause["by"]),
        rig_pauses={rig: Pause(p["since"], p["reason"], p["by"]) for rig, p in everything.items()},
        town_daily_usd=town_daily,
        spend=spend,
    )
