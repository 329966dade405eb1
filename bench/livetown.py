"""A real town for the live sections (4 and 5): an upstream git repository, `gt` as
subprocesses, the town process up in the background (`gt up -d`), and the ledger read
directly for what happened to each run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import timing
from gastown import town as town_mod
from gastown.clock import parse_stamp
from gastown.model import Run
from gastown.store import Store

GT = Path(shutil.which("gt", path=str(Path(sys.executable).parent)) or shutil.which("gt") or "gt")
"""The `gt` installed beside this interpreter (as in the venv), else the one on PATH."""
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def git(*args: str, cwd: Path) -> str:
    """Run git in `cwd`; its stdout. Fails loudly (the benchmark's own setup)."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**timing.clean_env(), **GIT_ENV},
    )
    return done.stdout


def make_upstream(path: Path) -> Path:
    """A small repository with one commit on `trunk`, standing in for a project's remote."""
    path.mkdir(parents=True)
    git("init", "-q", "-b", "trunk", cwd=path)
    (path / "README.md").write_text("A rig for the benchmark.\n", encoding="utf-8")
    git("add", ".", cwd=path)
    ident = ["-c", "user.name=Bench", "-c", "user.email=bench@example.invalid"]
    git(*ident, "commit", "-q", "-m", "first", cwd=path)
    return path


def script_body(summary: str, steps: Sequence[Mapping[str, Any]]) -> str:
    """A bead body that carries its scripted agent's steps (the `gt-script` fenced block)."""
    return f"{summary}\n\n```gt-script\n{json.dumps(list(steps))}\n```\n"


@dataclass
class LiveTown:
    """A town with rigs; `up()` starts its town process, closing the context stops it."""

    path: Path
    store: Store
    env: dict[str, str]

    def gt(self, *args: str) -> str:
        """Run `gt ARGS` in the town; its stdout."""
        done = subprocess.run(
            [str(GT), *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)
        return done.stdout

    def sling(self, title: str, rig: str, body: str) -> str:
        """`gt sling`; the new bead's id."""
        bead = json.loads(self.gt("sling", title, "--rig", rig, "--body", body, "--json"))
        return str(bead["id"])

    def up(self) -> int:
        """`gt up -d`; the town process's pid."""
        self.gt("up", "-d")
        return int(json.loads((self.path / "run" / "town.json").read_text())["pid"])

    def runs(self, bead_id: str | None = None, statuses: Sequence[str] | None = None) -> list[Run]:
        with self.store.reader() as tx:
            return tx.list_runs(bead_id=bead_id, statuses=statuses)

    def event_times(self, bead_id: str) -> dict[str, float]:
        """When each kind of event first happened to a bead (`gt events --json --bead`), as
        Unix seconds."""
        found: dict[str, float] = {}
        for event in json.loads(self.gt("events", "--json", "--bead", bead_id)):
            found.setdefault(event["kind"], unix(event["at"]))
        return found

    def wait_until_ended(self, bead_id: str, timeout: float = 60) -> Run:
        """Poll the ledger until the bead's run has ended (its finish is recorded with it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs(bead_id)
            if runs and not runs[-1].active:
                return runs[-1]
            time.sleep(0.02)
        raise TimeoutError(f"the run of {bead_id} did not end within {timeout:.0f} s")


def unix(stamp: str) -> float:
    """An RFC 3339 ledger stamp as Unix seconds (comparable with `time.time()`)."""
    return parse_stamp(stamp).timestamp()


@contextmanager
def live_town(
    path: Path, rigs: Mapping[str, Path], settings: Mapping[str, str]
) -> Iterator[LiveTown]:
    """`gt init`, `gt rig add` for each rig, `gt config set` for each setting; `gt down` (if
    it was brought up) when the block ends."""
    env = timing.clean_env({"GT_ACTOR": "bench"})
    subprocess.run(
        [str(GT), "init", path.name],
        cwd=path.parent,
        env=env,
        capture_output=True,
        check=True,
    )
    town = town_mod.load(path)
    live = LiveTown(path, town.open_store(), env)
    for name, upstream in rigs.items():
        live.gt("rig", "add", name, str(upstream))
    for key, value in settings.items():
        live.gt("config", "set", key, value)
    try:
        yield live
    finally:
        if (path / "run" / "town.json").exists():
            live.gt("down")
        live.store.close()
