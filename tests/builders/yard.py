"""The refinery's yard: a bare remote, a town whose rig is cloned from it, and merge requests
made the way a finished run makes them (a branch in the rig's clone, a bead `in_review`)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from gastown.clock import FakeClock
from gastown.forge.github import GitHubForge
from gastown.git import merge as gm
from gastown.model import IN_PROGRESS, IN_REVIEW, MergeRequest
from gastown.refinery.step import Progress, Seams, run_step
from gastown.scripted.github import FakeGitHub
from gastown.services import beads
from gastown.services.ledger import Ledger
from gastown.services.merge_requests import rework_done
from gastown.town import Town, load
from tests.conftest import Gt, run_git

CALC = "def add(a, b):\n    return a + b\n"
GATE = "python3 -c 'import calc; assert calc.add(2, 2) == 4, \"add is broken\"'"


def commit_all(cwd: Path, message: str) -> str:
    """Commit everything in `cwd` as the developer `Dev`; the new commit's id."""
    run_git("add", "--all", cwd=cwd)
    run_git(
        "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", message, cwd=cwd
    )
    return run_git("rev-parse", "HEAD", cwd=cwd).strip()


def make_remote(tmp_path: Path) -> Path:
    """A bare repository with `trunk`: a README and a tiny module the gate tests."""
    seed = tmp_path / "seed"
    seed.mkdir()
    run_git("init", "-q", "-b", "trunk", cwd=seed)
    (seed / "README.md").write_text("hello\n")
    (seed / "calc.py").write_text(CALC)
    commit_all(seed, "first")
    bare = tmp_path / "remote.git"
    run_git("clone", "-q", "--bare", str(seed), str(bare), cwd=tmp_path)
    return bare


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository with `trunk` (see `make_remote`)."""
    return make_remote(tmp_path)


class Yard:
    """A town with the rig `app` cloned from `remote`, and ways to make merge requests."""

    def __init__(self, tmp_path: Path, remote: Path) -> None:
        self.tmp, self.remote = tmp_path, remote
        self.path = tmp_path / "town"
        assert Gt(tmp_path)("init", str(self.path)).code == 0
        self.gt = Gt(self.path)
        self.gt.ok("rig", "add", "app", str(remote))
        self.gt.ok("config", "set", "refinery.code_review", "false")
        self.gt.ok("config", "set", "refinery.gates", json.dumps([GATE]))
        self.clone = self.path / "rigs" / "app"
        self.made = 0

    @property
    def town(self) -> Town:
        return load(self.path)

    def ledger(self) -> Ledger:
        return Ledger(self.town.open_store(), prefix="gt", actor="tester")

    def submit(
        self,
        title: str,
        files: dict[str, str],
        *,
        priority: int = 2,
        target: str = "trunk",
        convoy: str | None = None,
        bead_id: str | None = None,
        message: str | None = None,
        then: dict[str, str] | None = None,
    ) -> tuple[str, str]:
        """A bead in review with a branch that changes `files`, as a polecat leaves it: one
        commit (its message `message`, `{bead}` standing for the bead's id, else the title),
        and a second that changes `then`."""
        self.made += 1
        if bead_id is None:
            args = ["bead", "create", title, "--rig", "app", "-p", str(priority)]
            bead_id = self.gt.json(*args)["id"]
        ledger = self.ledger()
        try:
            beads.update(ledger, bead_id, {"status": IN_PROGRESS})
            beads.update(ledger, bead_id, {"status": IN_REVIEW})
            run_git("fetch", "-q", "origin", cwd=self.clone)
            base = gm.rev(self.clone, f"origin/{target}") or gm.rev(self.clone, "origin/trunk")
            assert base is not None
            branch = f"gt/test{self.made}/{bead_id}"
            work = self.tmp / f"wt-{self.made}"
            run_git("worktree", "add", "-q", "-b", branch, str(work), base, cwd=self.clone)
            for name, text in files.items():
                (work / name).write_text(text)
            head = commit_all(work, (message or title).format(bead=bead_id))
            for name, text in (then or {}).items():
                (work / name).write_text(text)
            if then:
                head = commit_all(work, f"{title}, continued")
            now = ledger.now()
            mr = MergeRequest(
                id=f"mr-{secrets.token_hex(4)}",
                bead_id=bead_id,
                run_id=None,
                rig="app",
                branch=branch,
                target=target,
                base_commit=base,
                head_commit=head,
                summary=title,
                created_at=now,
                updated_at=now,
                convoy_id=convoy,
                priority=priority,
            )
            with ledger.store.transaction() as tx:
                tx.insert_merge_request(mr)
        finally:
            ledger.store.close()
        self.worktrees = getattr(self, "worktrees", {})
        self.worktrees[mr.id] = work
        return bead_id, mr.id

    def rework(self, mr_id: str, files: dict[str, str], merge_target: bool = False) -> None:
        """What a polecat does with a rework bead: commit on the merge request's branch (after
        merging the target in, for a conflict), and finish."""
        work = self.worktrees[mr_id]
        if merge_target:
            run_git("fetch", "-q", "origin", cwd=work)
            assert not _git_ok("merge", "-q", "--no-edit", "origin/trunk", cwd=work)  # conflicts
        for name, text in files.items():
            (work / name).write_text(text)
        head = commit_all(work, "Rework")
        mr = self.mr(mr_id)
        ledger = self.ledger()
        try:
            beads.update(ledger, str(mr.rework_bead_id), {"status": IN_PROGRESS})
            with ledger.store.transaction() as tx:
                bead = tx.get_bead(str(mr.rework_bead_id), lock=True)
                assert bead is not None and rework_done(ledger, tx, bead, head, "run-test")
        finally:
            ledger.store.close()

    def step(self, seams: Seams | None = None) -> Progress:
        return run_step(self.town, "app", {}, seams)

    def drain(self, seams: Seams | None = None, limit: int = 30) -> Progress:
        total = Progress()
        for _ in range(limit):
            got = self.step(seams)
            total.add(got)
            if not got.changed:
                return total
        raise AssertionError("the refinery never settled")

    def mr(self, mr_id: str) -> MergeRequest:
        store = self.town.open_store()
        try:
            with store.reader() as tx:
                found = tx.get_merge_request(mr_id)
        finally:
            store.close()
        assert found is not None
        return found

    def bead(self, bead_id: str) -> dict[str, Any]:
        return dict(self.gt.json("bead", "show", bead_id))

    def remote_log(self, branch: str = "trunk") -> list[str]:
        return run_git("log", "--format=%s", branch, cwd=self.remote).splitlines()

    def remote_file(self, name: str, branch: str = "trunk") -> str:
        return run_git("show", f"{branch}:{name}", cwd=self.remote)


def show(repo: Path, commit: str) -> list[str]:
    """A commit's tree, parents, author (with date), committer and message."""
    out = run_git("show", "-s", "--format=%T%n%P%n%an <%ae> %ad%n%cn%n%B", commit, cwd=repo)
    return out.strip().split("\n", 4)


def _git_ok(*args: str, cwd: Path) -> bool:
    """Run git; True when it succeeded (a merge with conflicts does not)."""
    import subprocess

    env_args = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    done = subprocess.run(["git", *env_args, *args], cwd=cwd, capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def yard(tmp_path: Path, remote: Path) -> Yard:
    """A town with rig `app` cloned from `remote`, ready for merge requests."""
    return Yard(tmp_path, remote)


def verdict(decision: str, summary: str, comments: list[dict[str, Any]] | None = None) -> Any:
    """A scripted model reply that gives the reviewer's verdict."""
    arguments: dict[str, Any] = {"decision": decision, "summary": summary}
    if comments:
        arguments["comments"] = comments
    return {"tool_calls": [{"name": "verdict", "arguments": arguments}]}


def github_seams(fake: FakeGitHub, clock: FakeClock) -> Seams:
    """The real GitHub client, pointed at the fake GitHub server, on a fake clock."""
    return Seams(
        forge=lambda settings, rig: GitHubForge(
            token="ghs-test", repo="acme/app", api_url=fake.url
        ),
        clock=clock,
    )
