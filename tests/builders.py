"""Builders the tests share: records with sensible defaults, older schemas, and the helpers
that drive a running town. Test files import from here (and fixtures from `conftest`), never
from one another.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gastown.model import Bead, Convoy, Event
from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from gastown.store import BeadFilter, Store, Tx
from gastown.store.projection import SqliteJson
from gastown.town import load
from tests.conftest import Gt

# --- records ---------------------------------------------------------------------------------


def at(second: int) -> str:
    """A fixed RFC 3339 time, `second` seconds into the test day."""
    return f"2026-01-01T00:00:{second:02d}.000000Z"


def bead(bead_id: str, **fields: Any) -> Bead:
    """A bead record with sensible defaults, ready to insert."""
    defaults: dict[str, Any] = {
        "title": f"Work on {bead_id}",
        "created_at": at(0),
        "updated_at": at(0),
        "created_by": "tester",
    }
    return Bead(id=bead_id, **{**defaults, **fields})


def convoy(convoy_id: str, **fields: Any) -> Convoy:
    """A convoy record in rig `app` with sensible defaults, ready to insert."""
    defaults: dict[str, Any] = {
        "title": f"Convoy {convoy_id}",
        "rig": "app",
        "created_at": at(0),
        "updated_at": at(0),
        "created_by": "tester",
    }
    return Convoy(id=convoy_id, **{**defaults, **fields})


def event(kind: str, **fields: Any) -> Event:
    """An event of `kind` by `tester` at the start of the test day, ready to append."""
    return Event(
        id=0, at=fields.pop("at", at(0)), actor=fields.pop("actor", "tester"), kind=kind, **fields
    )


def listed(tx: Tx, **flt: Any) -> list[str]:
    """Ids of the beads a filter lists, in listing order."""
    return [b.id for b in tx.list_beads(BeadFilter(**flt))]


def blocked(store: Store) -> list[str]:
    """The ids in the `blocked` table, sorted."""
    with store.reader() as tx:
        return sorted(r[0] for r in tx.db.execute("SELECT bead_id FROM blocked").fetchall())


# --- older schemas ---------------------------------------------------------------------------


def undo_migration_13(db: Any) -> None:
    """Take away what migration 13 added (model spend), for a test of an older schema."""
    if db.day_totals:  # a gt from before kept no day totals, whose triggers read these columns
        for name in ("spend_days_insert", "spend_days_update", "spend_days_delete"):
            db.execute(f"DROP TRIGGER {name}")
        db.execute("DROP TABLE spend_days")
    db.execute("DROP TABLE spend")
    db.execute("DROP INDEX runs_spend")
    db.execute("DROP INDEX mayor_messages_spend")
    for table, column in (
        ("runs", "cache_read_tokens"),
        ("runs", "cache_write_tokens"),
        ("runs", "model"),
        ("runs", "cost_known"),
        ("mayor_messages", "cache_tokens"),
        ("mayor_messages", "model"),
    ):
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def undo_migration_18(db: Any) -> None:
    """Take away what migration 18 added (the model a bead was slung with). SQLite's bead
    docs read the column, so they go first, as an older gt never had them; opening the
    store again makes them anew."""
    if isinstance(db.json, SqliteJson):
        made = db.execute(
            "SELECT type, name FROM sqlite_master WHERE substr(name, 1, 8) = 'bead_doc' "
            "ORDER BY rowid DESC"
        ).fetchall()
        for kind, name in made:
            db.execute(f"DROP {kind.upper()} {name}")
    db.execute("ALTER TABLE beads DROP COLUMN model")


def undo_migration_20(db: Any) -> None:
    """Take away what migration 20 made (institutional knowledge), on either backend."""
    db.execute("DROP TABLE knowledge")
    db.execute("DROP TABLE knowledge_signals")
    db.execute("DROP TABLE IF EXISTS knowledge_fts")  # SQLite's search table


# --- a running town --------------------------------------------------------------------------

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


# --- the mayor -------------------------------------------------------------------------------


def call(name: str, /, **arguments: Any) -> dict[str, Any]:
    """A scripted model reply that calls the tool `name` with `arguments`."""
    return {"name": name, "arguments": arguments}


def serve(*replies: dict[str, Any]) -> ScriptedModelServer:
    """A scripted model server that gives `replies` in turn (start it with `with`)."""
    return ScriptedModelServer(parse({"replies": list(replies)}, source="mayor script"))


def point_at(gt: Gt, server: ScriptedModelServer, model: str = "claude-haiku-4-5") -> None:
    """Set the town's mayor to talk to `server`, as `model`."""
    gt.ok("config", "set", "model_base_url", server.base_url)
    gt.ok("config", "set", "model_api_key", "sk-test-key")
    gt.ok("config", "set", "role_models.mayor", model)


def mayor_of(gt: Gt) -> Any:
    """The town's mayor built in-process, with its store (close it after)."""
    from gastown.mayor import open_mayor
    from gastown.services.ledger import Ledger
    from gastown.town import find

    town = find(str(gt.cwd), {}, gt.cwd)
    store = town.open_store()
    return open_mayor(Ledger(store, town.prefix, "mayor"), town, {}), store
