"""What the target's history says: one commit per landing on its first-parent line, with
exactly the tree the gates ran on, naming the beads it brings.

The gates here write the tree they run on to a file (a gate is a shell command run in the
refinery's worktree), so a test can compare what landed with what was tested.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from gastown.model import CLOSED, IN_PROGRESS, IN_REVIEW, MR_TESTING, OPEN
from gastown.services import beads
from gastown.services.convoys import feature_branch
from tests.builders import CALC, GATE, Yard, remote, show, yard
from tests.conftest import run_git

__all__ = ["remote", "yard"]  # the Yard's fixtures, which pytest finds here by name


def record_trees(yard: Yard, tmp_path: Path) -> Path:
    """Make the gates note each tree they test (then run the usual gate)."""
    trees = tmp_path / "trees.txt"
    noting = f"git rev-parse 'HEAD^{{tree}}' >> {trees}"
    yard.gt.ok("config", "set", "refinery.gates", json.dumps([noting, GATE]))
    return trees


def tip(yard: Yard, branch: str = "trunk") -> str:
    return run_git("rev-parse", branch, cwd=yard.remote).strip()


def first_parents(yard: Yard, old: str, new: str) -> list[str]:
    return run_git("rev-list", "--first-parent", f"{old}..{new}", cwd=yard.remote).split()


def bead_trailers(yard: Yard, commit: str, key: str = "Gastown-Bead") -> list[str]:
    shown = f"--format=%(trailers:key={key},valueonly,separator=%x20)"
    return run_git("show", "-s", shown, commit, cwd=yard.remote).split()


@pytest.mark.parametrize("method", ["merge", "rebase"])
def test_a_batch_of_two_lands_as_one_commit_of_the_tree_the_gates_passed(
    yard: Yard, tmp_path: Path, method: str
) -> None:
    yard.gt.ok("config", "set", "refinery.merge_method", method)
    trees = record_trees(yard, tmp_path)
    old = tip(yard)
    a_bead, a = yard.submit("Add a", {"a.txt": "a\n"})
    b_bead, b = yard.submit("Add b", {"b.txt": "b\n"})
    assert sorted(yard.drain().landed) == sorted([a, b])

    (landed,) = first_parents(yard, old, tip(yard))
    tree, parents, _, committer, message = show(yard.remote, landed)
    assert trees.read_text().split() == [tree]  # the gates ran once, on exactly this tree
    assert yard.mr(a).merged_commit == yard.mr(b).merged_commit == landed
    assert parents.split()[0] == old and committer == "app/refinery"
    heads = [yard.mr(a).head_commit, yard.mr(b).head_commit]
    if method == "merge":  # each branch's own head is a parent
        assert parents.split()[1:] == heads
    else:  # the branches rebased into one line beside the target: semi-linear
        (line,) = parents.split()[1:]
        rebased = run_git("rev-list", "--parents", f"{old}..{line}", cwd=yard.remote)
        assert [len(r.split()) for r in rebased.splitlines()] == [2, 2]
        assert run_git("log", "--format=%s", f"{old}..{line}", cwd=yard.remote).split("\n")[:2] == [
            "Add b",
            "Add a",
        ]
    assert message.splitlines()[0] == f"Land 2 beads: {a_bead}, {b_bead}"
    assert bead_trailers(yard, landed) == [a_bead, b_bead]


def test_a_one_commit_branch_that_names_its_bead_lands_as_it_is(yard: Yard) -> None:
    old = tip(yard)
    named = "Add notes\n\nGastown-Bead: {bead}"
    _, mr = yard.submit("Add notes", {"NOTES.md": "notes\n"}, message=named)
    assert yard.drain().landed == [mr]
    got = yard.mr(mr)
    assert got.merged_commit == got.head_commit == tip(yard)
    assert first_parents(yard, old, tip(yard)) == [got.head_commit]


def test_a_longer_branch_lands_as_one_merge_commit_named_for_its_bead(
    yard: Yard, tmp_path: Path
) -> None:
    trees = record_trees(yard, tmp_path)
    old = tip(yard)
    bead, mr = yard.submit("Add notes", {"NOTES.md": "notes\n"}, then={"MORE.md": "more\n"})
    assert yard.drain().landed == [mr]
    (landed,) = first_parents(yard, old, tip(yard))
    tree, parents, _, _, message = show(yard.remote, landed)
    assert trees.read_text().split() == [tree]
    assert parents.split() == [old, yard.mr(mr).head_commit]
    assert message.splitlines()[0] == f"Merge {bead}: Add notes"
    assert bead_trailers(yard, landed) == [bead]


def test_the_good_prefix_of_a_red_batch_lands_as_one_commit_it_gated(
    yard: Yard, tmp_path: Path
) -> None:
    trees = record_trees(yard, tmp_path)
    old = tip(yard)
    a_bead, a = yard.submit("Add a", {"a.txt": "a\n"})
    b_bead, b = yard.submit("Add b", {"b.txt": "b\n"})
    _, bad = yard.submit("Break add", {"calc.py": "def add(a, b):\n    return 0\n"})
    done = yard.step()
    assert sorted(done.landed) == sorted([a, b]) and done.reworked == [bad]
    (landed,) = first_parents(yard, old, tip(yard))
    tree, parents, _, _, _ = show(yard.remote, landed)
    assert tree in trees.read_text().split()
    assert parents.split() == [old, yard.mr(a).head_commit, yard.mr(b).head_commit]
    assert bead_trailers(yard, landed) == [a_bead, b_bead]
    assert run_git("show", f"{landed}:calc.py", cwd=yard.remote) == CALC


def test_a_convoy_lands_on_its_branch_and_then_the_target_one_gated_commit_each(
    yard: Yard, tmp_path: Path
) -> None:
    made = yard.gt.json(
        "convoy", "create", "Two notes", "--rig", "app", "--task", "Note A", "--task", "Note B"
    )
    convoy = made["id"]
    ids = [b["id"] for b in yard.gt.json("convoy", "show", convoy)["beads"]]
    store = yard.town.open_store()
    with store.reader() as tx:
        record = tx.get_convoy(convoy)
    store.close()
    assert record is not None
    feature = feature_branch(record)
    trees = record_trees(yard, tmp_path)
    old = tip(yard)
    yard.submit("Note A", {"a.txt": "a\n"}, target=feature, convoy=convoy, bead_id=ids[0])
    yard.submit("Note B", {"b.txt": "b\n"}, target=feature, convoy=convoy, bead_id=ids[1])
    assert len(yard.drain().landed) == 3

    (on_feature,) = first_parents(yard, old, tip(yard, feature))
    (on_trunk,) = first_parents(yard, old, tip(yard))
    tested = trees.read_text().split()
    assert [show(yard.remote, c)[0] for c in (on_feature, on_trunk)] == tested
    assert show(yard.remote, on_trunk)[1].split() == [old, on_feature]
    assert bead_trailers(yard, on_feature) == ids
    assert bead_trailers(yard, on_trunk, "Gastown-Convoy") == [convoy]
    assert bead_trailers(yard, on_trunk) == ids
    assert show(yard.remote, on_trunk)[4].startswith(f"Land convoy {convoy}: Two notes")


@pytest.mark.parametrize("method", ["merge", "rebase"])
def test_a_landing_pushed_but_not_recorded_is_not_landed_or_named_again(
    yard: Yard, method: str
) -> None:
    yard.gt.ok("config", "set", "refinery.merge_method", method)
    old = tip(yard)
    a_bead, a = yard.submit("Add a", {"a.txt": "a\n"})  # fast-forwarded, made again
    b_bead, b = yard.submit("Add b", {"b.txt": "b\n"}, then={"b2.txt": "b2\n"})
    yard.gt.ok("config", "set", "refinery.batch_size", "1")
    assert yard.drain().landed == [a, b]  # a as a commit made again, b as a merge commit
    yard.gt.ok("config", "set", "refinery.batch_size", "4")
    ledger = yard.ledger()
    try:  # as a step that died right after its push leaves them: testing, beads in review
        for mr_id, bead_id in ((a, a_bead), (b, b_bead)):
            with ledger.store.transaction() as tx:
                got = tx.get_merge_request(mr_id)
                assert got is not None
                got.status, got.merged_commit, got.landed_at = MR_TESTING, None, None
                tx.update_merge_request(got)
            for status in (OPEN, IN_PROGRESS, IN_REVIEW):
                beads.update(ledger, bead_id, {"status": status})
    finally:
        ledger.store.close()
    c_bead, c = yard.submit("Add c", {"c.txt": "c\n"})
    assert sorted(yard.drain().landed) == sorted([a, b, c])
    assert all(yard.bead(x)["status"] == CLOSED for x in (a_bead, b_bead, c_bead))
    landings = first_parents(yard, old, tip(yard))
    named = Counter(b for commit in landings for b in bead_trailers(yard, commit))
    assert named == {a_bead: 1, b_bead: 1, c_bead: 1} and len(landings) == 3
