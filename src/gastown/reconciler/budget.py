"""Budgets: what the town may spend, checked by the planner from figures the snapshot carries.

A budget is a limit in USD on one thing: a bead (`budget.per_bead_usd`, all its runs and its
reviews), a convoy (`budget.per_convoy_usd`, all its beads), a rig's day or the whole town's
day (`budget.daily_usd`, the mayor counted in the town's). Each has a key (`bead:gt-abc`,
`convoy:cv-1`, `rig:app:2026-12-07`, `town:2026-12-07`), so the day's keys are new each UTC
day. `gt resume` grants a budget that is used up another budget's worth: what was spent when
it was granted no longer counts (`Spend.granted`). Checking costs no model call and no query
per bead: the snapshot reads every figure in one statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from gastown.record import Record

WARNING = "warning"
EXCEEDED = "exceeded"
LEVELS = ("", WARNING, EXCEEDED)
"""What has been said about a budget, in order: nothing, its 80% warning, its stop."""


class Spend(NamedTuple):
    """What has been spent on the things the planner may dispatch or stop, in USD."""

    day: str
    """The UTC day the daily figures are for (YYYY-MM-DD)."""
    beads: Mapping[str, float]
    """Per unfinished bead: its runs (a running one's cost so far) and its reviews."""
    convoys: Mapping[str, float] = {}
    """Per open convoy: every bead in it."""
    rigs_today: Mapping[str, float] = {}
    town_today: float = 0.0
    """Every rig today, and the mayor."""
    granted: Mapping[str, float] = {}
    """Per budget key: the spend `gt resume` found when it let work go on past the budget."""
    told: Mapping[str, str] = {}
    """Per budget key: the last level announced (`warning` or `exceeded`)."""


class Gauge(NamedTuple):
    """One budget and how much of it is used."""

    key: str
    setting: str
    """The setting that sets it (`budget.per_bead_usd`, ...)."""
    what: str
    """What it covers, in words: `bead gt-abc`, `rig app today`, `the town today`."""
    limit: float
    spent: float
    """Spent since the budget was last granted (see `Spend.granted`)."""
    rig: str | None = None
    bead_id: str | None = None
    convoy_id: str | None = None
    warn_at: float = 0.8

    @property
    def level(self) -> str:
        """`exceeded`, `warning`, or "" while under the warning share."""
        if self.spent >= self.limit:
            return EXCEEDED
        return WARNING if self.spent >= self.limit * self.warn_at else ""

    @property
    def over(self) -> float:
        """USD spent past the limit (0 when not past it)."""
        return max(0.0, self.spent - self.limit)

    def stop_reason(self) -> str:
        """Why its work stops, as a stopped run's outcome says it."""
        return f"over {self.setting}: ${self.spent:.2f} spent of ${self.limit:.2f} for {self.what}"

    def warning(self) -> str:
        """The notice at `warn_at` of the budget, in one sentence."""
        share = 100 * self.spent / self.limit if self.limit else 100.0
        return (
            f"{self.what.capitalize()} has used {share:.0f}% of its budget "
            f"(${self.spent:.2f} of ${self.limit:.2f}, {self.setting})."
        )

    def escalation(self) -> str:
        """The used-up notice, with how to raise the budget or go on past it."""
        town = self.key.startswith("town:")
        rig = "" if town or not self.rig else f" (add --rig {self.rig} for this rig alone)"
        resume = f"gt resume --rig {self.rig}" if self.key.startswith("rig:") else "gt resume"
        return (
            f"Budget {self.setting} is used up for {self.what}: ${self.spent:.2f} spent of "
            f"${self.limit:.2f} (${self.over:.2f} over); its work is not dispatched. Raise it "
            f"with `gt config set {self.setting} N`{rig}, or let it go on with `{resume}` "
            f"(another ${self.limit:.2f})."
        )


class Limits(NamedTuple):
    """The budgets of one rig's work (None: no limit)."""

    per_bead: float | None = None
    per_convoy: float | None = None
    daily: float | None = None
    """The rig's own daily budget (set on the rig, not inherited from the town)."""

    @property
    def any(self) -> bool:
        """Whether any budget is set."""
        return self.per_bead is not None or self.per_convoy is not None or self.daily is not None


class Budgets(Record):
    """Announce a budget at `warn_at` of it; stop its work when it is used up."""

    warn_at: float = 0.8
    """The share of a budget that is announced (0.8: at 80%)."""

    def gauges(
        self,
        spend: Spend,
        limits: Limits,
        town_daily: float | None,
        rig: str,
        bead_id: str,
        convoy_id: str | None,
    ) -> list[Gauge]:
        """Every budget that covers `bead_id` on `rig`, with what is spent of it."""
        found: list[Gauge] = []

        def add(key: str, setting: str, what: str, limit: float | None, gross: float) -> None:
            if limit is not None:
                spent = max(0.0, gross - spend.granted.get(key, 0.0))
                found.append(
                    Gauge(key, setting, what, limit, spent, rig, bead_id, convoy_id, self.warn_at)
                )

        add(
            f"bead:{bead_id}",
            "budget.per_bead_usd",
            f"bead {bead_id}",
            limits.per_bead,
            spend.beads.get(bead_id, 0.0),
        )
        if convoy_id is not None:
            add(
                f"convoy:{convoy_id}",
                "budget.per_convoy_usd",
                f"convoy {convoy_id}",
                limits.per_convoy,
                spend.convoys.get(convoy_id, 0.0),
            )
        add(
            f"rig:{rig}:{spend.day}",
            "budget.daily_usd",
            f"rig {rig} today",
            limits.daily,
            spend.rigs_today.get(rig, 0.0),
        )
        if town_daily is not None:
            found.append(self.town(spend, town_daily))
        return found

    def town(self, spend: Spend, limit: float) -> Gauge:
        """The town's daily budget."""
        key = f"town:{spend.day}"
        spent = max(0.0, spend.town_today - spend.granted.get(key, 0.0))
        return Gauge(key, "budget.daily_usd", "the town today", limit, spent, warn_at=self.warn_at)

    def blocking(self, gauges: list[Gauge]) -> Gauge | None:
        """The first used-up budget among `gauges`, or None."""
        return next((g for g in gauges if g.level == EXCEEDED), None)


class BudgetState(Record):
    """What `gt resume` and the notices keep between passes (the `budget.state` meta value)."""

    told: dict[str, str]
    """Per budget key: the last level announced (`warning` or `exceeded`)."""
    granted: dict[str, float]
    """Per budget key: the spend `gt resume` found when it let work go on past it."""

    def pruned(self, day: str) -> BudgetState:
        """Without the daily keys of other days."""

        def today(key: str) -> bool:
            return not key.startswith(("rig:", "town:")) or key.endswith(":" + day)

        return BudgetState(
            {k: v for k, v in self.told.items() if today(k)},
            {k: v for k, v in self.granted.items() if today(k)},
        )
