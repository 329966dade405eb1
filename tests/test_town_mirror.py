"""`town.toml` and its JSON mirror: commands read the mirror only while it was made from the
very file that is there, so whoever edits `town.toml`, gt or a person, is always heard."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gastown import town as towns
from gastown.town import MIRROR_FILE, SETTLED_S, TOWN_FILE
from tests.conftest import Gt


def settled(path: Path) -> float:
    """A time at which `path`'s town.toml has been left alone long enough to be mirrored."""
    stat = (path / TOWN_FILE).stat()
    return max(stat.st_mtime, stat.st_ctime) + SETTLED_S


def edit(path: Path, old: str, new: str) -> None:
    """Change town.toml in place, as an editor saving over it does, a second later than it
    was last written (file times are coarse: a change in the same tick could keep them)."""
    file = path / TOWN_FILE
    before = file.stat()
    file.write_text(file.read_text().replace(old, new))
    later = before.st_mtime_ns + 1_000_000_000
    os.utime(file, ns=(later, later))


def test_a_settled_town_toml_is_mirrored_and_read_from_the_mirror(town_path: Path) -> None:
    """Given a town.toml nobody has touched for a while, when a command reads it, then it
    leaves a mirror of what it parsed, and the next read takes what the mirror says."""
    loaded = towns.load(town_path, now=settled(town_path))
    mirror = json.loads((town_path / MIRROR_FILE).read_text())
    assert mirror["doc"]["town"]["prefix"] == loaded.prefix == "gt"

    mirror["doc"]["town"]["name"] = "from the mirror"
    (town_path / MIRROR_FILE).write_text(json.dumps(mirror))
    assert towns.load(town_path).name == "from the mirror"


def test_a_town_toml_just_written_is_not_mirrored_yet(town_path: Path) -> None:
    towns.load(town_path, now=settled(town_path) - 1)
    assert not (town_path / MIRROR_FILE).exists()


def test_a_hand_edit_of_the_same_size_wins_over_the_mirror(town_path: Path) -> None:
    """Given a mirrored town.toml, when a person changes one character of it, then the next
    command reads the change, and mirrors it again once it has settled."""
    towns.load(town_path, now=settled(town_path))
    edit(town_path, 'prefix = "gt"', 'prefix = "zz"')

    assert towns.load(town_path).prefix == "zz"
    assert towns.load(town_path, now=settled(town_path)).prefix == "zz"
    assert json.loads((town_path / MIRROR_FILE).read_text())["doc"]["town"]["prefix"] == "zz"


def test_settings_written_by_gt_are_read_back_at_once(gt: Gt, town_path: Path) -> None:
    towns.load(town_path, now=settled(town_path))
    gt.ok("config", "set", "max_polecats_per_rig", "7")
    assert towns.load(town_path).settings == {"max_polecats_per_rig": 7}
    assert gt.json("config", "get", "max_polecats_per_rig")["value"] == 7


def test_a_broken_edit_is_reported_though_a_mirror_exists(gt: Gt, town_path: Path) -> None:
    towns.load(town_path, now=settled(town_path))
    (town_path / TOWN_FILE).write_text("[town\n")
    broken = gt("bead", "list")
    assert broken.code == 2 and "is not valid TOML" in broken.err


def test_a_town_toml_json_cannot_hold_is_read_without_a_mirror(town_path: Path) -> None:
    """A TOML date has no JSON form: such a town.toml is parsed by every command instead."""
    with (town_path / TOWN_FILE).open("a") as file:
        file.write("\n[notes]\nfounded = 1979-05-27T07:32:00Z\n")
    assert towns.load(town_path, now=settled(town_path)).prefix == "gt"
    assert not (town_path / MIRROR_FILE).exists()


def test_a_mirror_that_is_not_json_is_ignored(town_path: Path) -> None:
    (town_path / MIRROR_FILE).write_text("{not json")
    assert towns.load(town_path, now=settled(town_path)).prefix == "gt"
    assert json.loads((town_path / MIRROR_FILE).read_text())["doc"]["town"]["prefix"] == "gt"
