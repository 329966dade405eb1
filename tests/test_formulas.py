"""Formulas: reusable plans that become convoys.

Given a town with a rig, when a person runs a shipped formula with its variables, then one
convoy holds a bead per task with the formula's dependencies; a sweep makes one bead per
matching file of the rig and one that waits for them all; a town's or rig's own formula
overrides a shipped one; and a bad template or run is refused in one sentence with nothing
written.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from gastown.mayor.tools import TOOLS
from tests.conftest import Gt


def commit_files(clone: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "files"],
        cwd=clone,
        check=True,
    )


def test_the_shipped_formulas_are_listed_and_shown(rig_gt: Gt) -> None:
    names = [f["name"] for f in rig_gt.json("formula", "list")]
    assert names == ["bugfix", "dependency-update", "docs", "feature", "sweep"]
    shown = rig_gt.ok("formula", "show", "feature").out
    assert "--var name=…" in shown and "(required)" in shown
    assert "implement: Implement {{name}}  (after design)" in shown


def test_a_feature_formula_becomes_a_convoy_with_its_dependencies(rig_gt: Gt) -> None:
    made = rig_gt.json("formula", "run", "feature", "--var", "name=a --verbose flag", "--staged")
    assert made["formula"] == "feature" and made["title"] == "Feature: a --verbose flag"
    assert made["staged"] is True
    by_title = {b["title"]: b for b in made["beads"]}
    assert list(by_title) == [
        "Design a --verbose flag",
        "Implement a --verbose flag",
        "Test a --verbose flag",
        "Document a --verbose flag",
    ]
    assert [len(w) for w in made["waves"]] == [1, 1, 2]
    design = by_title["Design a --verbose flag"]["id"]
    implement = by_title["Implement a --verbose flag"]
    assert [d["depends_on_id"] for d in implement["dependencies"]] == [design]


def test_a_sweep_makes_one_bead_per_file_and_one_that_ties_them(
    rig_gt: Gt, town_path: Path
) -> None:
    clone = town_path / "rigs" / "app"
    commit_files(clone, {"src/a.py": "", "src/b.py": "", "src/sub/c.py": "", "notes.md": ""})
    made = rig_gt.json(
        "formula",
        "run",
        "sweep",
        "--var",
        "pattern=src/**/*.py",
        "--var",
        "change=use pathlib",
    )
    titles = [b["title"] for b in made["beads"]]
    assert titles == [
        "use pathlib: src/a.py",
        "use pathlib: src/b.py",
        "use pathlib: src/sub/c.py",
        "Tie together: use pathlib",
    ]
    tie = made["beads"][-1]
    assert sorted(d["depends_on_id"] for d in tie["dependencies"]) == sorted(
        b["id"] for b in made["beads"][:3]
    )
    per_package = rig_gt.json(
        "formula",
        "run",
        "sweep",
        "--var",
        "pattern=src/**",
        "--var",
        "change=x",
        "--var",
        "per=package",
    )
    assert [b["title"] for b in per_package["beads"]][:2] == ["x: src", "x: src/sub"]


def test_a_town_or_rig_formula_overrides_a_shipped_one(rig_gt: Gt, town_path: Path) -> None:
    (town_path / "formulas").mkdir()
    (town_path / "formulas" / "docs.toml").write_text(
        'description = "Our docs"\ntitle = "Docs {{what}}"\n[vars]\n'
        'what = { description = "the subject" }\n[[tasks]]\ntitle = "Write {{what}}"\n'
    )
    listed = {f["name"]: f["source"] for f in rig_gt.json("formula", "list")}
    assert listed["docs"] == "town"
    commit_files(
        town_path / "rigs" / "app",
        {
            ".gastown/formulas/docs.toml": 'description = "Rig docs"\ntitle = "Rig docs"\n'
            '[[tasks]]\ntitle = "Rig docs only"\n'
        },
    )
    assert rig_gt.json("formula", "show", "docs", "--rig", "app")["source"] == "rig"
    made = rig_gt.json("formula", "run", "docs", "--rig", "app")
    assert [b["title"] for b in made["beads"]] == ["Rig docs only"]


def test_bad_formulas_and_runs_are_refused_with_nothing_written(
    rig_gt: Gt, town_path: Path
) -> None:
    folder = town_path / "formulas"
    folder.mkdir()
    (folder / "typo.toml").write_text(
        'description = "d"\ntitle = "t"\n[vars]\nname = { description = "n" }\n'
        '[[tasks]]\ntitle = "Do {{nmae}}"\n'
    )
    typo = rig_gt("formula", "show", "typo")
    assert typo.code == 2
    assert "line 6: {{nmae}} is not one of its variables (name)." in typo.err
    (folder / "typo.toml").unlink()
    (folder / "loop.toml").write_text(
        'description = "d"\ntitle = "t"\n[[tasks]]\nkey = "a"\ntitle = "A"\nneeds = ["b"]\n'
        '[[tasks]]\nkey = "b"\ntitle = "B"\nneeds = ["a"]\n'
    )
    loop = rig_gt("formula", "run", "loop")
    assert loop.code == 2 and "its tasks' needs form a cycle: a → b → a" in loop.err
    (folder / "loop.toml").unlink()
    (folder / "broken.toml").write_text('description = "d"\ntitle = \n')
    broken = rig_gt("formula", "list")
    assert broken.code == 2 and "is not valid TOML" in broken.err and "line 2" in broken.err
    (folder / "broken.toml").unlink()

    missing = rig_gt("formula", "run", "feature")
    assert missing.code == 2
    assert "Formula feature needs --var name=… (line 5:" in missing.err
    unknown = rig_gt("formula", "run", "feature", "--var", "name=x", "--var", "colour=red")
    assert unknown.code == 2
    assert "Formula feature has no variable 'colour'; its variables are name, details." in (
        unknown.err
    )
    nothing = rig_gt("formula", "run", "sweep", "--var", "pattern=*.rs", "--var", "change=x")
    assert nothing.code == 2 and "The pattern '*.rs' matches no file in rig app." in nothing.err
    assert rig_gt("formula", "run", "nope").code == 1
    assert rig_gt.json("convoy", "list") == []
    assert rig_gt.json("bead", "list") == []


def test_the_mayor_has_formula_tools() -> None:
    assert {"list_formulas", "run_formula"} <= set(TOOLS)
