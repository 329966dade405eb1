"""The town process: one per town, its token, its API, and stopping it."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Gt


def get(url: str, token: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def up(rig_gt: Gt, town_path: Path) -> Iterator[dict[str, Any]]:
    """The town process started with `gt up -d`, stopped afterwards."""
    address = rig_gt.json("up", "-d")
    try:
        yield address
    finally:
        rig_gt("down")


def test_up_serves_the_api_behind_the_token(
    rig_gt: Gt, town_path: Path, up: dict[str, Any]
) -> None:
    token_file = town_path / "run" / "token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert up["host"] == "127.0.0.1" and up["url"].startswith("http://127.0.0.1:")
    assert get(up["url"] + "/api/health", None)[0] == 401
    assert get(up["url"] + "/api/health", "wrong")[0] == 401
    code, health = get(up["url"] + "/api/health", token)
    assert code == 200 and health["pid"] == up["pid"]

    bead = rig_gt.json("bead", "create", "Fix the login redirect")  # not slung: stays ready
    code, beads = get(up["url"] + "/api/beads", token)
    assert code == 200 and [b["id"] for b in beads] == [bead["id"]]
    assert get(up["url"] + "/api/ready", token)[1][0]["id"] == bead["id"]
    assert get(up["url"] + f"/api/beads/{bead['id']}", token)[1]["title"] == bead["title"]
    code, missing = get(up["url"] + "/api/beads/gt-nope0", token)
    assert code == 404 and missing["error"]["code"] == "not_found"
    kinds = [e["kind"] for e in get(up["url"] + "/api/events", token)[1]]
    assert "bead.created" in kinds

    status = rig_gt.json("status")
    assert status["up"] and status["pid"] == up["pid"] and status["beads"] == {"open": 1}
    assert status["active_runs"] == 0 and status["open_escalations"] == 0
    assert status["dispatch_paused"] is None
    assert (status["ready"], status["blocked"]) == (1, 0)
    waits = rig_gt.json("bead", "create", "Test the redirect")["id"]
    rig_gt.ok("dep", "add", waits, bead["id"])
    assert "1 ready (`gt ready`), 1 blocked (`gt blocked`)" in rig_gt.ok("status").out


def test_only_one_process_per_town(rig_gt: Gt, up: dict[str, Any]) -> None:
    again = rig_gt("up", "-d")
    assert again.code == 1
    assert f"The town is already up: process {up['pid']}" in again.err
    foreground = rig_gt("up")
    assert foreground.code == 1 and "already up" in foreground.err


def test_down_stops_it_and_status_says_so(rig_gt: Gt, town_path: Path) -> None:
    address = rig_gt.json("up", "-d")
    stopped = rig_gt.json("down")
    assert stopped == {"stopped": True, "pid": address["pid"]}
    assert not (town_path / "run" / "town.json").exists()
    assert rig_gt.json("status")["up"] is False
    assert rig_gt.json("down") == {"stopped": False, "up": False}


def test_foreground_up_stops_cleanly_on_sigterm(town_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gastown", "up", "--town", str(town_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once it is serving
        assert f"(pid {proc.pid})" in first and "is up at http://127.0.0.1:" in first
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
        proc.communicate()
    assert not (town_path / "run" / "town.json").exists()


def test_a_taken_port_is_a_plain_error(rig_gt: Gt, up: dict[str, Any]) -> None:
    other = Gt(rig_gt.cwd.parent)
    other.ok("init", "second")
    taken = Gt(rig_gt.cwd.parent / "second")("up", "-d", "--port", str(up["port"]))
    assert taken.code == 1 and "Cannot listen on 127.0.0.1" in taken.err
