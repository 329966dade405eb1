"""The newcomer's story, through the installed `gt` program as separate processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

GT = str(Path(sys.executable).with_name("gt"))

PLAN = """
title = "Verbose mode"

[[tasks]]
key = "flag"
title = "Add a --verbose flag"
priority = 1

[[tasks]]
key = "tests"
title = "Tests for --verbose"
needs = ["flag"]

[[tasks]]
key = "docs"
title = "Document --verbose"
needs = ["flag"]
"""


def gt(cwd: Path, *argv: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    done = subprocess.run(
        [GT, *argv], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == code, (argv, done.stdout, done.stderr)
    return done


def gt_json(cwd: Path, *argv: str) -> Any:
    return json.loads(gt(cwd, *argv, "--json").stdout)


def test_town_rig_convoy_ready_close_roundtrip(tmp_path: Path, git_repo: Path) -> None:
    gt(tmp_path, "init", "town")
    town = tmp_path / "town"
    assert "target branch trunk" in gt(town, "rig", "add", "app", str(git_repo)).stdout
    (town / "plan.toml").write_text(PLAN)
    convoy = gt_json(town, "convoy", "create", "--file", "plan.toml")
    ids = {b["title"]: b["id"] for b in convoy["beads"]}

    assert [b["id"] for b in gt_json(town, "ready")] == [ids["Add a --verbose flag"]]
    gt(town, "bead", "close", ids["Add a --verbose flag"])
    assert [b["title"] for b in gt_json(town, "ready")] == [
        "Tests for --verbose",
        "Document --verbose",
    ]

    # Round trip through beads JSONL into a fresh town: nothing lost.
    gt(town, "bead", "update", ids["Tests for --verbose"], "--hold", "--add-label", "qa")
    gt(town, "export", "--out", "beads.jsonl")
    gt(tmp_path, "init", "copy")
    copy = tmp_path / "copy"
    gt(copy, "import", str(town / "beads.jsonl"))
    for argv in (("bead", "list"), ("convoy", "list"), ("ready",)):
        assert gt_json(copy, *argv) == gt_json(town, *argv)
    assert gt(copy, "export").stdout == (town / "beads.jsonl").read_text()
    again = gt_json(copy, "import", str(town / "beads.jsonl"))
    assert again["created"] == 0 and again["updated"] == 0

    missing = gt(town, "bead", "show", "gt-nope0", code=1)
    assert missing.stderr.startswith("gt: There is no bead 'gt-nope0'.")
    bad = gt(town, "bead", "create", "X", "-p", "9", code=2)
    assert bad.stdout == "" and "Priority must be 0 to 4" in bad.stderr
    assert gt(town, "--version").stdout.startswith("gt ")
