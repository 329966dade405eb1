"""Helpers that talk to the mayor through the scripted model server."""

from __future__ import annotations

from typing import Any

from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from tests.conftest import Gt


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
