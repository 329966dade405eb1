"""The records behind the operator's levers and the budgets, kept in `meta`.

A town-wide pause is `dispatch.paused` (as the circuit breaker has always written it); a
rig's is `dispatch.paused:<rig>`. `breaker.reset_at` is when `gt resume` last closed the
circuit breaker: failures that ended before it no longer count. `budget.state` holds the
budgets' notices and grants (`reconciler.budget.BudgetState`). Plain functions over a `Tx`,
so the store's classes stay as they are.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gastown.model import CONVOY_OPEN, IN_PROGRESS, IN_REVIEW, OPEN
from gastown.reconciler.budget import BudgetState, Spend
from gastown.store.rows import ACTIVE_RUNS

if TYPE_CHECKING:
    from gastown.store.sql import Tx

PAUSE_KEY = "dispatch.paused"
RIG_PAUSE = PAUSE_KEY + ":"
BREAKER_RESET_KEY = "breaker.reset_at"
BUDGET_KEY = "budget.state"
_ACTIVE = ACTIVE_RUNS
_UNFINISHED = f"'{OPEN}', '{IN_PROGRESS}', '{IN_REVIEW}'"


def pauses(tx: Tx) -> dict[str, dict[str, Any]]:
    """Every pause: the town's under "" (if any), each paused rig's under its name."""
    rows = tx.db.execute(
        "SELECT key, value FROM meta WHERE key = ? OR key LIKE ?", (PAUSE_KEY, RIG_PAUSE + "%")
    ).fetchall()
    return {str(k).removeprefix(PAUSE_KEY).removeprefix(":"): dict(json.loads(v)) for k, v in rows}


def set_pause(tx: Tx, rig: str | None, pause: dict[str, Any] | None) -> None:
    """Pause (or, with None, resume) the town or one rig."""
    key = PAUSE_KEY if rig is None else RIG_PAUSE + rig
    if pause is None:
        tx.db.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        tx.set_meta(key, json.dumps(pause, sort_keys=True))


def breaker_reset_at(tx: Tx) -> str | None:
    """When the whole town was last resumed (`gt resume`), or None."""
    return tx.get_meta(BREAKER_RESET_KEY)


def reset_breaker(tx: Tx, at: str) -> None:
    """Reset the circuit breaker at `at`: failures before it no longer count towards it."""
    tx.set_meta(BREAKER_RESET_KEY, at)


def budget_state(tx: Tx) -> BudgetState:
    """The budget levels last announced and the spend granted past a budget, as kept."""
    text = tx.get_meta(BUDGET_KEY)
    data = json.loads(text) if text else {}
    return BudgetState(dict(data.get("told", {})), dict(data.get("granted", {})))


def set_budget_state(tx: Tx, state: BudgetState) -> None:
    """Keep the budget levels last announced and the spend granted past a budget."""
    tx.set_meta(BUDGET_KEY, json.dumps({"told": state.told, "granted": state.granted}))


def set_live_cost(tx: Tx, run_id: str, usd: float) -> None:
    """What an active run has cost so far, from its usage events (its end writes the total)."""
    tx.db.execute(
        f"UPDATE runs SET cost_usd = ? WHERE id = ? AND status IN ({_ACTIVE})", (usd, run_id)
    )


def spend(tx: Tx, day: str, state: BudgetState) -> Spend:
    """What the budgets need, in one statement: per unfinished bead and per open convoy what
    its runs and its other model calls (reviews, `spend` rows) cost, and today's
    spend per rig and of the rest of the town (the mayor, calls on no rig). A run counts for
    the day it ends, a running one (its cost so far) for today. `gt costs` rolls the same
    figures up in `store/costs.py`."""
    unfinished = f"b.status IN ({_UNFINISHED})"
    open_convoy = f"c.status = '{CONVOY_OPEN}'"
    # Beads and convoys are separate arms: one OR across both makes SQLite's plan 4× slower.
    rows = tx.db.execute(
        "SELECT 'b', r.bead_id, SUM(r.cost_usd) FROM runs r JOIN beads b ON b.id = r.bead_id "
        f"WHERE {unfinished} GROUP BY r.bead_id "
        "UNION ALL SELECT 'b', s.bead_id, SUM(s.cost_usd) FROM spend s "
        f"JOIN beads b ON b.id = s.bead_id WHERE {unfinished} GROUP BY s.bead_id "
        "UNION ALL SELECT 'c', b.convoy_id, SUM(r.cost_usd) FROM convoys c "
        "JOIN beads b ON b.convoy_id = c.id JOIN runs r ON r.bead_id = b.id "
        f"WHERE {open_convoy} GROUP BY b.convoy_id "
        "UNION ALL SELECT 'c', s.convoy_id, SUM(s.cost_usd) FROM convoys c "
        f"JOIN spend s ON s.convoy_id = c.id WHERE {open_convoy} GROUP BY s.convoy_id "
        "UNION ALL SELECT 'r', rig, SUM(cost_usd) FROM runs WHERE ended_at >= ? GROUP BY rig "
        "UNION ALL SELECT 'r', rig, SUM(cost_usd) FROM runs "
        f"WHERE status IN ({_ACTIVE}) GROUP BY rig "
        "UNION ALL SELECT 'r', rig, SUM(cost_usd) FROM spend "
        "WHERE at >= ? AND rig IS NOT NULL GROUP BY rig "
        "UNION ALL SELECT 't', NULL, SUM(cost_usd) FROM spend WHERE at >= ? AND rig IS NULL "
        "UNION ALL SELECT 't', NULL, SUM(cost_usd) FROM mayor_messages WHERE created_at >= ?",
        (day, day, day, day),
    ).fetchall()
    sums: dict[str, dict[str, float]] = {"b": {}, "c": {}, "r": {}, "t": {}}
    for kind, name, usd in rows:
        found = sums[kind]
        found[name or ""] = found.get(name or "", 0.0) + float(usd or 0.0)
    rigs = sums["r"]
    return Spend(
        day[:10],
        sums["b"],
        sums["c"],
        rigs,
        sum(rigs.values()) + sum(sums["t"].values()),
        state.granted,
        state.told,
    )
