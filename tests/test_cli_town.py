"""`gt init` and how every command finds its town."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.conftest import Gt


def test_init_creates_the_town_folder(tmp_path: Path) -> None:
    result = Gt(tmp_path).ok("init", "mytown", "--prefix", "ab")
    town = tmp_path / "mytown"
    assert "Created town 'mytown'" in result.out
    doc = tomllib.loads((town / "town.toml").read_text())
    assert doc["town"] == {"name": "mytown", "prefix": "ab", "db": "sqlite:///state.db"}
    assert (town / "state.db").is_file()
    for folder in ("rigs", "worktrees", "logs"):
        assert (town / folder).is_dir()
    bead = Gt(town).json("bead", "create", "First")
    assert bead["id"].startswith("ab-") and len(bead["id"]) >= 8


def test_init_json_and_postgresql_backend(tmp_path: Path, pg_url: str) -> None:
    data = Gt(tmp_path).json("init", "pgtown", "--db", pg_url)
    assert data["db"] == pg_url
    town = Gt(tmp_path / "pgtown")
    town.ok("bead", "create", "Stored in PostgreSQL")
    assert not (tmp_path / "pgtown" / "state.db").exists()
    assert [b["title"] for b in town.json("bead", "list")] == ["Stored in PostgreSQL"]


def test_init_refuses_bad_input_and_leaves_nothing(tmp_path: Path) -> None:
    gt = Gt(tmp_path)
    bad_prefix = gt("init", "t1", "--prefix", "Bad-Prefix")
    assert bad_prefix.code == 2
    assert "'Bad-Prefix' is not a usable prefix" in bad_prefix.err
    assert not (tmp_path / "t1").exists()
    bad_db = gt("init", "t2", "--db", "mysql://nope")
    assert bad_db.code == 2 and "not a database URL" in bad_db.err
    assert not (tmp_path / "t2").exists()
    down = gt("init", "t3", "--db", "postgresql://127.0.0.1:1/nothing")
    assert down.code == 1 and "Cannot connect to PostgreSQL" in down.err
    assert not (tmp_path / "t3").exists()
    gt.ok("init", "t4")
    again = gt("init", "t4")
    assert again.code == 1 and "already a town" in again.err


def test_commands_find_the_town_by_flag_env_or_walking_up(tmp_path: Path, town_path: Path) -> None:
    deep = town_path / "rigs" / "deeper"
    deep.mkdir(parents=True)
    Gt(town_path).ok("bead", "create", "Found me")
    assert Gt(deep).json("bead", "list")[0]["title"] == "Found me"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert Gt(elsewhere).json("bead", "list", "--town", str(town_path))[0]["title"] == "Found me"
    by_env = Gt(elsewhere, {"GT_TOWN": str(town_path)})
    assert by_env.json("bead", "list")[0]["title"] == "Found me"


def test_no_town_is_said_plainly(tmp_path: Path) -> None:
    result = Gt(tmp_path)("bead", "list")
    assert result.code == 1
    assert result.err.startswith(f"gt: No town found from {tmp_path}.")
    assert "gt init PATH" in result.err
    as_json = Gt(tmp_path)("bead", "list", "--json")
    assert json.loads(as_json.err)["error"]["code"] == "not_found"
    assert as_json.out == ""
    missing = Gt(tmp_path)("bead", "list", "--town", str(tmp_path / "nowhere"))
    assert missing.code == 1 and "There is no town at" in missing.err


def test_usage_errors_exit_2_with_one_sentence(gt: Gt) -> None:
    result = gt("bead", "create")
    assert result.code == 2
    assert result.err.splitlines()[0] == "gt: The following arguments are required: title."
    unknown = gt("frobnicate")
    assert unknown.code == 2 and "invalid choice" in unknown.err.lower()
    assert gt("--help").code == 0


def test_shared_options_may_come_before_the_command(tmp_path: Path, town_path: Path) -> None:
    """Given a town and a folder outside it, when --town and --json come before the command,
    between its words or after them, then each is heeded alike."""
    Gt(town_path).ok("bead", "create", "Found me")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    gt = Gt(elsewhere)
    town = str(town_path)
    for argv in (
        ["--town", town, "--json", "bead", "list"],
        ["--json", f"--town={town}", "bead", "list"],
        ["--town", town, "bead", "--json", "list"],
        ["bead", "--town", town, "list", "--json"],
        ["--json", "bead", "list", "--town", town],
        ["--town", str(tmp_path), "bead", "list", "--town", town, "--json"],  # the last wins
    ):
        assert [b["title"] for b in json.loads(gt.ok(*argv).out)] == ["Found me"], argv
    assert [b["title"] for b in json.loads(Gt(town_path).ok("--json", "ready").out)] == ["Found me"]
    table = gt.ok("--town", town, "bead", "list")
    assert "Found me" in table.out and table.out.rstrip().endswith("1 bead")
    missing = gt("--json", "--town", town, "bead", "show", "gt-nope")
    assert missing.code == 1 and json.loads(missing.err)["error"]["code"] == "not_found"


def test_every_command_reads_shared_options_given_first(gt: Gt, town_path: Path) -> None:
    """`gt --json COMMAND ...` prints what `gt COMMAND ... --json` prints, command by command."""
    gt.ok("bead", "create", "One")
    for argv in (
        ["ready"],
        ["bead", "list"],
        ["rig", "list"],
        ["convoy", "list"],
        ["config", "get", "max_polecats_per_rig"],
        ["events", "--limit", "1"],
    ):
        after = gt.ok(*argv, "--json").out
        assert gt.ok("--json", *argv).out == after, argv
        assert gt.ok("--town", str(town_path), "--json", *argv).out == after, argv


def test_a_command_with_actions_still_lists_them_all(
    gt: Gt, capsys: pytest.CaptureFixture[str]
) -> None:
    """`gt bead ACTION` builds the parser of that action alone; asking for help or naming no
    action that exists still shows every one."""
    gt.ok("bead", "--help")  # argparse prints help to sys.stdout
    shown = capsys.readouterr().out
    assert all(f"    {a}" in shown for a in ("create", "list", "show", "update", "claim"))
    wrong = gt("bead", "lsit")
    assert wrong.code == 2 and "'claim'" in wrong.err and "'list'" in wrong.err
