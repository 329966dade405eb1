"""A loop step that fails every time is told to a person once, not logged forever.

Given a town whose refinery step crashes on each try (its reviewer cannot even be built),
when the town process steps the rig again and again, then one escalation names the rig and
the error, however often it fails after; a success clears it.
"""

from __future__ import annotations

import asyncio

from gastown import config
from gastown.model import Rig
from gastown.refinery.loop import RefineryLoop
from gastown.refinery.review import Reviewer
from gastown.refinery.step import Seams
from gastown.services import escalations
from gastown.services.faults import Faults
from tests.builders import Yard, remote, yard

__all__ = ["remote", "yard"]  # the fixtures this module uses, which pytest finds here by name


def broken_reviewer(_: config.Resolved) -> Reviewer:
    raise RuntimeError("the reviewer exploded\non two lines")


def test_a_refinery_step_that_always_crashes_raises_one_escalation(yard: Yard) -> None:
    yard.gt.ok("config", "set", "refinery.code_review", "true")
    yard.submit("A change", {"note.txt": "hello\n"})
    ledger = yard.ledger()
    faults = Faults(ledger)
    rig = Rig(name="app", url=str(yard.remote), branch="trunk", path="rigs/app")
    refinery = RefineryLoop(yard.town, {}, lambda: None, Seams(reviewer=broken_reviewer), faults)

    async def steps(count: int) -> None:
        for _ in range(count):
            refinery.poke([rig])
            await asyncio.gather(*refinery.steps.values())

    try:
        asyncio.run(steps(2))
        assert escalations.list_(ledger) == []  # two failures may be bad luck
        asyncio.run(steps(4))
        (raised,) = escalations.list_(ledger)
        assert raised.rig == "app" and raised.severity == "high"
        assert raised.message.startswith("The refinery on rig app failed 3 times in a row")
        assert "RuntimeError: the reviewer exploded on two lines" in raised.message

        faults.succeeded("the refinery on rig app")
        asyncio.run(steps(3))
        assert len(escalations.list_(ledger)) == 2  # a new run of failures is told anew
    finally:
        ledger.store.close()


def test_the_count_restarts_after_a_success(yard: Yard) -> None:
    ledger = yard.ledger()
    try:
        faults = Faults(ledger, threshold=2)
        faults.failed("the reconciler", ValueError("bad"))
        faults.succeeded("the reconciler")
        faults.failed("the reconciler", ValueError("bad"))
        assert escalations.list_(ledger) == []
        faults.failed("the reconciler", ValueError("worse"))
        (raised,) = escalations.list_(ledger)
        assert raised.rig is None and "ValueError: worse" in raised.message
    finally:
        ledger.store.close()
