"""Rigs: repositories cloned into the town, with their target branch detected."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Gt, run_git


@pytest.fixture
def git_daemon(git_repo: Path) -> Iterator[str]:
    """The upstream repository served over git:// on 127.0.0.1: a real remote URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            f"--base-path={git_repo.parent}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(git_repo.parent),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"git://127.0.0.1:{port}/{git_repo.name}"
    finally:
        daemon.terminate()
        daemon.wait()


def test_add_detects_the_default_branch_and_clones(gt: Gt, git_repo: Path, town_path: Path) -> None:
    rig = gt.json("rig", "add", "app", str(git_repo))
    assert rig["branch"] == "trunk" and rig["url"] == str(git_repo)
    clone = town_path / "rigs" / "app"
    assert (clone / "README.md").read_text() == "hello\n"
    assert run_git("rev-parse", "--abbrev-ref", "HEAD", cwd=clone).strip() == "trunk"
    listed = gt.json("rig", "list")
    assert [r["name"] for r in listed] == ["app"]
    assert gt.json("rig", "show", "app")["branch"] == "trunk"
    assert "target branch trunk" in gt.ok("rig", "add", "again", f"file://{git_repo}").out


def test_add_from_a_remote_url(gt: Gt, git_daemon: str) -> None:
    rig = gt.json("rig", "add", "remote", git_daemon)
    assert rig["branch"] == "trunk" and rig["url"] == git_daemon


def test_add_with_an_explicit_branch(gt: Gt, git_repo: Path, town_path: Path) -> None:
    run_git("branch", "develop", cwd=git_repo)
    assert gt.json("rig", "add", "dev", str(git_repo), "--branch", "develop")["branch"] == "develop"
    clone = town_path / "rigs" / "dev"
    assert run_git("rev-parse", "--abbrev-ref", "HEAD", cwd=clone).strip() == "develop"
    missing = gt("rig", "add", "bad", str(git_repo), "--branch", "nope")
    assert missing.code == 1 and "has no branch 'nope'" in missing.err
    assert "develop, trunk" in missing.err


def test_bad_rigs_are_refused_and_leave_nothing(
    gt: Gt, git_repo: Path, tmp_path: Path, town_path: Path
) -> None:
    nowhere = gt("rig", "add", "ghost", str(tmp_path / "does-not-exist"))
    assert nowhere.code == 1
    assert "is not a git repository Gas Town can reach" in nowhere.err
    assert not (town_path / "rigs" / "ghost").exists()
    bad_name = gt("rig", "add", "Bad Name", str(git_repo))
    assert bad_name.code == 2 and "not a usable rig name" in bad_name.err
    empty = tmp_path / "empty"
    empty.mkdir()
    run_git("init", "-q", cwd=empty)
    no_commits = gt("rig", "add", "empty", str(empty))
    assert no_commits.code == 1 and "has no branches yet" in no_commits.err
    gt.ok("rig", "add", "app", str(git_repo))
    dupe = gt("rig", "add", "app", str(git_repo))
    assert dupe.code == 1 and "already a rig named 'app'" in dupe.err
    assert [r["name"] for r in gt.json("rig", "list")] == ["app"]
    assert gt("rig", "show", "nope").code == 1


def test_remove_keeps_beads_and_guards_unfinished_work(rig_gt: Gt, town_path: Path) -> None:
    bead = rig_gt.json("bead", "create", "Unfinished")["id"]
    guarded = rig_gt("rig", "remove", "app")
    assert guarded.code == 1 and "1 unfinished bead" in guarded.err
    rig_gt.ok("rig", "remove", "app", "--force")
    assert not (town_path / "rigs" / "app").exists()
    assert rig_gt.json("rig", "list") == []
    assert rig_gt.json("bead", "show", bead)["rig"] == "app"
    kinds = [e["kind"] for e in rig_gt.json("events", "--rig", "app")]
    assert kinds[0] == "rig.added" and kinds[-1] == "rig.removed"
    assert rig_gt("rig", "remove", "app").code == 1
