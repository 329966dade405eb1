"""Polecat worktrees on real repositories: fresh bases, reuse, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from gastown.errors import GitError
from gastown.git import worktree as wt
from gastown.model import Bead
from gastown.polecat.finish import inspect_branch
from tests.conftest import run_git

NUX = wt.polecat_identity("app", "nux")


@pytest.fixture
def clone(tmp_path: Path, git_repo: Path) -> Path:
    path = tmp_path / "town" / "rigs" / "app"
    run_git("clone", "-q", str(git_repo), str(path), cwd=tmp_path)
    return path


def upstream_commit(repo: Path, name: str) -> str:
    (repo / name).write_text(name)
    run_git("add", ".", cwd=repo)
    run_git("commit", "-q", "-m", f"add {name}", cwd=repo)
    return run_git("rev-parse", "HEAD", cwd=repo).strip()


def test_new_branch_is_cut_from_the_freshly_fetched_target(
    clone: Path, git_repo: Path, tmp_path: Path
) -> None:
    latest = upstream_commit(git_repo, "after-clone.txt")  # lands after the rig was cloned
    work = tmp_path / "town" / "worktrees" / "app" / "nux"
    base = wt.prepare(clone, work, wt.branch_name("nux", "gt-abc12"), "trunk", NUX)
    assert base == latest
    assert wt.current_branch(work) == "gt/nux/gt-abc12"
    assert (work / "after-clone.txt").exists()
    assert wt.ahead(work, base) == 0


def test_commit_all_is_authored_by_the_polecat(clone: Path, tmp_path: Path) -> None:
    work = tmp_path / "wt"
    base = wt.prepare(clone, work, "gt/nux/gt-1", "trunk", NUX)
    assert wt.commit_all(work, "nothing", NUX) is False
    (work / "feature.py").write_text("print('hi')\n")
    assert wt.commit_all(work, "Add feature", NUX) is True
    author = run_git("log", "-1", "--format=%an <%ae>|%cn", cwd=work).strip()
    assert author == "app/polecat/nux <nux.polecat@app.gastown.invalid>|app/polecat/nux"
    assert wt.ahead(work, base) == 1


def test_reuse_keeps_earlier_branches_and_saves_uncommitted_work(
    clone: Path, tmp_path: Path
) -> None:
    work = tmp_path / "wt"
    first = wt.prepare(clone, work, "gt/nux/gt-1", "trunk", NUX)
    (work / "done.txt").write_text("committed")
    wt.commit_all(work, "First bead", NUX)
    (work / "forgotten.txt").write_text("left behind by a crashed agent")

    wt.prepare(clone, work, "gt/nux/gt-2", "trunk", NUX)
    assert wt.current_branch(work) == "gt/nux/gt-2"
    assert not (work / "done.txt").exists() and not (work / "forgotten.txt").exists()
    saved = run_git("show", "--name-only", "--format=%s", "gt/nux/gt-1", cwd=clone).split()
    assert "forgotten.txt" in saved  # committed on the branch it was made on
    assert run_git("rev-list", "--count", f"{first}..gt/nux/gt-1", cwd=clone).strip() == "2"

    # A retry of the first bead continues on its branch, with its commits.
    wt.prepare(clone, work, "gt/nux/gt-1", "trunk", NUX)
    assert (work / "done.txt").exists() and (work / "forgotten.txt").exists()


def test_a_worktree_handed_to_a_new_bead_is_exactly_its_fresh_branch(
    clone: Path, git_repo: Path, tmp_path: Path
) -> None:
    """Ignored output of the earlier bead's run (a build, a cache) does not follow the
    worktree to the next bead; its real changes are saved on its own branch."""
    (git_repo / ".gitignore").write_text("build/\n")
    upstream_commit(git_repo, "src.txt")
    work = tmp_path / "wt"
    wt.prepare(clone, work, "gt/nux/gt-1", "trunk", NUX)
    (work / "build").mkdir()
    (work / "build" / "out.bin").write_text("the first bead's build")
    (work / "changed.txt").write_text("the first bead's work")

    wt.prepare(clone, work, "gt/nux/gt-2", "trunk", NUX)
    assert run_git("status", "--porcelain", "--ignored", cwd=work) == ""
    assert not (work / "build").exists()
    saved = run_git("show", "--name-only", "--format=%s", "gt/nux/gt-1", cwd=clone).split()
    assert "changed.txt" in saved and "build/out.bin" not in saved


def test_work_left_uncommitted_is_titled_from_its_bead(clone: Path, tmp_path: Path) -> None:
    def message(ref: str) -> str:
        return run_git("log", "-1", "--format=%B", ref, cwd=clone).strip()

    work = tmp_path / "wt"
    base = wt.prepare(clone, work, "gt/nux/gt-abc12", "trunk", NUX)
    (work / "login.py").write_text("redirect = '/home'\n")
    left = inspect_branch(work, base, NUX, Bead("gt-abc12", "Fix the login redirect"))
    assert left.ahead == 1 and message("gt/nux/gt-abc12") == (
        "gt-abc12: Fix the login redirect\n\nWork the agent left uncommitted.\n\n"
        "Gastown-Bead: gt-abc12"
    )
    (work / "login.py").write_text("redirect = '/'\n")
    assert inspect_branch(work, base, NUX).ahead == 2  # no bead at hand: the branch names it
    assert message("gt/nux/gt-abc12") == (
        "gt-abc12: Work the agent left uncommitted\n\nGastown-Bead: gt-abc12"
    )

    # What an earlier run left is saved on its branch before the worktree moves on, or
    # before another worktree takes that branch.
    (work / "forgotten.txt").write_text("left behind")
    wt.prepare(clone, work, "gt/nux/gt-def34", "trunk", NUX)
    saved = "gt-abc12: Work left uncommitted by an earlier run\n\nGastown-Bead: gt-abc12"
    assert message("gt/nux/gt-abc12") == saved
    (work / "forgotten.txt").write_text("left behind again")
    wt.prepare(clone, tmp_path / "other", "gt/nux/gt-def34", "trunk", NUX)
    assert message("gt/nux/gt-def34") == saved.replace("gt-abc12", "gt-def34")


def test_second_polecat_gets_its_own_worktree_and_local_bases_work(
    clone: Path, tmp_path: Path
) -> None:
    run_git("branch", "convoy/verbose/gt-cv-1", "origin/trunk", cwd=clone)
    a, b = tmp_path / "nux", tmp_path / "furiosa"
    wt.prepare(clone, a, "gt/nux/gt-1", "trunk", NUX)
    wt.prepare(
        clone,
        b,
        "gt/furiosa/gt-2",
        "convoy/verbose/gt-cv-1",
        wt.polecat_identity("app", "furiosa"),
        refresh=False,
    )
    assert wt.current_branch(a) == "gt/nux/gt-1"
    assert wt.current_branch(b) == "gt/furiosa/gt-2"
    with pytest.raises(GitError, match="'nope' is not in"):
        wt.prepare(clone, tmp_path / "x", "gt/x/gt-3", "nope", NUX)


def test_many_polecats_prepare_at_once_on_one_clone(clone: Path, tmp_path: Path) -> None:
    """Dispatches to one rig run in parallel threads; git's locks must never make one fail."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> str:
        name = f"p{i}"
        work = tmp_path / "wts" / name
        wt.prepare(clone, work, f"gt/{name}/gt-{i}", "trunk", wt.polecat_identity("app", name))
        return wt.current_branch(work)

    with ThreadPoolExecutor(8) as pool:
        branches = list(pool.map(one, range(12)))
    assert branches == [f"gt/p{i}/gt-{i}" for i in range(12)]
