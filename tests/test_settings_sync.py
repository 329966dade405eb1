"""Every town folder of a PostgreSQL town settles its settings with the ledger, the later change
winning (`process.settings_sync`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gastown.process.settings_sync import settle
from gastown.services.ledger import Ledger
from gastown.store import hosts
from gastown.town import load
from tests.conftest import Gt


def _settle(folder: Path) -> str:
    town = load(folder)
    store = town.open_store()
    try:
        return settle(Ledger(store, prefix=town.prefix, actor="town"), town)
    finally:
        store.close()


def _age(folder: Path, seconds: float) -> None:
    """Make the folder's settings files look changed `seconds` ago."""
    when = time.time() - seconds
    for name in ("town.toml", "secrets.toml"):
        if (folder / name).exists():
            os.utime(folder / name, (when, when))


def test_a_change_in_one_folder_reaches_the_other_and_the_ledger(
    tmp_path: Path, pg_url: str
) -> None:
    """Given a town folder whose settings are published and a second folder that joined it,
    when a setting is changed in the second folder, then settling publishes it, and the
    first folder takes it (its town.toml says so); settling again changes nothing."""
    Gt(tmp_path).ok("init", "first", "--db", pg_url)
    first, second = tmp_path / "first", tmp_path / "second"
    Gt(first).ok("config", "set", "max_polecats_per_rig", "7")
    _age(first, 60)
    assert _settle(first) == "published"
    joined = Gt(tmp_path).json("init", str(second), "--db", pg_url)
    assert joined["joined"] is True
    assert load(second).settings["max_polecats_per_rig"] == 7
    assert _settle(second) == ""  # it joined with the ledger's settings

    Gt(second).ok("config", "set", "model_api_key", "sk-second")
    assert _settle(second) == "published"
    assert _settle(first) == "taken"

    assert load(first).settings["model_api_key"] == "sk-second"  # a secret, kept as one
    assert "sk-second" not in (first / "town.toml").read_text()
    assert _settle(first) == ""
    assert _settle(second) == ""


def test_a_folder_older_than_the_ledger_takes_its_copy_and_a_newer_one_wins(
    tmp_path: Path, pg_url: str
) -> None:
    """Given two folders with different settings, the one changed last wins: an older folder
    takes the ledger's copy instead of overwriting it with what it joined with."""
    Gt(tmp_path).ok("init", "first", "--db", pg_url)
    first, second = tmp_path / "first", tmp_path / "second"
    _age(first, 120)
    _settle(first)
    Gt(tmp_path).ok("init", str(second), "--db", pg_url)
    Gt(first).ok("config", "set", "workers.stalled_seconds", "9")
    _settle(first)
    _age(second, 600)  # the standby's files are older than the change

    assert _settle(second) == "taken"
    assert load(second).settings["workers.stalled_seconds"] == 9
    store = load(first).open_store()
    try:
        with store.reader() as tx:
            record = hosts.town_record(tx)
    finally:
        store.close()
    assert record is not None and record[2]["workers.stalled_seconds"] == 9
