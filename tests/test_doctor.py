"""`gt doctor`: each check's good and bad path on real files, git, processes and databases,
what `--fix` repairs (and what it never touches), and the `--json` shape."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gastown.doctor import FAIL, OK, WARN, files, ledger, programs
from gastown.doctor.checkup import checkup, patient_of
from gastown.errors import UserError
from gastown.model import Polecat, Run
from gastown.runtimes import preflight
from gastown.runtimes.registry import runtime
from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from gastown.store.schema import LATEST
from gastown.town import load
from gastown.townrun import state
from tests.conftest import Gt, run_git

BIN = str(Path(sys.executable).parent)
"""A PATH with python and gt on it (so `scripted` is found) and with /usr/bin for git."""
PATH = f"{BIN}:/usr/bin:/bin"


def doctor(gt: Gt, *args: str) -> tuple[int, dict[str, Any]]:
    result = gt("doctor", "--json", *args)
    return result.code, json.loads(result.out)


def checks(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [c for c in report["checks"] if c["check"] == name]


@pytest.fixture
def town(rig_gt: Gt, town_path: Path) -> Gt:
    """A town with rig `app`, the scripted runtime, and a PATH that has what it needs."""
    rig_gt.ok("config", "set", "runtime", "scripted")
    return Gt(town_path, {"PATH": PATH})


def dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_a_healthy_town_passes_every_check(town: Gt) -> None:
    code, report = doctor(town)
    assert code == 0, report
    assert report["ok"] is True and report["counts"]["fail"] == 0
    assert report["fixed"] == []
    names = [c["check"] for c in report["checks"]]
    assert names[:3] == ["database", "git", "runtime scripted"]
    for name in ("town process", "run files", "git locks", "worktrees app", "disk space"):
        assert name in names
    for check in report["checks"]:
        assert set(check) == {"check", "status", "message", "fix", "repairable", "fixed"}
    human = town("doctor")
    assert human.code == 0 and "All checks passed." in human.out
    assert "ok    git " in human.out


def test_a_runtime_missing_from_the_town_path_fails_with_its_fix(town: Gt, town_path: Path) -> None:
    town.ok("config", "set", "runtime", "claude", "--rig", "app")
    code, report = doctor(Gt(town_path, {"PATH": "/usr/bin:/bin"}))
    assert code == 1
    [claude] = checks(report, "runtime claude")
    assert claude["status"] == FAIL
    assert "`claude` is not on the town's PATH (used by rig app)" in claude["message"]
    assert "gt config set runtime" in claude["fix"]
    [git] = checks(report, "git")
    assert git["status"] == OK and "git version" in git["message"]


def test_git_missing_from_path_fails(town: Gt, town_path: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    code, report = doctor(Gt(town_path, {"PATH": str(empty)}))
    assert code == 1
    assert checks(report, "git")[0]["status"] == FAIL


def fake_program(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_a_runtime_whose_version_fails_is_refused_as_a_run_would_be(tmp_path: Path) -> None:
    import asyncio

    folder = tmp_path / "bin"
    fake_program(folder, "claude", "echo 'cannot start' >&2\nexit 3\n")
    found = asyncio.run(programs.runtimes({"claude": ["town"]}, str(folder), 10.0))
    assert found[0].status == FAIL and "exit 3: cannot start" in found[0].message
    assert "make install" in found[0].fix
    fake_program(folder, "git", "exit 3\n")  # git has no adapter: a warning
    git = asyncio.run(programs.git(str(folder), 10.0))
    assert git.status == WARN and "exit 3" in git.message
    assert preflight.parse_version("git version 2.20.1") < programs.MIN_GIT  # type: ignore[operator]


def test_doctor_holds_a_runtime_to_the_same_minimum_in_the_same_words(tmp_path: Path) -> None:
    import asyncio

    folder = tmp_path / "bin"
    fake_program(folder, "codex", "echo 'codex-cli 0.99.0'\n")
    [found] = asyncio.run(programs.runtimes({"codex": ["town"]}, str(folder), 10.0))
    with pytest.raises(UserError) as refused:
        runtime("codex", path=str(folder))  # what a run's preflight says
    assert found.status == FAIL
    assert found.message == refused.value.message and found.fix == refused.value.hint
    assert "0.99.0, older than 0.171.0" in found.message
    fake_program(folder, "codex", "echo 'codex-cli 0.171.0'\n")
    [found] = asyncio.run(programs.runtimes({"codex": ["town"]}, str(folder), 10.0))
    assert found.status == OK
    assert (
        found.message == f"codex-cli 0.171.0 ({folder / 'codex'}); Gas Town needs 0.171.0 or newer."
    )
    assert runtime("codex", path=str(folder)).name == "codex"


def test_a_stale_pid_file_is_reported_and_removed_by_fix(town: Gt, town_path: Path) -> None:
    pid = dead_pid()
    (state.run_dir(town_path) / "town.json").write_text(
        json.dumps({"pid": pid, "host": "127.0.0.1", "port": 1, "started_at": "x"})
    )
    code, report = doctor(town)
    [stale] = [c for c in checks(report, "run files") if c["status"] != OK]
    assert stale["status"] == WARN and f"process {pid}, which is gone" in stale["message"]
    assert stale["repairable"] is True
    assert code == 0  # a warning alone does not fail the doctor
    code, report = doctor(town, "--fix")
    assert code == 0
    assert report["fixed"] == [
        f"Removed {town_path / 'run' / 'town.json'} (it named process {pid}, which is gone)."
    ]
    assert not (town_path / "run" / "town.json").exists()
    assert checks(report, "run files")[0]["status"] == OK


def test_a_live_town_process_is_not_stale(town: Gt, town_path: Path) -> None:
    handle = state.acquire(town_path)  # this test holds the town's lock as `gt up` would
    try:
        state.write_address(town_path, state.Address(os.getpid(), "127.0.0.1", 9, "now"))
        code, report = doctor(town, "--fix")
        assert code == 0
        assert checks(report, "run files")[0]["status"] == OK
        process = checks(report, "town process")[0]
        assert process["status"] == OK and f"process {os.getpid()}" in process["message"]
        assert (town_path / "run" / "town.json").exists()
    finally:
        handle.close()


def test_leftover_run_files_are_removed_but_a_held_lock_is_kept(town: Gt, town_path: Path) -> None:
    import fcntl

    run = state.run_dir(town_path)
    (run / "refinery-app.lock").write_text("")  # the rig's own lock, not held: it stays
    (run / "town.tmp").write_text("{")
    (run / "refinery-gone.lock").write_text("")
    held = run / "refinery-busy.lock"
    with held.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        code, report = doctor(town, "--fix")
    assert code == 0
    assert sorted(report["fixed"]) == [
        f"Removed {run / 'refinery-gone.lock'}.",
        f"Removed {run / 'town.tmp'}.",
    ]
    assert held.exists() and not (run / "town.tmp").exists()
    assert (run / "refinery-app.lock").exists()


def _worktree(clone: Path, path: Path, branch: str) -> None:
    run_git("worktree", "add", "-q", "-b", branch, str(path), cwd=clone)


def test_a_stray_worktree_is_removed_only_when_it_holds_no_changes(
    town: Gt, town_path: Path
) -> None:
    clone = town_path / "rigs" / "app"
    clean, dirty = (
        town_path / "worktrees" / "app" / "stray",
        town_path / "worktrees" / "app" / "kept",
    )
    _worktree(clone, clean, "gt/stray/x")
    _worktree(clone, dirty, "gt/kept/y")
    (dirty / "notes.txt").write_text("work in progress\n")
    code, report = doctor(town)
    assert code == 0
    found = {c["message"]: c for c in checks(report, "worktrees app")}
    assert any("stray is a worktree the ledger does not know" in m for m in found)
    assert any("kept is a worktree the ledger does not know, with uncommitted" in m for m in found)
    code, report = doctor(town, "--fix")
    assert report["fixed"] == [
        f"Removed the worktree {clean.resolve()} (no uncommitted changes; its branch is kept)."
    ]
    assert not clean.exists()
    assert (dirty / "notes.txt").read_text() == "work in progress\n"  # never thrown away
    assert "gt/stray/x" in run_git("branch", "--list", "gt/stray/x", cwd=clone)
    [left] = [c for c in checks(report, "worktrees app") if c["status"] != OK]
    assert "uncommitted" in left["message"] and left["repairable"] is False


def test_a_folder_that_is_no_worktree_is_left_to_a_person(town: Gt, town_path: Path) -> None:
    odd = town_path / "worktrees" / "app" / "odd"
    odd.mkdir(parents=True)
    (odd / "file").write_text("x")
    code, report = doctor(town, "--fix")
    assert code == 0 and report["fixed"] == []
    [found] = [c for c in checks(report, "worktrees app") if c["status"] != OK]
    assert "is not a worktree of" in found["message"] and (odd / "file").exists()


def test_git_records_of_deleted_worktrees_are_pruned(
    town: Gt, town_path: Path, tmp_path: Path
) -> None:
    clone = town_path / "rigs" / "app"
    gone = tmp_path / "elsewhere"
    _worktree(clone, gone, "gt/gone/z")
    subprocess.run(["rm", "-rf", str(gone)], check=True)
    code, report = doctor(town)
    [found] = [c for c in checks(report, "worktrees app") if c["status"] != OK]
    assert code == 0 and found["status"] == WARN and str(gone) in found["message"]
    code, report = doctor(town, "--fix")
    assert code == 0 and report["fixed"] == [
        f"Ran `git worktree prune` in {clone.resolve()} (1 record(s) forgotten)."
    ]
    assert str(gone) not in run_git("worktree", "list", cwd=clone)


def _working(town_path: Path, polecat: str, branch: str) -> None:
    """The ledger says `polecat` runs a bead on rig app, on `branch`."""
    store = load(town_path).open_store()
    try:
        with store.transaction() as tx:
            now = "2025-01-01T00:00:00Z"
            tx.insert_polecat(
                Polecat(
                    polecat,
                    "app",
                    "working",
                    "gt-x1",
                    "run-1",
                    f"worktrees/app/{polecat}",
                    now,
                    now,
                )
            )
            tx.insert_run(
                Run(
                    "run-1",
                    "gt-x1",
                    polecat,
                    "app",
                    "scripted",
                    branch,
                    f"worktrees/app/{polecat}",
                    1,
                    "running",
                    created_at=now,
                )
            )
    finally:
        store.close()


def test_a_running_run_with_no_worktree_or_no_town_process_fails(town: Gt, town_path: Path) -> None:
    _working(town_path, "birch", "gt/birch/gt-x1")
    code, report = doctor(town)
    assert code == 1
    [missing] = [c for c in checks(report, "worktrees app") if c["status"] != OK]
    assert missing["status"] == FAIL and "run run-1 works in" in missing["message"]
    assert "gt agent reset birch" in missing["fix"]
    process = checks(report, "town process")[0]
    assert process["status"] == FAIL and "1 run(s) active" in process["message"]
    assert "gt up -d" in process["fix"]


def test_a_worktree_on_the_wrong_branch_fails(town: Gt, town_path: Path) -> None:
    clone = town_path / "rigs" / "app"
    _worktree(clone, town_path / "worktrees" / "app" / "birch", "gt/birch/other")
    _working(town_path, "birch", "gt/birch/gt-x1")
    code, report = doctor(town)
    assert code == 1
    [wrong] = [c for c in checks(report, "worktrees app") if c["status"] != OK]
    assert "on gt/birch/other, but its run run-1 works on gt/birch/gt-x1" in wrong["message"]


def test_an_idle_polecat_whose_worktree_is_gone_is_a_warning(town: Gt, town_path: Path) -> None:
    store = load(town_path).open_store()
    try:
        with store.transaction() as tx:
            tx.insert_polecat(Polecat("cedar", "app", worktree="worktrees/app/cedar"))
    finally:
        store.close()
    code, report = doctor(town)
    assert code == 0
    [found] = [c for c in checks(report, "worktrees app") if c["status"] != OK]
    assert found["status"] == WARN and "its next run makes it again" in found["message"]


def test_a_stale_git_lock_is_removed_by_fix(town: Gt, town_path: Path) -> None:
    lock = town_path / "rigs" / "app" / ".git" / "index.lock"
    lock.write_text("")
    old = time.time() - 3600
    os.utime(lock, (old, old))
    code, report = doctor(town)
    assert code == 1
    [found] = checks(report, "git locks")
    assert found["status"] == FAIL and str(lock) in found["message"]
    code, report = doctor(town, "--fix")
    assert code == 0 and report["fixed"] == [f"Removed the stale git lock {lock}."]
    assert not lock.exists()


def test_a_git_lock_while_git_runs_is_left_alone(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    [found] = files.git_locks([repo], time.time() + 3600, git_running=lambda: True)
    assert found.status == WARN and found.repair is None
    [young] = files.git_locks([repo], time.time(), git_running=lambda: False)
    assert young.status == OK  # a fresh lock may be a git about to finish


def test_disk_space_below_the_thresholds() -> None:
    def usage(free: int) -> Any:
        return lambda path: (0, 0, free)

    assert files.disk(Path("/"), usage=usage(10 << 30)).status == OK
    assert files.disk(Path("/"), usage=usage(1 << 30)).status == WARN
    low = files.disk(Path("/"), usage=usage(10 << 20))
    assert low.status == FAIL and "0.0 GiB free" in low.message
    assert files.disk(Path("/"), warn_below=1 << 62).status == WARN  # the real file system


def test_an_unmigrated_ledger_fails_and_fix_migrates_it(town: Gt, town_path: Path) -> None:
    db = town_path / "state.db"
    for end in ("", "-wal", "-shm"):
        Path(f"{db}{end}").unlink(missing_ok=True)
    sqlite3.connect(db).close()
    db.touch()
    code, report = doctor(town)
    assert code == 1
    [found] = checks(report, "database")
    assert (
        found["status"] == FAIL and f"schema version 0; this gt needs {LATEST}" in found["message"]
    )
    assert checks(report, "worktrees")[0]["message"].startswith("Not checked")
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM sqlite_master").fetchone() == (0,)
    code, report = doctor(town, "--fix")
    assert code == 0, report
    assert report["fixed"] == [f"Migrated the ledger from schema version 0 to {LATEST}."]
    assert checks(report, "database")[0]["status"] == OK


def _point_at(town_path: Path, url: str) -> None:
    town = load(town_path)
    town.db_url = url
    town.write()


def test_an_unmigrated_postgresql_ledger_is_migrated_by_fix(
    town: Gt, town_path: Path, pg_url: str
) -> None:
    _point_at(town_path, pg_url)  # a fresh schema: nothing migrated there yet
    code, report = doctor(town)
    assert code == 1 and "PostgreSQL ledger" in checks(report, "database")[0]["message"]
    code, report = doctor(town, "--fix")
    assert code == 0, report
    assert checks(report, "database")[0]["message"].endswith(f"schema version {LATEST}.")


def test_an_unreachable_postgresql_fails_and_skips_the_ledger_checks(
    town: Gt, town_path: Path
) -> None:
    _point_at(town_path, "postgresql://nobody:secret@127.0.0.1:1/nowhere")
    code, report = doctor(town, "--fix")
    assert code == 1 and report["fixed"] == []
    [found] = checks(report, "database")
    assert found["status"] == FAIL and "Cannot read the PostgreSQL ledger" in found["message"]
    assert "secret" not in json.dumps(report)
    assert "Start PostgreSQL" in found["fix"]
    assert checks(report, "town process")[0]["message"].startswith("Not checked")


def test_online_asks_each_model_endpoint_once(town: Gt, town_path: Path) -> None:
    with ScriptedModelServer(parse({"replies": []})) as server:
        town.ok("config", "set", "model_base_url", server.base_url)
        town.ok("config", "set", "model_base_url", "http://127.0.0.1:1", "--rig", "app")
        assert "model endpoint" not in town("doctor").out  # opt-in only
        code, report = doctor(town, "--online")
        good = checks(report, f"model endpoint {server.base_url}")[0]
        bad = checks(report, "model endpoint http://127.0.0.1:1")[0]
    assert good["status"] == OK and "used by town" in good["message"]
    assert bad["status"] == FAIL and "Cannot reach it" in bad["message"]
    assert "used by rig app" in bad["message"] and code == 1


def test_the_town_path_is_the_running_process_own(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "environ").write_bytes(b"HOME=/root\0PATH=/opt/town/bin\0")
    assert programs.town_path({"PATH": "/mine"}, 42, proc) == "/opt/town/bin"
    assert programs.town_path({"PATH": "/mine"}, 43, proc) == "/mine"
    assert programs.town_path({"PATH": "/mine"}, None, proc) == "/mine"


def test_checkup_in_process_with_a_pure_town_process_rule(town_path: Path) -> None:
    assert ledger.town_process(None, "", 0, 0).status == OK
    assert ledger.town_process(7, "http://x", 3, 1).status == OK
    assert ledger.town_process(None, "", 2, 0).status == FAIL
    patient = patient_of(town_path, {"PATH": PATH}, time.time())
    report = checkup(patient, git_running=lambda: False)
    assert not report.failed or any(f.check.startswith("runtime") for f in report.findings)


def test_a_runtime_that_does_not_answer_is_stopped_and_refused(tmp_path: Path) -> None:
    import asyncio

    folder = tmp_path / "bin"
    folder.mkdir()
    slow = folder / "codex"
    slow.write_text("#!/bin/sh\nexec sleep 600\n")
    slow.chmod(0o755)
    [found] = asyncio.run(programs.runtimes({"codex": ["rig app"]}, str(folder), 0.2))
    assert found.status == FAIL and "--version` did not answer within" in found.message


def test_a_refused_or_missing_key_fails_and_an_odd_answer_warns() -> None:
    import asyncio

    import httpx

    from gastown.doctor import online

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "odd.example":
            return httpx.Response(404)
        return httpx.Response(401 if request.headers.get("x-api-key") != "good" else 200)

    async def probe(url: str, key: str) -> Any:
        transport = httpx.MockTransport(answer)  # httpx's own fake transport: no network
        async with httpx.AsyncClient(transport=transport) as client:
            return await online.probe(online.Endpoint(url, key, ["town"]), client)

    assert asyncio.run(probe("https://api.example/v1", "good")).status == OK
    refused = asyncio.run(probe("https://api.example", "bad"))
    assert refused.status == FAIL and "refused the key (HTTP 401)" in refused.message
    none = asyncio.run(probe("https://api.example", ""))
    assert "wants a key, and none is set" in none.message
    assert asyncio.run(probe("https://odd.example", "good")).status == WARN
    assert online.models_url("http://h/v1") == "http://h/v1/models"
    assert online.models_url("http://h") == "http://h/v1/models"
    assert online.endpoint_of("scripted", "", "", {}, {}) is None
    assert online.endpoint_of("claude", "", "", {}, {"ANTHROPIC_API_KEY": "k"}) == (
        "https://api.anthropic.com",
        "k",
    )
    assert online.endpoint_of("codex", "http://gw/v1/", "s", {}, {}) == ("http://gw/v1", "s")
