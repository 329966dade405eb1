"""The reconciler: look at the town (`load_snapshot`), decide (`plan`), act (`apply`, next).

`plan(snapshot, now, policy)` is pure: the same snapshot, time and policy give the same actions,
so every rule is tested as a table of scenarios on a fake clock.

The loop that runs a pass (look, decide, act, then start and stop agents) lives in the town
process: `process/town_loop.py` (`TownLoop.reconcile`). A run's own ending is decided in
`polecat/ending.py`, the same way.
"""

from gastown.reconciler.actions import (
    Action,
    Dispatch,
    Escalate,
    FailBead,
    PauseDispatch,
    ResumeDispatch,
    StopRun,
)
from gastown.reconciler.plan import plan
from gastown.reconciler.policy import (
    Attempts,
    Capacity,
    CircuitBreaker,
    Names,
    Policy,
    Priority,
    Timeouts,
)
from gastown.reconciler.snapshot import Pause, ReadyBead, RigView, Snapshot, load_snapshot

__all__ = [
    "Action",
    "Attempts",
    "Capacity",
    "CircuitBreaker",
    "Dispatch",
    "Escalate",
    "FailBead",
    "Names",
    "Pause",
    "PauseDispatch",
    "Policy",
    "Priority",
    "ReadyBead",
    "ResumeDispatch",
    "RigView",
    "Snapshot",
    "StopRun",
    "Timeouts",
    "load_snapshot",
    "plan",
]
