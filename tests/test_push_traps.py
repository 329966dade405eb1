"""Pushes a remote refuses: a local checkout with the target checked out is named when the rig
is added and by `gt doctor`, and a refused landing's escalation quotes git's whole message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gastown.errors import RuntimeFailure, UserError
from gastown.git import merge as gm
from gastown.git import refusals
from tests.builders import Yard, commit_all
from tests.conftest import Gt, run_git


def checkout(tmp_path: Path, name: str = "work") -> Path:
    """A person's working repository: not bare, `trunk` checked out, pushes refused to it."""
    repo = tmp_path / name
    repo.mkdir()
    run_git("init", "-q", "-b", "trunk", cwd=repo)
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    commit_all(repo, "first")
    return repo


def test_adding_a_checkout_with_the_target_checked_out_warns_with_the_fix(
    gt: Gt, tmp_path: Path
) -> None:
    repo = checkout(tmp_path)
    added = gt("rig", "add", "app", str(repo))
    assert added.code == 0, added.err  # a warning: the checkout may be elsewhere by then
    assert f"gt: warning: {repo} is a checkout with trunk checked out" in added.err
    assert f"git clone --bare {repo} {repo}.git" in added.err
    assert f"git -C {repo} config receive.denyCurrentBranch updateInstead" in added.err
    assert [r["name"] for r in gt.json("rig", "list")] == ["app"]

    run_git("config", "receive.denyCurrentBranch", "updateInstead", cwd=repo)
    assert "checked out" not in gt("rig", "add", "let-in", str(repo)).err


def test_a_bare_remote_or_another_branch_checked_out_is_no_trap(gt: Gt, tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    run_git("clone", "-q", "--bare", str(repo), str(tmp_path / "bare.git"), cwd=tmp_path)
    assert "checked out" not in gt("rig", "add", "bare", str(tmp_path / "bare.git")).err
    run_git("switch", "-q", "-c", "feature", cwd=repo)
    assert "checked out" not in gt("rig", "add", "elsewhere", str(repo), "--branch", "trunk").err
    assert refusals.checked_out_target("https://example.com/a/b.git", "trunk") is None


def test_doctor_names_the_rig_whose_pushes_will_be_refused(gt: Gt, tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    gt.ok("rig", "add", "app", str(repo))
    gt.ok("config", "set", "runtime", "scripted")
    report = json.loads(gt("doctor", "--json").out)
    [pushes] = [c for c in report["checks"] if c["check"] == "pushes app"]
    assert (
        pushes["status"] == "warn"
        and "refusing to update checked out branch" in (pushes["message"])
    )
    assert "receive.denyCurrentBranch updateInstead" in pushes["fix"]

    run_git("config", "receive.denyCurrentBranch", "updateInstead", cwd=repo)
    report = json.loads(gt("doctor", "--json").out)
    [pushes] = [c for c in report["checks"] if c["check"] == "pushes app"]
    assert pushes["status"] == "ok"


def test_a_hooks_several_lines_are_quoted_whole_in_the_escalation(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    run_git("clone", "-q", "--bare", str(checkout(tmp_path)), str(remote), cwd=tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "echo 'policy: trunk takes signed commits only' >&2\n"
        "echo 'policy: see https://example.com/signing' >&2\n"
        "echo 'policy: ask #infra to be added' >&2\n"
        "exit 1\n"
    )
    hook.chmod(0o755)
    yard = Yard(tmp_path, remote)
    _, mr = yard.submit("Add notes", {"NOTES.md": "notes\n"})
    assert yard.drain().held == [mr]
    (esc,) = yard.gt.json("escalations")
    message = esc["message"]
    first, *quoted = message.splitlines()
    assert first.startswith(f"Merge request {mr} is held: The push to origin was rejected: ")
    assert first.endswith(f"`gt mr retry {mr}` queues it again once that is dealt with.")
    for line in (
        "remote: policy: trunk takes signed commits only",
        "remote: policy: see https://example.com/signing",
        "remote: policy: ask #infra to be added",
    ):
        assert f"    {line}" in quoted
    assert any("[remote rejected]" in ln and "pre-receive hook declined" in ln for ln in quoted)
    assert "ask #infra" in str(yard.mr(mr).note)
    shown = yard.gt("escalations").out
    column = shown.splitlines()[0].index("MESSAGE")
    assert " " * column + "    remote: policy: ask #infra to be added" in shown.splitlines()


def test_a_checkout_remote_refuses_the_landing_in_gits_words(tmp_path: Path) -> None:
    repo = checkout(tmp_path, "upstream")
    yard = Yard(tmp_path, repo)
    _, mr = yard.submit("Add notes", {"NOTES.md": "notes\n"})
    assert yard.drain().held == [mr]
    (esc,) = yard.gt.json("escalations")
    first, *quoted = esc["message"].splitlines()
    assert "refusing to update checked out branch: refs/heads/trunk" in first
    assert "    remote: error: refusing to update checked out branch: refs/heads/trunk" in quoted
    assert any("branch is currently checked out" in line for line in quoted)
    assert any("receive.denyCurrentBranch" in line for line in quoted)


def test_a_flood_of_words_keeps_its_first_and_last_lines_within_bounds() -> None:
    lines = [f"remote: line {n} " + "x" * 60 for n in range(500)]
    kept = refusals.said("\n".join([*lines, "To /somewhere", "error: failed to push some refs"]))
    assert kept[0] == lines[0] and kept[-1] == "error: failed to push some refs"
    assert any(line.startswith("… (") and "more lines)" in line for line in kept)
    assert sum(len(line) + 1 for line in kept) <= refusals.QUOTE_CHARS
    assert not any(line.startswith("To ") for line in kept)
    assert refusals.reason(kept) == "failed to push some refs"
    assert refusals.said("remote: \x1b[31mno\x1b[0m\n") == ["remote: no"]


def test_a_rejected_push_is_a_runtime_failure_not_the_users(tmp_path: Path) -> None:
    repo = checkout(tmp_path, "upstream")
    yard = Yard(tmp_path, repo)
    yard.submit("Add notes", {"NOTES.md": "notes\n"})
    yard.drain()  # the refinery's clone of the rig now exists
    tip = run_git("rev-parse", "origin/trunk", cwd=yard.clone).strip()
    new = run_git("commit-tree", f"{tip}^{{tree}}", "-p", tip, "-m", "x", cwd=yard.clone).strip()
    with pytest.raises(gm.PushRejected) as rejected:
        gm.push(yard.clone, "origin", [f"{new}:refs/heads/trunk"], target="trunk")
    assert isinstance(rejected.value, RuntimeFailure)
    assert not isinstance(rejected.value, UserError)
    assert rejected.value.to_json()["code"] == "push_rejected"
