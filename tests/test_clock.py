"""The town's waits between passes: woken early by an event, ended by a cancellation always."""

from __future__ import annotations

import asyncio

import pytest

from gastown.townrun.wake import woken_or_after


def test_a_wait_ends_when_woken_and_clears_the_event() -> None:
    async def scenario() -> bool:
        event = asyncio.Event()
        waiting = asyncio.create_task(woken_or_after(event, 60))
        await asyncio.sleep(0)
        event.set()
        await waiting
        return event.is_set()

    assert asyncio.run(scenario()) is False


def test_a_wait_ends_after_its_time_with_nothing_set() -> None:
    async def scenario() -> None:
        await woken_or_after(asyncio.Event(), 0.01)

    asyncio.run(scenario())


def test_a_cancellation_that_comes_with_the_wake_is_kept() -> None:
    """The town's shutdown wakes its loops and cancels them in one step; a loop that lost the
    cancellation would pass forever against a closed ledger and keep `gt up` from exiting."""

    async def loop(event: asyncio.Event) -> None:
        while True:
            await woken_or_after(event, 60)

    async def scenario() -> None:
        event = asyncio.Event()
        task = asyncio.create_task(loop(event))
        await asyncio.sleep(0)  # the loop is waiting
        event.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
