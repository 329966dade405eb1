"""The town API under generated requests: schemathesis reads `/api/openapi.json` and, for every
operation in it, sends requests that fit the schema and requests that break it, with the town
token, to a real town with a rig, beads (one blocked), a convoy and an open escalation. Bad
input is refused with a 4xx; no request, however odd, gets a 5xx.

Left out: the mayor's turns (they call a model, and a fuzzed `model_base_url` would send them
anywhere) and `/api/stream`, which never ends. The examples are derandomized, so a run is
repeatable, and hypothesis keeps no database of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from gastown.process.town_loop import TownLoop
from gastown.services import escalations
from gastown.services.ledger import Ledger
from gastown.town import load
from gastown.web.api import create_app
from tests.conftest import Gt

TOKEN = "town-token-for-fuzzing"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 25
"""Requests per operation and mode: each route many times, the whole run in seconds."""
LEFT_OUT = r"^/api/(stream|mayor/(ask|stream))$"


@pytest.fixture
def app(rig_gt: Gt, town_path: Path) -> Iterator[Any]:
    """The API of a town with rig `app`, a few beads (one blocked), a convoy and an open
    escalation, with the town loop the town process gives it (not started)."""
    first = rig_gt.json("bead", "create", "First", "--rig", "app")["id"]
    second = rig_gt.json("bead", "create", "Second", "--rig", "app")["id"]
    rig_gt.ok("dep", "add", second, first)
    rig_gt.ok("convoy", "create", "Cleanups", "--task", "Remove dead code", "--rig", "app")
    town = load(town_path)
    store = town.open_store()
    ledger = Ledger(store, prefix=town.prefix, actor="town")
    escalations.raise_(ledger, "high", "Look at this", bead_id=first)
    made = create_app(town, TOKEN, "2026-01-01T00:00:00Z", environ={})
    made.state.loop = TownLoop(town, ledger, "http://127.0.0.1:9", TOKEN, {})
    try:
        yield made
    finally:
        store.close()


def test_no_request_makes_the_api_fail(app: Any) -> None:
    """Given the town's API and its own schema, when each operation gets requests that fit
    the schema and requests that break it, then every answer is a success or a refusal."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=AUTH)
    failures: list[str] = []
    operations = []
    for result in schema.exclude(path_regex=LEFT_OUT).get_all_operations():
        assert isinstance(result, Ok), result  # the schema itself reads cleanly
        operations.append(result.ok())
    assert len(operations) > 30

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def send(case: Any) -> None:
                said = f"{case.method} {case.formatted_path} {case.query} {case.body!r:.300}"
                try:
                    answer = case.call(headers=AUTH)
                except Exception as exc:  # the test client re-raises what the app raised
                    failures.append(f"{said}: {type(exc).__name__}: {exc}")
                    return
                if answer.status_code >= 500:
                    failures.append(f"{said}: {answer.status_code} {answer.text[:300]}")

            try:
                send()
            except Unsatisfiable:  # an operation without parameters cannot be sent broken
                assert mode is GenerationMode.NEGATIVE

    assert failures == []
