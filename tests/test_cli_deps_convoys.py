"""Dependencies, the ready set and convoys, as a user drives them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Gt

PLAN = """
title = "Verbose mode"

[[tasks]]
key = "flag"
title = "Add a --verbose flag"
body = "Wire it through the CLI."
priority = 1

[[tasks]]
key = "tests"
title = "Tests for --verbose"
needs = ["flag"]

[[tasks]]
key = "docs"
title = "Document --verbose"
needs = ["flag"]
labels = ["docs"]

[[tasks]]
key = "release"
title = "Release notes"
needs = ["tests", "docs"]
priority = 3
"""


def ready_titles(gt: Gt, *flags: str) -> list[str]:
    return [b["title"] for b in gt.json("ready", *flags)]


def test_dep_add_remove_and_cycles(rig_gt: Gt) -> None:
    a, b, c = (rig_gt.json("bead", "create", t)["id"] for t in ("A", "B", "C"))
    rig_gt.ok("dep", "add", b, a)
    rig_gt.ok("dep", "add", c, b)
    assert ready_titles(rig_gt) == ["A"]
    cycle = rig_gt("dep", "add", a, c)
    assert cycle.code == 1
    assert f"would create a cycle: {a} → {c} → {b} → {a}." in cycle.err
    self_dep = rig_gt("dep", "add", a, a)
    assert self_dep.code == 2 and "cannot depend on itself" in self_dep.err
    dup = rig_gt("dep", "add", b, a)
    assert dup.code == 1 and "already depends" in dup.err
    rig_gt.ok("dep", "add", a, c, "--type", "related")  # soft links may loop; never block
    assert ready_titles(rig_gt) == ["A"]
    rig_gt.ok("dep", "remove", c, b)
    assert ready_titles(rig_gt) == ["A", "C"]
    missing = rig_gt("dep", "remove", c, b)
    assert missing.code == 1 and "does not depend on" in missing.err
    bad_type = rig_gt("dep", "add", a, b, "--type", "loves")
    assert bad_type.code == 2


def test_dep_tree_both_ways(rig_gt: Gt) -> None:
    a, b, c = (rig_gt.json("bead", "create", t)["id"] for t in ("A", "B", "C"))
    rig_gt.ok("dep", "add", c, b)
    rig_gt.ok("dep", "add", b, a)
    tree = rig_gt.json("dep", "tree", c)
    assert tree["id"] == c and tree["children"][0]["id"] == b
    assert tree["children"][0]["children"][0]["id"] == a
    assert rig_gt.json("dep", "tree", a, "--reverse")["children"][0]["id"] == b
    text = rig_gt.ok("dep", "tree", c).out
    assert f"└── ○ {b} B (open)" in text


def test_ready_skips_held_blocked_parents_and_filters_by_rig(rig_gt: Gt, git_repo: Path) -> None:
    """An epic is not ready while its child is open (the child is); a blocked epic holds its
    child back; closing the child makes the epic ready."""
    rig_gt.ok("rig", "add", "other", str(git_repo))
    gate = rig_gt.json("bead", "create", "Gate", "--rig", "app")["id"]
    epic = rig_gt.json("bead", "create", "Epic", "--rig", "app", "-t", "epic")["id"]
    child = rig_gt.json("bead", "create", "Child", "--parent", epic)["id"]
    rig_gt.ok("bead", "create", "Held", "--rig", "app", "--hold")
    rig_gt.ok("bead", "create", "Elsewhere", "--rig", "other", "-p", "0")
    assert ready_titles(rig_gt) == ["Elsewhere", "Gate", "Child"]
    rig_gt.ok("dep", "add", epic, gate)
    assert ready_titles(rig_gt, "--rig", "app") == ["Gate"]
    rig_gt.ok("bead", "close", gate)
    assert ready_titles(rig_gt, "--rig", "app") == ["Child"]
    rig_gt.ok("bead", "close", child)
    assert ready_titles(rig_gt, "--rig", "app") == ["Epic"]
    assert rig_gt("ready", "--rig", "nope").code == 1


def test_blocked_lists_what_each_bead_waits_on(rig_gt: Gt, git_repo: Path) -> None:
    """Given a bead blocked by two others, an epic blocked by one and its child, then `gt
    blocked` lists the unfinished blocked beads by priority, each with the unclosed beads it
    waits for, its open children, or the blocked parent it is under; closing one blocker
    updates the list (the epic still waits for its child); a closed bead is not listed; and
    an unknown rig is refused."""
    rig_gt.ok("rig", "add", "other", str(git_repo))
    ids = {t: rig_gt.json("bead", "create", t, "--rig", "app")["id"] for t in ("A", "B", "Late")}
    epic = rig_gt.json("bead", "create", "Epic", "--rig", "app", "-t", "epic", "-p", "1")["id"]
    child = rig_gt.json("bead", "create", "Child", "--parent", epic)["id"]
    assert child == f"{epic}.1"
    done = rig_gt.json("bead", "create", "Done", "--rig", "other")["id"]
    rig_gt.ok("dep", "add", ids["Late"], ids["A"])
    rig_gt.ok("dep", "add", ids["Late"], ids["B"])
    rig_gt.ok("dep", "add", epic, ids["A"])
    rig_gt.ok("dep", "add", done, ids["A"])
    rig_gt.ok("bead", "close", done, "--force")

    listed = rig_gt.json("blocked")
    assert [b["title"] for b in listed] == ["Epic", "Late", "Child"]
    assert [[w["id"] for w in b["waiting_on"]] for b in listed] == [
        [ids["A"]],
        sorted([ids["A"], ids["B"]]),
        [],
    ]
    assert listed[0]["waiting_on"][0] == {"id": ids["A"], "status": "open", "title": "A"}
    assert [b["under"] for b in listed] == [None, None, epic]
    assert [[c["id"] for c in b["open_children"]] for b in listed] == [[child], [], []]
    table = rig_gt.ok("blocked").out
    assert f"{ids['A']} (open); its children {child} (open)" in table
    assert f"under {epic}" in table and "3 beads" in table

    rig_gt.ok("bead", "close", ids["A"])
    assert [
        (b["title"], [w["title"] for w in b["waiting_on"]], len(b["open_children"]))
        for b in rig_gt.json("blocked")
    ] == [("Epic", [], 1), ("Late", ["B"], 0)]
    assert rig_gt.json("blocked", "--rig", "other") == []
    assert rig_gt.ok("blocked", "--rig", "other").out == "Nothing is blocked.\n"
    unknown = rig_gt("blocked", "--rig", "nope")
    assert unknown.code == 1 and "There is no rig 'nope'." in unknown.err


def test_bead_show_says_why_a_bead_is_or_is_not_ready(rig_gt: Gt) -> None:
    """`gt bead show` ends its facts with whether the bead is ready and, if not, everything
    that holds it back; `--json` carries the same as `ready`, `waiting_on`, `under` and
    `staged_convoy`, and the open children a parent waits for as `open_children`."""
    # A runtime whose program is on PATH, so readiness is not held back by a missing one.
    rig_gt.ok("config", "set", "runtime", "scripted")
    gate = rig_gt.json("bead", "create", "Gate", "--rig", "app")["id"]
    slung = rig_gt.json("sling", "Slung", "--rig", "app")["id"]
    epic = rig_gt.json("bead", "create", "Epic", "--rig", "app", "-t", "epic", "--hold")["id"]
    child = rig_gt.json("bead", "create", "Child", "--parent", epic)["id"]
    rig_gt.ok("dep", "add", epic, gate)
    staged = rig_gt.json("convoy", "create", "Later", "--task", "Waits", "--staged")

    def last_line(bead_id: str) -> str:
        return rig_gt.ok("bead", "show", bead_id).out.rstrip().splitlines()[-1]

    assert last_line(gate) == f"  ready; `gt sling {gate}` hands it to a polecat"
    assert last_line(slung) == "  ready: the next free polecat of rig app takes it"
    assert last_line(epic) == (
        f"  not ready: held; waiting on {gate} (open); waiting on its children {child} (open)"
    )
    assert last_line(child) == f"  not ready: under {epic}, which is blocked"
    (waits,) = rig_gt.json("convoy", "show", staged["id"])["beads"]
    assert last_line(waits["id"]) == f"  not ready: in staged convoy {staged['id']}"
    rig_gt.ok("bead", "update", gate, "--status", "in_progress")
    rig_gt.ok("dep", "add", gate, slung)
    assert last_line(gate) == f"  blocked: waiting on {slung} (open)"

    shown = rig_gt.json("bead", "show", epic)
    assert shown["ready"] is False and shown["under"] is None
    assert shown["waiting_on"] == [{"id": gate, "status": "in_progress", "title": "Gate"}]
    assert shown["open_children"] == [{"id": child, "status": "open", "title": "Child"}]
    assert rig_gt.json("bead", "show", slung)["ready"] is True
    assert rig_gt.json("bead", "show", waits["id"])["staged_convoy"] == staged["id"]


def test_convoy_from_plan_file_releases_work_in_dependency_order(
    rig_gt: Gt, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    made = rig_gt.json("convoy", "create", "--file", str(plan))
    assert made["title"] == "Verbose mode" and made["rig"] == "app"
    assert made["progress"] == {"closed": 0, "total": 4}
    assert made["merge_mode"] == "review-then-land" and made["status"] == "open"
    by_title = {b["title"]: b for b in made["beads"]}
    assert all(b["slung"] and b["convoy_id"] == made["id"] for b in made["beads"])
    assert [d["depends_on_id"] for d in by_title["Release notes"]["dependencies"]] == sorted(
        [by_title["Tests for --verbose"]["id"], by_title["Document --verbose"]["id"]]
    )
    assert len(made["waves"]) == 3

    assert ready_titles(rig_gt) == ["Add a --verbose flag"]
    rig_gt.ok("bead", "close", by_title["Add a --verbose flag"]["id"])
    assert ready_titles(rig_gt) == ["Tests for --verbose", "Document --verbose"]
    blocked = rig_gt("bead", "close", by_title["Release notes"]["id"])
    assert blocked.code == 1 and "still blocked by" in blocked.err
    for title in ("Tests for --verbose", "Document --verbose", "Release notes"):
        rig_gt.ok("bead", "close", by_title[title]["id"])
    landed = rig_gt.json("convoy", "show", made["id"])
    assert landed["status"] == "landed" and landed["progress"] == {"closed": 4, "total": 4}
    assert landed["landed_at"]
    kinds = [e["kind"] for e in rig_gt.json("events", "--convoy", made["id"], "--limit", "0")]
    assert kinds[0] == "convoy.created" and kinds[-1] == "convoy.landed"


def test_staged_convoy_waits_for_start(rig_gt: Gt) -> None:
    made = rig_gt.json(
        "convoy",
        "create",
        "Quick",
        "--task",
        "One",
        "--task",
        "Two",
        "--staged",
        "--merge-mode",
        "review-and-merge",
    )
    assert made["staged"] and made["merge_mode"] == "review-and-merge"
    assert ready_titles(rig_gt) == []
    rig_gt.ok("convoy", "start", made["id"])
    assert sorted(ready_titles(rig_gt)) == ["One", "Two"]
    again = rig_gt("convoy", "start", made["id"])
    assert again.code == 1 and "not staged" in again.err


def test_staged_default_and_merge_mode_come_from_settings(rig_gt: Gt) -> None:
    rig_gt.ok("config", "set", "staged_convoys_default", "true")
    rig_gt.ok("config", "set", "convoy_merge_mode", "review-and-merge", "--rig", "app")
    made = rig_gt.json("convoy", "create", "Defaults", "--task", "T")
    assert made["staged"] and made["merge_mode"] == "review-and-merge"


def test_convoy_add_remove_close(rig_gt: Gt) -> None:
    made = rig_gt.json("convoy", "create", "Group", "--task", "One")
    extra = rig_gt.json("bead", "create", "Extra")["id"]
    assert rig_gt.json("convoy", "add", made["id"], extra)["progress"]["total"] == 2
    twice = rig_gt("convoy", "add", made["id"], extra)
    assert twice.code == 1 and "already in convoy" in twice.err
    other = rig_gt.json("convoy", "create", "Other", "--task", "X")
    taken = rig_gt("convoy", "add", other["id"], extra)
    assert taken.code == 1 and f"belongs to convoy {made['id']}" in taken.err
    assert rig_gt.json("convoy", "remove", made["id"], extra)["progress"]["total"] == 1
    assert rig_gt.json("bead", "show", extra)["convoy_id"] is None
    unfinished = rig_gt("convoy", "close", made["id"])
    assert unfinished.code == 1 and "1 of 1 beads not closed" in unfinished.err
    closed = rig_gt.json("convoy", "close", made["id"], "--force", "--reason", "descoped")
    assert closed["status"] == "cancelled" and closed["close_reason"] == "descoped"
    assert closed["cancelled_at"] and closed["landed_at"] is None
    listed = rig_gt.json("convoy", "list", "--status", "cancelled")
    assert [c["id"] for c in listed] == [made["id"]]
    assert rig_gt.json("convoy", "list", "--status", "landed") == []
    assert len(rig_gt.json("convoy", "list")) == 2
    assert rig_gt("convoy", "show", "gt-cv-nope").code == 1


def test_malformed_plans_are_refused_whole(rig_gt: Gt, tmp_path: Path) -> None:
    cases = {
        "broken.toml": ("[[tasks]\ntitle=", "is not valid TOML"),
        "unknown.toml": (
            '[[tasks]]\ntitle = "A"\nneeds = ["ghost"]',
            "needs 'ghost', which is not",
        ),
        "cycle.toml": (
            '[[tasks]]\nkey="a"\ntitle="A"\nneeds=["b"]\n'
            '[[tasks]]\nkey="b"\ntitle="B"\nneeds=["a"]',
            "form a cycle: a → b → a",
        ),
        "prio.toml": ('[[tasks]]\ntitle = "A"\npriority = 9', "task 1: Priority must be 0 to 4"),
        "typo.toml": ('[[tasks]]\ntitle = "A"\nneeds_ = []', "unknown field(s): needs_"),
        "dupe.toml": (
            '[[tasks]]\nkey="a"\ntitle="A"\n[[tasks]]\nkey="a"\ntitle="B"',
            "share the key 'a'",
        ),
        "empty.toml": ("title = 'x'", "lists no tasks"),
        "plan.json": ('{"tasks": [{"title": ""}]}', "needs a title"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        result = rig_gt("convoy", "create", "T", "--file", str(path))
        assert result.code == 2, name
        assert message in result.err, (name, result.err)
    missing = rig_gt("convoy", "create", "T", "--file", str(tmp_path / "absent.toml"))
    assert missing.code == 2 and "Cannot read the plan file" in missing.err
    no_rig = rig_gt("convoy", "create", "T", "--task", "x", "--rig", "nope")
    assert no_rig.code == 1
    assert rig_gt.json("bead", "list") == [] and rig_gt.json("convoy", "list") == []


def test_json_plan_and_a_thousand_beads(rig_gt: Gt, tmp_path: Path) -> None:
    tasks = [
        {"key": f"t{i}", "title": f"Task {i}", "needs": [f"t{i - 1}"] if i % 10 else []}
        for i in range(1000)
    ]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"title": "Big", "tasks": tasks}))
    made = rig_gt.json("convoy", "create", "--file", str(path))
    assert made["progress"]["total"] == 1000 and len({b["id"] for b in made["beads"]}) == 1000
    assert len(rig_gt.json("ready")) == 100  # the default limit
    assert len(rig_gt.json("ready", "--limit", "0")) == 100
    assert len(rig_gt.json("ready", "--limit", "20")) == 20
