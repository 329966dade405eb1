"""Secrets on disk: API keys, tokens and `env_vars` live in `secrets.toml`, readable by the
owner only, never in `town.toml` (a file people share) nor its mirror; the town folder, its
database and its logs are the owner's alone; and an older town whose `town.toml` still holds
secrets keeps working until the next write moves them."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

import pytest

from gastown import config
from gastown import town as towns
from gastown.mayor import open_mayor
from gastown.services.ledger import Ledger
from gastown.town import MIRROR_FILE, SECRETS_FILE, SETTLED_S, TOWN_FILE
from tests.conftest import Gt

KEY = "sk-live-on-disk-0123456789"
SECRETS = [
    k if s.kind != "map" else f"{k}.API_TOKEN" for k, s in config.SETTINGS.items() if s.secret
]
"""Every setting marked secret: one added to `config.SETTINGS` is tested here too."""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def settled(path: Path) -> float:
    """A time at which both settings files have been left alone long enough to be mirrored."""
    times = [path / TOWN_FILE, *[p for p in [path / SECRETS_FILE] if p.exists()]]
    return max(max(p.stat().st_mtime, p.stat().st_ctime) for p in times) + SETTLED_S


def test_a_new_town_is_its_owners_alone(town_path: Path) -> None:
    assert mode(town_path) == 0o700
    assert mode(town_path / "state.db") == 0o600
    assert mode(town_path / "logs") == 0o700
    assert not (town_path / SECRETS_FILE).exists()


@pytest.mark.parametrize("key", SECRETS)
def test_a_secret_is_kept_in_secrets_toml_and_still_works(
    gt: Gt, town_path: Path, key: str
) -> None:
    """Given a new town, when a secret is set, then it is in secrets.toml (0600), nowhere in
    town.toml or either mirror a reader could open, and the effective settings have it."""
    gt.ok("config", "set", "max_polecats_per_rig", "3")
    said = gt.ok("config", "set", key, KEY).out
    assert "in secrets.toml" in said and KEY not in said

    assert KEY not in (town_path / TOWN_FILE).read_text()
    assert tomllib.loads((town_path / TOWN_FILE).read_text())["settings"] == {
        "max_polecats_per_rig": 3
    }
    assert mode(town_path / SECRETS_FILE) == 0o600
    assert KEY in (town_path / SECRETS_FILE).read_text()

    loaded = towns.load(town_path, now=settled(town_path))  # mirrors both files
    assert KEY not in (town_path / MIRROR_FILE).read_text()
    assert mode(town_path / f".{SECRETS_FILE}.json") == 0o600
    resolved = config.resolve(loaded.settings)
    name = key.split(".", 1)[1] if config.setting(key).kind == "map" else None
    assert (resolved[key] if name is None else resolved[config.setting(key).key][name]) == KEY
    assert resolved["max_polecats_per_rig"] == 3
    assert config.resolve(towns.load(town_path).settings).values == resolved.values  # mirrored

    shown = gt.json("config", "get", key)
    assert shown["origin"] == "secrets.toml" and KEY not in json.dumps(shown)

    gt.ok("config", "unset", key)
    assert not (town_path / SECRETS_FILE).exists()
    assert not (town_path / f".{SECRETS_FILE}.json").exists()
    assert KEY not in json.dumps(towns.load(town_path).settings)


def test_the_mayor_uses_a_key_from_secrets_toml(rig_gt: Gt, town_path: Path) -> None:
    """The key is read from where it is kept: the mayor has a model, and knows to mask it."""
    rig_gt.ok("config", "set", "model_api_key", KEY)
    town = towns.load(town_path)
    store = town.open_store()
    try:
        mayor = open_mayor(Ledger(store, prefix=town.prefix, actor="tester"), town, {})
    finally:
        store.close()
    assert KEY in mayor.secrets


def test_an_older_town_toml_with_secrets_works_until_the_next_write_moves_them(
    gt: Gt, town_path: Path
) -> None:
    """Given a town.toml an older gt wrote, secrets and all, with its world-readable mirror,
    when commands read it, then the secrets still resolve and no new copy of them is left in
    a mirror; when a setting is next written, they move to secrets.toml."""
    file = town_path / TOWN_FILE
    with file.open("a") as out:
        out.write(f'model_api_key = "{KEY}"\n\n[settings.env_vars]\nAPI_TOKEN = "{KEY}-env"\n')
    mirror = town_path / MIRROR_FILE
    times = file.stat()
    kept = [times.st_ino, times.st_size, times.st_mtime_ns, times.st_ctime_ns]
    mirror.write_text(json.dumps({"toml": kept, "doc": tomllib.loads(file.read_text())}))
    mirror.chmod(0o644)

    old = towns.load(town_path, now=settled(town_path))
    assert old.exposed == ("model_api_key", "env_vars")
    assert config.resolve(old.settings)["model_api_key"] == KEY
    assert not mirror.exists()
    towns.load(town_path, now=settled(town_path))
    assert not mirror.exists()  # not mirrored again while town.toml holds secrets

    shown = gt("config", "get", "model_api_key", "--json")
    assert shown.code == 0 and KEY not in shown.out
    assert "town.toml, a file meant to be safe to share, still holds model_api_key" in shown.err

    moved = gt.json("config", "set", "max_polecats_per_rig", "2")
    assert moved["moved"] == ["model_api_key", "env_vars"]
    assert KEY not in file.read_text()
    assert mode(town_path / SECRETS_FILE) == 0o600
    now = towns.load(town_path)
    assert now.exposed == ()
    resolved = config.resolve(now.settings)
    assert resolved["model_api_key"] == KEY and resolved["env_vars"] == {"API_TOKEN": f"{KEY}-env"}
    assert resolved["max_polecats_per_rig"] == 2
    assert "still holds" not in gt("config", "show").err


def test_a_secret_set_for_one_rig_stays_in_the_owners_database(rig_gt: Gt, town_path: Path) -> None:
    rig_gt.ok("config", "set", "github.token", KEY, "--rig", "app")
    assert not (town_path / SECRETS_FILE).exists()
    assert KEY not in (town_path / TOWN_FILE).read_text()
    assert mode(town_path / "state.db") == 0o600
    assert KEY not in rig_gt.ok("config", "get", "github.token", "--rig", "app").out


def test_the_town_process_tightens_an_older_town_and_writes_for_its_owner_only(
    rig_gt: Gt, town_path: Path
) -> None:
    """Given a town whose database and logs an older gt left readable by anyone, when the
    town comes up, then they are its owner's alone, and so is every file it writes."""
    (town_path / "state.db").chmod(0o644)
    (town_path / "logs").chmod(0o755)
    up = rig_gt.json("up", "-d")
    try:
        assert mode(town_path / "state.db") == 0o600
        assert mode(town_path / "logs") == 0o700
        assert mode(town_path / "logs" / "town.log") == 0o600
        status = Path(f"/proc/{up['pid']}/status")
        if status.exists():  # Linux says what umask a process has
            assert "Umask:\t0077" in status.read_text()
    finally:
        rig_gt.ok("down")
