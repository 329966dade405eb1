"""Shared fixtures: real git repositories, real towns, real SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gastown.cli.main import main
from gastown.clock import FakeClock
from gastown.model import Rig
from gastown.services.ledger import Ledger
from gastown.store import Store, open_store

pytest_plugins = ("tests.github_openapi",)

AT0 = "2026-01-01T00:00:00.000000Z"
"""The start of the test day (`tests.builders.at(0)`)."""
PG_BASE = os.environ.get("GT_TEST_PG", "postgresql://127.0.0.1:5432/test")


def run_git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A repository whose default branch is `trunk` (never assume main), with one commit."""
    repo = tmp_path / "upstream"
    repo.mkdir()
    run_git("init", "-q", "-b", "trunk", cwd=repo)
    run_git("config", "user.email", "dev@example.com", cwd=repo)
    run_git("config", "user.name", "Dev", cwd=repo)
    # A checkout takes pushes to its checked-out branch only so (see git.refusals).
    run_git("config", "receive.denyCurrentBranch", "updateInstead", cwd=repo)
    (repo / "README.md").write_text("hello\n")
    run_git("add", ".", cwd=repo)
    run_git("commit", "-q", "-m", "first", cwd=repo)
    return repo


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema in the `test` database, dropped afterwards."""
    schema = f"gt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each backend in turn: the same test runs against SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A new, empty store on each backend in turn (a test driving a running town imports
    `tests.builders.store` instead: that town's own store)."""
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def ledger(store: Store) -> Ledger:
    """The services' handle on `store`, with rig `app`: a fake clock and seeded ids, so runs
    repeat."""
    with store.transaction() as tx:
        tx.insert_rig(Rig("app", "file:///srv/app.git", "trunk", "rigs/app", AT0))
    return Ledger(store, prefix="gt", actor="tester", clock=FakeClock(), rng=random.Random(7))


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Gt:
    """Runs `gt` in-process against one town, as a user in that folder would."""

    def __init__(self, cwd: Path, environ: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.environ = {"GT_ACTOR": "tester", **(environ or {})}

    def __call__(self, *argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), environ=self.environ, cwd=self.cwd, out=out, err=err)
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, *argv: str) -> Result:
        result = self(*argv)
        assert result.code == 0, f"gt {' '.join(argv)} failed ({result.code}): {result.err}"
        return result

    def json(self, *argv: str) -> Any:
        return self.ok(*argv, "--json").json()


@pytest.fixture
def town_path(tmp_path: Path) -> Path:
    path = tmp_path / "town"
    assert Gt(tmp_path)("init", str(path)).code == 0
    return path


@pytest.fixture
def gt(town_path: Path) -> Gt:
    return Gt(town_path)


@pytest.fixture
def rig_gt(gt: Gt, git_repo: Path) -> Gt:
    """A town with one rig, `app`, cloned from a real repository."""
    gt.ok("rig", "add", "app", str(git_repo))
    return gt
