"""The whole loop with the refinery in the town process: beads slung at once are worked by
polecats, gated by the repository's own tests and landed on the remote one after another; a
change that breaks the tests comes back as rework, is fixed by a polecat, and lands."""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders import script, until
from tests.conftest import Gt, run_git

CALC = "def add(a, b):\n    return a + b\n"
TESTS = "import calc\n\nassert calc.add(2, 2) == 4, 'add(2, 2) is not 4'\nprint('tests pass')\n"


def remote_with_tests(tmp_path: Path) -> Path:
    seed = tmp_path / "seed"
    seed.mkdir()
    run_git("init", "-q", "-b", "main", cwd=seed)
    (seed / "calc.py").write_text(CALC)
    (seed / "test_calc.py").write_text(TESTS)
    run_git("add", ".", cwd=seed)
    run_git("-c", "user.name=Dev", "-c", "user.email=d@x", "commit", "-qm", "first", cwd=seed)
    bare = tmp_path / "remote.git"
    run_git("clone", "-q", "--bare", str(seed), str(bare), cwd=tmp_path)
    return bare


def test_three_beads_land_one_after_another_and_a_breaking_one_comes_back(
    tmp_path: Path,
) -> None:
    remote = remote_with_tests(tmp_path)
    assert Gt(tmp_path)("init", str(tmp_path / "town")).code == 0
    gt = Gt(tmp_path / "town")
    gt.ok("rig", "add", "app", str(remote))
    for key, value in (
        ("runtime", "scripted"),
        ("refinery.code_review", "false"),
        ("refinery.gates", json.dumps(["python3 test_calc.py"])),
        # A polecat given rework (whose bead carries no script of its own) restores calc.py.
        (
            "custom_instructions.polecat",
            script({"run": "git checkout origin/main -- calc.py && git commit -qm 'Fix add'"}),
        ),
    ):
        gt.ok("config", "set", key, value)
    gt.ok("up", "-d")
    try:
        good = [
            gt.json(
                "sling",
                f"Add note {n}",
                "--rig",
                "app",
                "--body",
                script({"write": f"note{n}.txt", "content": f"note {n}\n"}),
            )["id"]
            for n in range(3)
        ]
        bad = gt.json(
            "sling",
            "Make add faster",
            "--rig",
            "app",
            "--body",
            script({"write": "calc.py", "content": "def add(a, b):\n    return a - b\n"}),
        )["id"]

        def status(bead: str) -> str:
            return str(gt.json("bead", "show", bead)["status"])

        until(lambda: all(status(b) == "closed" for b in good), "three beads to land")
        rework = until(
            lambda: [b for b in gt.json("bead", "list") if b["title"] == "Rework: Make add faster"],
            "the breaking bead to come back as rework",
        )
        assert "add(2, 2) is not 4" in rework[0]["body"]
        until(lambda: status(bad) == "closed", "the reworked bead to land")
        # Its polecat was told what the work it changed was for: the original bead, quoted.
        fixed = gt.json("runs", "--bead", rework[0]["id"])[0]["id"]
        told = (tmp_path / "town" / "logs" / "runs" / fixed / "prompt.md").read_text()
        assert f'That work is bead {bad}, "Make add faster", which asked for:' in told
        assert "> ```gt-script" in told and "add(2, 2) is not 4" in told
        assert gt.json("status")["merge_queue"] == {}  # nothing left waiting
    finally:
        gt("down")

    for n in range(3):
        assert run_git("show", f"main:note{n}.txt", cwd=remote) == f"note {n}\n"
    # No broken commit on main, ever: at every commit of its first-parent line the tests pass.
    for commit in run_git("rev-list", "--first-parent", "main", cwd=remote).split():
        assert "return a + b" in run_git("show", f"{commit}:calc.py", cwd=remote)
    # And each of them but the first names the beads it brought, every bead once.
    each = "--format=%x00%(trailers:key=Gastown-Bead,valueonly)"
    *landings, first = run_git("log", "--first-parent", each, "main", cwd=remote).split("\0")[1:]
    assert all(n.split() for n in landings) and not first.split()
    assert sorted(b for n in landings for b in n.split()) == sorted([*good, bad])
    mrs = gt.json("mq", "--all")
    assert {m["status"] for m in mrs} == {"merged"} and len(mrs) == 4
