"""Settings from the command line, and the event log read back and followed live."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import Gt


def test_config_set_get_show_with_origins(rig_gt: Gt, town_path: Path) -> None:
    rig_gt.ok("config", "set", "max_polecats_per_rig", "6")
    rig_gt.ok("config", "set", "refinery.gates", '["make test", "ruff check ."]')
    rig_gt.ok("config", "set", "role_models.polecat", "claude-sonnet")
    doc = tomllib.loads((town_path / "town.toml").read_text())
    assert doc["settings"]["max_polecats_per_rig"] == 6
    assert doc["settings"]["refinery"]["gates"] == ["make test", "ruff check ."]
    got = rig_gt.json("config", "get", "max_polecats_per_rig")
    assert got == {"key": "max_polecats_per_rig", "value": 6, "origin": "town.toml"}
    rig_gt.ok("config", "set", "max_polecats_per_rig", "2", "--rig", "app")
    assert rig_gt.json("config", "get", "max_polecats_per_rig", "--rig", "app")["value"] == 2
    assert rig_gt.json("config", "get", "max_polecats_per_rig")["value"] == 6
    env = Gt(town_path, {"GT_MAX_POLECATS_PER_RIG": "9"})
    assert env.json("config", "get", "max_polecats_per_rig", "--rig", "app") == {
        "key": "max_polecats_per_rig",
        "value": 9,
        "origin": "environment",
    }
    shown = rig_gt.json("config", "show")
    assert shown["merge_strategy"] == {"value": "direct", "origin": "default"}
    assert shown["refinery.gates"]["value"] == ["make test", "ruff check ."]
    assert rig_gt.ok("config", "get", "role_models.polecat").out.strip() == "claude-sonnet"
    rig_gt.ok("config", "unset", "max_polecats_per_rig", "--rig", "app")
    assert rig_gt.json("config", "get", "max_polecats_per_rig", "--rig", "app")["value"] == 6


def test_config_errors_name_the_key_and_type(rig_gt: Gt, town_path: Path) -> None:
    before = (town_path / "town.toml").read_text()
    unknown = rig_gt("config", "set", "max_polecats", "3")
    assert unknown.code == 2 and "'max_polecats' is not a setting" in unknown.err
    assert "max_polecats_per_rig" in unknown.err  # the hint suggests the near key
    wrong = rig_gt("config", "set", "max_polecats_per_rig", "lots")
    assert wrong.code == 2
    assert (
        "Setting 'max_polecats_per_rig' expects an integer from 1 to 256, not 'lots'." in wrong.err
    )
    boolean = rig_gt("config", "set", "refinery.code_review", "sometimes")
    assert boolean.code == 2 and "expects true or false" in boolean.err
    no_rig = rig_gt("config", "set", "runtime", "codex", "--rig", "nope")
    assert no_rig.code == 1 and "no rig 'nope'" in no_rig.err
    assert rig_gt("config", "get", "nonsense").code == 2
    bad_env = Gt(town_path, {"GT_MAX_POLECATS_PER_RIG": "x"})("config", "show")
    assert bad_env.code == 2 and "GT_MAX_POLECATS_PER_RIG" in bad_env.err
    assert (town_path / "town.toml").read_text() == before


def test_env_vars_are_masked_everywhere(rig_gt: Gt, town_path: Path) -> None:
    rig_gt.ok("config", "set", "env_vars", '{"API_KEY": "sk-secret-1"}')
    rig_gt.ok("config", "set", "env_vars.OTHER", "sk-secret-2", "--rig", "app")
    outputs = [
        rig_gt.ok("config", "show").out,
        rig_gt.ok("config", "show", "--json").out,
        rig_gt.ok("config", "show", "--rig", "app", "--json").out,
        rig_gt.ok("config", "get", "env_vars", "--rig", "app").out,
        rig_gt.ok("config", "get", "env_vars.API_KEY").out,
        rig_gt.ok("rig", "show", "app", "--json").out,
        rig_gt.ok("events", "--json", "--limit", "0").out,
        rig_gt.ok("config", "set", "env_vars.X", "sk-secret-3").out,
    ]
    for text in outputs:
        assert "sk-secret" not in text
    resolved = rig_gt.json("config", "get", "env_vars", "--rig", "app")["value"]
    assert set(resolved) == {"API_KEY", "OTHER", "X"}
    rig_gt.ok("config", "unset", "env_vars.X")
    assert set(rig_gt.json("config", "get", "env_vars")["value"]) == {"API_KEY"}
    assert "sk-secret" not in (town_path / "town.toml").read_text()  # a file people share
    assert "sk-secret-1" in (town_path / "secrets.toml").read_text()  # stored, never shown


def test_broken_town_toml_is_reported(gt: Gt, town_path: Path) -> None:
    (town_path / "town.toml").write_text('[town]\nprefix = "gt"\n[settings]\nmax_polecats = 3\n')
    result = gt("bead", "list")
    assert result.code == 2 and "'max_polecats' is not a setting" in result.err
    (town_path / "town.toml").write_text("[town\n")
    assert "is not valid TOML" in gt("bead", "list").err


def test_every_change_is_an_event_with_before_and_after(rig_gt: Gt) -> None:
    bead = rig_gt.json("bead", "create", "Tracked", "-p", "3")["id"]
    rig_gt.ok("bead", "update", bead, "-p", "1", "--reason", "customer asked")
    rig_gt.ok("bead", "close", bead, "--reason", "done")
    events = rig_gt.json("events", "--bead", bead)
    assert [e["kind"] for e in events] == ["bead.created", "bead.updated", "bead.closed"]
    update = events[1]
    assert update["before"] == {"priority": 3} and update["after"] == {"priority": 1}
    assert update["reason"] == "customer asked" and update["actor"] == "tester"
    assert update["rig"] == "app" and update["at"].endswith("Z")
    assert [e["kind"] for e in rig_gt.json("events", "--kind", "bead.c*")] == [
        "bead.created",
        "bead.closed",
    ]
    assert len(rig_gt.json("events", "--limit", "2")) == 2
    assert f"tester closed 'Tracked' ({bead}) (done)" in rig_gt.ok("events").out


def test_feed_follows_new_events_live(rig_gt: Gt, town_path: Path) -> None:
    rig_gt.ok("bead", "create", "Before the feed")
    since = rig_gt.json("events", "--limit", "1")[-1]["id"]
    feed = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gastown",
            "feed",
            "--json",
            "--max-events",
            "2",
            "--interval",
            "0.05",
            "--since",
            str(since),
            "--town",
            str(town_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        bead = rig_gt.json("bead", "create", "During the feed")["id"]
        rig_gt.ok("bead", "close", bead)
        out, err = feed.communicate(timeout=30)
    finally:
        feed.kill()
    assert feed.returncode == 0, err
    followed = [json.loads(line) for line in out.splitlines()]
    assert [e["kind"] for e in followed] == ["bead.created", "bead.closed"]
    assert {e["bead_id"] for e in followed} == {bead}
