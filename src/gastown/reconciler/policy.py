"""The reconciler's rules as small objects, each answering one question about one thing.

`plan` asks them; it holds no numbers of its own. Per-rig settings in the snapshot
(`RigView.max_polecats`, `max_attempts`) win over the defaults held here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from gastown.clock import duration, parse_stamp
from gastown.model import QUEUED, STARTING, Run
from gastown.reconciler.budget import Budgets
from gastown.reconciler.snapshot import ReadyBead, RigView
from gastown.record import Record, field

POLECAT_NAMES = (
    "alder",
    "birch",
    "cedar",
    "dune",
    "ember",
    "fern",
    "flint",
    "hazel",
    "iris",
    "juniper",
    "kestrel",
    "linden",
    "marlin",
    "nettle",
    "onyx",
    "quill",
    "rowan",
    "sorrel",
    "tansy",
    "willow",
)
"""The default name pool; beyond it, polecats are `polecat-1`, `polecat-2`, ..."""


class Capacity(Record):
    """Never more active runs on a rig than its `max_polecats_per_rig`."""

    max_polecats_per_rig: int = 4
    """Used for a rig whose snapshot view does not say."""

    def free(self, rig: RigView, active: int) -> int:
        """How many more runs may start on `rig` now that `active` are under way."""
        limit = rig.max_polecats if rig.max_polecats is not None else self.max_polecats_per_rig
        return max(0, limit - active)


class Priority(Record):
    """Highest priority (0) first, then the oldest, then by id so the order is total."""

    def order(self, beads: Iterable[ReadyBead]) -> list[ReadyBead]:
        """`beads` in dispatch order."""
        return sorted(beads, key=lambda b: (b.priority, b.created_at, b.id))


class Attempts(Record):
    """A bead is dispatched at most `max_dispatch_attempts` times, waiting `backoff[n-1]`
    seconds after its n-th attempt ended (the last delay repeats)."""

    max_dispatch_attempts: int = 5
    """Dispatches a bead gets before it fails (a rig may set its own)."""
    backoff: tuple[float, ...] = (30, 60, 120, 300, 600)
    """Seconds to wait after each failed attempt, in order; the last repeats."""

    @classmethod
    def spaced(cls, seconds: float) -> Attempts:
        """The backoff `polecat.retry_backoff_seconds` sets: doubling, then 10× and 20× it."""
        return cls(backoff=tuple(seconds * n for n in (1, 2, 4, 10, 20)))

    def limit(self, rig: RigView) -> int:
        """The dispatches a bead of `rig` gets: the rig's own limit, else the town's."""
        return rig.max_attempts if rig.max_attempts is not None else self.max_dispatch_attempts

    def exhausted(self, bead: ReadyBead, rig: RigView) -> bool:
        """Whether `bead` has had all its dispatches."""
        return bead.attempts >= self.limit(rig)

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th dispatch ended (none before the first)."""
        if attempts <= 0 or not self.backoff:
            return 0.0
        return float(self.backoff[min(attempts, len(self.backoff)) - 1])

    def ready_at(self, bead: ReadyBead) -> datetime | None:
        """The earliest time `bead` may be dispatched again; None means now."""
        times = []
        if bead.not_before is not None:
            times.append(parse_stamp(bead.not_before))
        if bead.last_ended_at is not None:
            times.append(
                parse_stamp(bead.last_ended_at) + timedelta(seconds=self.delay(bead.attempts))
            )
        return max(times, default=None)


class CircuitBreaker(Record):
    """Pause dispatch town-wide once `threshold` runs have failed within `window` seconds, and
    escalate once; resume (only a pause of its own) when no failure is left in the window, so
    that a breaker at its threshold does not open and close with every failure."""

    threshold: int = 20
    """Failed runs within the window that open the breaker."""
    window: float = 1800
    """Seconds a failure counts for."""

    def recent(self, failures: Iterable[Run], now: datetime) -> int:
        """Failed runs that ended within the window."""
        since = now - timedelta(seconds=self.window)
        return sum(1 for r in failures if r.ended_at and parse_stamp(r.ended_at) >= since)

    def tripped(self, failures: Iterable[Run], now: datetime) -> bool:
        """Whether enough runs failed within the window to open the breaker."""
        return self.recent(failures, now) >= self.threshold

    def describe(self, count: int) -> str:
        """Why the breaker opened, in words: `20 runs failed in the last 30 min`."""
        return f"{count} runs failed in the last {duration(self.window)}"


class Timeouts(Record):
    """Runs that must be stopped: no output for `stall` seconds, running longer than `run`
    seconds, or not running `start` seconds after dispatch (a start that was lost)."""

    stall: float = 15 * 60
    """Seconds without output after which a run is stopped as stalled."""
    run: float = 2 * 60 * 60
    """Seconds a run may take in all."""
    start: float = 5 * 60
    """Seconds a dispatched run has to start."""

    def overdue(self, run: Run, now: datetime) -> str | None:
        """Why `run` must stop now, or None."""
        if run.status == QUEUED and run.queue is not None and run.host is None:
            return None  # waiting for a worker with a free slot, which is not a lost start
        if run.status in (QUEUED, STARTING):
            if now - parse_stamp(run.created_at) > timedelta(seconds=self.start):
                return f"did not start within {duration(self.start)}"
            return None
        started = parse_stamp(run.started_at or run.created_at)
        if now - started > timedelta(seconds=self.run):
            return f"ran longer than {duration(self.run)}"
        last = parse_stamp(run.last_heartbeat) if run.last_heartbeat else started
        if now - last > timedelta(seconds=self.stall):
            return f"stalled: no output for {duration(self.stall)}"
        return None


class Names(Record):
    """New polecats take the first free name of the pool, then `polecat-N`."""

    pool: tuple[str, ...] = POLECAT_NAMES
    """The names new polecats take first, in order."""

    def fresh(self, taken: set[str]) -> str:
        """A name no polecat in `taken` has: the pool's first free one, else `polecat-N`."""
        for name in self.pool:
            if name not in taken:
                return name
        n = 1
        while f"polecat-{n}" in taken:
            n += 1
        return f"polecat-{n}"


class Policy(Record):
    """Every rule `plan` follows."""

    capacity: Capacity = field(default_factory=Capacity)
    """How many runs may go at once, per rig."""
    priority: Priority = field(default_factory=Priority)
    """Which ready bead goes first."""
    attempts: Attempts = field(default_factory=Attempts)
    """How often a bead is tried, and how long it waits between tries."""
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    """When failures pause dispatch town-wide."""
    timeouts: Timeouts = field(default_factory=Timeouts)
    """When a run is stopped."""
    names: Names = field(default_factory=Names)
    """What new polecats are called."""
    budgets: Budgets = field(default_factory=Budgets)
    """When spend is announced and when it stops work."""
