"""A runtime that cannot work is refused before a run starts, naming the setting to fix.

The programs here are real tiny shell scripts put on PATH in a temporary folder: they answer
`--version` as the real CLIs do, count how often they are asked, and leave a mark if anything
ever starts them for real.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from gastown.errors import UserError
from gastown.runtimes.base import LaunchRequest
from gastown.runtimes.preflight import check_settings, check_version, parse_version, unreachable
from gastown.runtimes.registry import REGISTRY, runtime
from gastown.store import Store
from gastown.town import load
from tests.builders import until
from tests.builders.programs import program
from tests.conftest import Gt


def closed_port() -> int:
    """A port nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_versions_are_read_as_each_cli_prints_them() -> None:
    assert parse_version("codex-cli 0.171.0") == (0, 171, 0)
    assert parse_version("2.1.328 (Claude Code)") == (2, 1, 328)
    assert parse_version("7.7") == (7, 7, 0)
    assert parse_version("no version here") is None


def test_a_program_older_than_the_adapter_needs_is_refused(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    program(bin_dir, "codex", "codex-cli 0.100.2")
    with pytest.raises(UserError) as caught:
        runtime("codex", path=str(bin_dir))
    message = caught.value.message
    assert "runtime setting is 'codex'" in message
    assert "0.100.2" in message and "older than 0.171.0" in message
    assert caught.value.hint is not None and "make install" in caught.value.hint
    assert not (bin_dir / "codex.ran").exists()


def test_a_program_without_a_version_is_refused(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    program(bin_dir, "kilo", "Kilo CLI (development build)")
    with pytest.raises(UserError, match="gave no version number"):
        runtime("kilo", path=str(bin_dir))


def test_the_version_is_asked_once_per_program_until_it_changes(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    program(bin_dir, "opencode", "1.18.33")
    assert runtime("opencode", path=str(bin_dir)) is REGISTRY["opencode"]
    assert runtime("opencode", path=str(bin_dir)) is REGISTRY["opencode"]
    assert (bin_dir / "opencode.asked").read_text().splitlines() == ["asked"]
    program(bin_dir, "opencode", "1.17.0")  # upgraded in place (here: downgraded)
    with pytest.raises(UserError, match=r"older than 1\.18\.33"):
        runtime("opencode", path=str(bin_dir))
    assert (bin_dir / "opencode.asked").read_text().splitlines() == ["asked", "asked"]


def test_a_version_that_fails_or_never_comes_is_refused_saying_which(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    program(bin_dir, "gemini", "x")
    (bin_dir / "gemini").write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
    with pytest.raises(UserError, match=r"--version` failed \(exit 3: cannot start\)"):
        runtime("gemini", path=str(bin_dir))
    slow = bin_dir / "codex"
    slow.write_text(f"#!/bin/sh\necho asked >> '{bin_dir}/codex.asked'\nexec sleep 600\n")
    slow.chmod(0o755)
    for _ in range(2):  # a program that did not answer is asked again, not remembered
        with pytest.raises(UserError, match="--version` did not answer within 0 s"):
            check_version(REGISTRY["codex"], str(slow), timeout=0.3)
    assert (bin_dir / "codex.asked").read_text().splitlines() == ["asked", "asked"]


def request(tmp_path: Path, base_url: str = "", model: str = "", **more: Any) -> LaunchRequest:
    return LaunchRequest(prompt="Do it.", worktree=tmp_path, base_url=base_url, model=model, **more)


def test_codex_on_a_base_url_needs_a_model_and_says_which_setting(tmp_path: Path) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"http://127.0.0.1:{listening.getsockname()[1]}/v1"
        with pytest.raises(UserError) as caught:
            check_settings(REGISTRY["codex"], request(tmp_path, base_url=url))
        assert "default_model (or role_models.polecat) is empty" in caught.value.message
        assert caught.value.hint is not None and "default_model" in caught.value.hint
        check_settings(REGISTRY["codex"], request(tmp_path, base_url=url, model="gpt-5"))
        check_settings(REGISTRY["claude"], request(tmp_path, base_url=url))  # its default works
    check_settings(REGISTRY["codex"], request(tmp_path))  # its own login picks its own model


def test_gemini_without_any_key_is_refused_naming_the_setting(tmp_path: Path) -> None:
    gemini = REGISTRY["gemini"]
    with pytest.raises(UserError) as caught:
        check_settings(gemini, request(tmp_path), environ={"GEMINI_API_KEY": ""})
    message = caught.value.message
    assert message.startswith("The runtime setting is 'gemini', but model_api_key is empty")
    assert "GEMINI_API_KEY is set neither in env_vars nor in the town's environment" in message
    assert caught.value.hint is not None and "gt config set model_api_key" in caught.value.hint
    # A key from any of the three places the CLI would get it from will do.
    check_settings(gemini, request(tmp_path, api_key="k"), environ={})
    check_settings(gemini, request(tmp_path, env_vars={"GEMINI_API_KEY": "k"}), environ={})
    check_settings(gemini, request(tmp_path), environ={"GEMINI_API_KEY": "k"})
    check_settings(REGISTRY["claude"], request(tmp_path), environ={})  # its own login may do


def test_an_unreachable_base_url_is_refused_naming_the_setting(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(UserError) as caught:
        check_settings(REGISTRY["claude"], request(tmp_path, base_url=url, model="claude-x"))
    assert caught.value.message.startswith(f"The model_base_url setting is {url}, but nothing")
    assert caught.value.hint is not None and "gt config set model_base_url" in caught.value.hint
    check_settings(REGISTRY["scripted"], request(tmp_path, base_url=url))  # it calls no model
    assert unreachable("ftp://example.org") == "it is not an http:// or https:// address"


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    return tmp_path / "bin"


@pytest.fixture
def town(rig_gt: Gt, fake_bin: Path) -> Gt:
    """The town with a PATH that finds the fake programs first (and git after them)."""
    gt = Gt(rig_gt.cwd, {"PATH": os.pathsep.join([str(fake_bin), os.environ["PATH"]])})
    gt.ok("config", "set", "refinery.auto", "false")
    return gt


def held_for(gt: Gt, town_path: Path, title: str) -> str:
    """Sling `title`, wait until the town holds it, and give the escalation's message."""
    bead = gt.json("sling", title)["id"]
    until(lambda: gt.json("bead", "show", bead)["held"], "the bead to be held")
    store: Store = load(town_path).open_store()
    try:
        with store.reader() as tx:
            attempts = tx.get_dispatch(bead)
            (escalation,) = [e for e in tx.list_escalations() if e.bead_id == bead]
    finally:
        store.close()
    assert attempts is not None and attempts[0] == 0  # no attempt spent
    assert gt.json("bead", "show", bead)["status"] == "open"
    return escalation.message


def test_the_town_holds_a_bead_whose_runtime_is_too_old(
    town: Gt, town_path: Path, fake_bin: Path
) -> None:
    program(fake_bin, "codex", "codex-cli 0.99.0")
    town.ok("config", "set", "runtime", "codex")
    town.ok("up", "-d")
    try:
        message = held_for(town, town_path, "Needs a newer codex")
    finally:
        town("down")
    assert "'codex'" in message and "0.99.0" in message and "--unhold" in message
    assert not (fake_bin / "codex.ran").exists()


def test_the_town_holds_a_bead_whose_model_server_is_down(
    town: Gt, town_path: Path, fake_bin: Path
) -> None:
    program(fake_bin, "claude", "2.1.328 (Claude Code)")
    url = f"http://127.0.0.1:{closed_port()}"
    for key, value in (("runtime", "claude"), ("model_base_url", url)):
        town.ok("config", "set", key, value)
    town.ok("up", "-d")
    try:
        message = held_for(town, town_path, "Needs the model server")
    finally:
        town("down")
    assert message.startswith(f"The model_base_url setting is {url}, but nothing answers")
    assert not (fake_bin / "claude.ran").exists()


def test_the_town_holds_a_gemini_bead_when_no_key_is_set(
    rig_gt: Gt, town_path: Path, fake_bin: Path
) -> None:
    program(fake_bin, "gemini", "0.61.0")
    path = os.pathsep.join([str(fake_bin), os.environ["PATH"]])
    town = Gt(rig_gt.cwd, {"PATH": path, "GEMINI_API_KEY": ""})  # none in the town's either
    town.ok("config", "set", "refinery.auto", "false")
    town.ok("config", "set", "runtime", "gemini")
    town.ok("up", "-d")
    try:
        message = held_for(town, town_path, "Needs a Gemini key")
    finally:
        town("down")
    assert message.startswith("The runtime setting is 'gemini', but model_api_key is empty")
    assert not (fake_bin / "gemini.ran").exists()  # refused before the CLI could exit 41
