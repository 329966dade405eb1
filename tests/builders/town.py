"""Helpers that drive a running town: its fixtures, waiting with a deadline, scripts for the
scripted agent."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gastown.store import Store
from gastown.town import load
from tests.conftest import Gt

DEADLINE = 60.0
"""How long `until` waits before it gives up (a deadline, never a timing claim)."""


def until(check: Callable[[], Any], what: str) -> Any:
    """Poll until `check()` is truthy; fail naming `what` if the deadline passes."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def script(*steps: dict[str, Any]) -> str:
    """A bead body carrying a script for the scripted agent."""
    return "```gt-script\n" + json.dumps(list(steps)) + "\n```"


def bead_status(gt: Gt, bead_id: str) -> str:
    """The bead's status, as `gt bead show` reports it."""
    return str(gt.json("bead", "show", bead_id)["status"])


@pytest.fixture
def town(rig_gt: Gt, town_path: Path) -> Iterator[Gt]:
    """A town with rig `app` whose polecats run the scripted agent and whose merge requests
    stay queued (the refinery does not take them)."""
    rig_gt.ok("config", "set", "runtime", "scripted")
    rig_gt.ok("config", "set", "refinery.auto", "false")  # merge requests stay queued
    yield rig_gt
    rig_gt("down")


@pytest.fixture
def store(town_path: Path) -> Iterator[Store]:
    """The store of the town at `town_path`, opened as the town opens it (a test that imports
    it drives a running town; without it, `store` is conftest's, one per backend)."""
    opened = load(town_path).open_store()
    yield opened
    opened.close()
