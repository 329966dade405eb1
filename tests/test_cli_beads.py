"""Beads from the command line: create, list, show, update, the lifecycle, sling, claim."""

from __future__ import annotations

import io
import json
import re

from gastown.cli.main import main
from tests.conftest import Gt


def test_create_show_and_json_fields(rig_gt: Gt) -> None:
    bead = rig_gt.json(
        "bead",
        "create",
        "Fix the login redirect",
        "-b",
        "Users land on /",
        "-t",
        "bug",
        "-p",
        "P1",
        "-l",
        "auth",
        "-l",
        "web,urgent",
    )
    assert re.fullmatch(r"gt-[0-9a-z]{5,}", bead["id"])
    for field in (
        "id",
        "title",
        "body",
        "status",
        "priority",
        "type",
        "labels",
        "rig",
        "assignee",
        "created_at",
        "updated_at",
        "closed_at",
        "dependencies",
    ):
        assert field in bead
    assert bead["status"] == "open" and bead["priority"] == 1 and bead["type"] == "bug"
    assert bead["labels"] == ["auth", "urgent", "web"]
    assert bead["rig"] == "app"  # the only rig is the default
    assert bead["created_by"] == "tester"
    shown = rig_gt.ok("bead", "show", bead["id"]).out
    assert "Fix the login redirect" in shown and "Users land on /" in shown
    short = bead["id"].removeprefix("gt-")
    assert rig_gt.json("bead", "show", short)["id"] == bead["id"]
    assert rig_gt.json("bead", "show", bead["id"][:5])["id"] == bead["id"]


def test_children_get_parent_dot_n_ids(rig_gt: Gt) -> None:
    epic = rig_gt.json("bead", "create", "Epic", "-t", "epic")["id"]
    first = rig_gt.json("bead", "create", "Part one", "--parent", epic)
    second = rig_gt.json("bead", "create", "Part two", "--parent", epic)
    assert [first["id"], second["id"]] == [f"{epic}.1", f"{epic}.2"]
    assert first["dependencies"][0]["type"] == "parent-child"
    grandchild = rig_gt.json("bead", "create", "Deeper", "--parent", first["id"])
    assert grandchild["id"] == f"{epic}.1.1"
    closing = rig_gt("bead", "close", epic)
    assert closing.code == 1 and "open children" in closing.err


def test_list_filters(rig_gt: Gt) -> None:
    a = rig_gt.json("bead", "create", "A", "-p", "0", "-l", "x", "-t", "bug")["id"]
    b = rig_gt.json("bead", "create", "B", "-p", "3", "-l", "x", "-l", "y")["id"]
    c = rig_gt.json("bead", "create", "C", "-t", "chore")["id"]
    rig_gt.ok("bead", "close", c)

    def ids(*flags: str) -> list[str]:
        return [x["id"] for x in rig_gt.json("bead", "list", *flags)]

    assert ids() == [a, c, b]  # priority order
    assert ids("--status", "closed") == [c]
    assert ids("--status", "open", "--status", "closed") == [a, c, b]
    assert ids("--label", "x") == [a, b]
    assert ids("--label", "x", "--label", "y") == [b]
    assert ids("--type", "bug") == [a]
    assert ids("-p", "3") == [b]
    assert ids("--rig", "app", "--limit", "1") == [a]
    human = rig_gt.ok("bead", "list").out
    assert "3 beads" in human and "P0" in human
    unknown_rig = rig_gt("bead", "list", "--rig", "nope")
    assert unknown_rig.code == 1 and "There is no rig 'nope'" in unknown_rig.err
    bad = rig_gt("bead", "list", "-p", "7")
    assert bad.code == 2 and "Priority must be 0 to 4" in bad.err


def test_lifecycle_is_enforced(rig_gt: Gt) -> None:
    bead = rig_gt.json("bead", "create", "Work")["id"]
    illegal = rig_gt("bead", "update", bead, "--status", "in_review")
    assert illegal.code == 1
    assert f"Bead {bead} is open; it cannot go to in_review." in illegal.err
    assert rig_gt.json("bead", "update", bead, "--status", "in_progress")["started_at"]
    rig_gt.ok("bead", "update", bead, "--status", "in_review")
    closed = rig_gt.json("bead", "close", bead, "--reason", "merged")
    assert (
        closed["status"] == "closed" and closed["closed_at"] and closed["close_reason"] == "merged"
    )
    twice = rig_gt("bead", "close", bead)
    assert twice.code == 1 and "already closed" in twice.err
    reopened = rig_gt.json("bead", "reopen", bead)
    assert reopened["status"] == "open" and reopened["closed_at"] is None
    not_closed = rig_gt("bead", "reopen", bead)
    assert not_closed.code == 1 and "only closed or failed beads" in not_closed.err
    rig_gt.ok("bead", "update", bead, "--status", "in_progress")
    assert rig_gt.json("bead", "update", bead, "--status", "failed")["status"] == "failed"
    assert rig_gt("bead", "close", bead).code == 1  # failed → closed is not a transition


def test_update_fields_hold_and_labels(rig_gt: Gt) -> None:
    bead = rig_gt.json("bead", "create", "Old", "-l", "a")["id"]
    updated = rig_gt.json(
        "bead",
        "update",
        bead,
        "--title",
        "New",
        "-p",
        "0",
        "--hold",
        "--add-label",
        "b",
        "--remove-label",
        "a",
        "--assignee",
        "me",
    )
    assert (
        updated["title"],
        updated["priority"],
        updated["held"],
        updated["labels"],
        updated["assignee"],
    ) == ("New", 0, True, ["b"], "me")
    assert rig_gt.json("bead", "update", bead, "--unhold", "--assignee", "")["assignee"] is None
    nothing = rig_gt("bead", "update", bead)
    assert nothing.code == 2 and "Nothing to update" in nothing.err
    empty = rig_gt("bead", "update", bead, "--title", "  ")
    assert empty.code == 2 and "needs a title" in empty.err
    assert rig_gt.json("bead", "show", bead)["title"] == "New"


def test_claim_is_exclusive(rig_gt: Gt) -> None:
    bead = rig_gt.json("bead", "create", "Contested")["id"]
    won = rig_gt.json("bead", "claim", bead, "--as", "nux")
    assert won["status"] == "in_progress" and won["assignee"] == "nux"
    lost = rig_gt("bead", "claim", bead, "--as", "furiosa")
    assert lost.code == 1 and "by nux" in lost.err


def test_sling_new_and_existing(rig_gt: Gt, git_repo: object) -> None:
    new = rig_gt.json(
        "sling",
        "Fix the login redirect",
        "--rig",
        "app",
        "-p",
        "1",
        "--runtime",
        "codex",
        "--body",
        "details",
    )
    assert new["slung"] and new["runtime"] == "codex" and new["rig"] == "app"
    held = rig_gt.json("sling", "Later", "--hold")
    assert held["slung"] and held["held"]
    plain = rig_gt.json("bead", "create", "Existing")["id"]
    slung = rig_gt.json("sling", plain, "--runtime", "builtin")
    assert slung["id"] == plain and slung["slung"] and slung["runtime"] == "builtin"
    bad_runtime = rig_gt("sling", "X", "--runtime", "gpt")
    assert bad_runtime.code == 2 and "Runtime must be one of" in bad_runtime.err
    missing = rig_gt("sling", "gt-zzzzz")
    assert missing.code == 1 and "There is no bead 'gt-zzzzz'" in missing.err
    no_rig = rig_gt("sling", "Y", "--rig", "nope")
    assert no_rig.code == 1 and "no rig 'nope'" in no_rig.err
    rig_gt.ok("bead", "close", plain)
    closed = rig_gt("sling", plain)
    assert closed.code == 1 and "Reopen it first" in closed.err
    events = rig_gt.json("events", "--bead", plain)
    assert [e["kind"] for e in events] == ["bead.created", "bead.slung", "bead.closed"]


def test_bad_input_leaves_the_store_untouched(rig_gt: Gt) -> None:
    before = rig_gt.json("events", "--limit", "0")
    for argv in (
        ["bead", "create", "X", "-p", "high"],
        ["bead", "create", "X", "--rig", "nope"],
        ["bead", "create", "X", "-t", "story"],
        ["bead", "show", "gt-00000"],
        ["bead", "create", "X", "--parent", "gt-nope"],
    ):
        assert rig_gt(*argv).code in (1, 2)
    assert rig_gt.json("bead", "list") == []
    assert rig_gt.json("events", "--limit", "0") == before


def test_list_and_ready_tables(rig_gt: Gt) -> None:
    title = "A title long enough that the table cuts it at seventy characters, no more"
    short = rig_gt.json("bead", "create", "Short", "-p", "0", "-t", "bug")["id"]
    held = rig_gt.json("bead", "create", title, "-p", "1", "--hold")["id"]
    width = len(short)
    assert len(held) == width
    assert rig_gt.ok("bead", "list").out.splitlines() == [
        f"{'ID':{width}}  P   STATUS         TYPE  RIG  TITLE",
        f"{short}  P0  ○ open         bug   app  Short",
        f"{held}  P1  ○ open (held)  task  app  {title[:69]}…",
        "2 beads",
    ]
    assert rig_gt.ok("ready").out.splitlines() == [
        f"{'ID':{width}}  P   STATUS  TYPE  RIG  TITLE",
        f"{short}  P0  ○ open  bug   app  Short",
        "1 bead",
    ]
    rig_gt.ok("bead", "close", short)
    assert rig_gt.ok("ready").out == "Nothing is ready.\n"
    assert rig_gt.json("ready") == []


def test_listings_print_the_same_json_to_a_binary_stdout(gt: Gt) -> None:
    """`gt bead list --json` and `gt ready --json` hand the database's UTF-8 straight to a
    UTF-8 stdout's buffer, and decode it for any other stream: the bytes printed are those
    of the text, either way."""
    gt.ok("bead", "create", 'Ünïcode ✓ "quoted" \\ slash', "-l", "wide")
    gt.ok("bead", "create", "Ünïcode only", "-l", "narrow", "-b", "line one\nline two")
    for argv in (["bead", "list", "--json"], ["ready", "--json"], ["--json", "ready"]):
        text = gt.ok(*argv).out
        assert text.endswith("]\n") and len(json.loads(text)) == 2
        assert printed(gt, argv, "utf-8") == text.encode("utf-8")
    narrow = ["bead", "list", "--json", "--label", "narrow"]
    assert printed(gt, narrow, "latin-1") == gt.ok(*narrow).out.encode("latin-1")


def printed(gt: Gt, argv: list[str], encoding: str) -> bytes:
    """What `gt ARGV` writes to a stdout encoding `encoding`, as bytes."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding=encoding)
    code = main(argv, environ=gt.environ, cwd=gt.cwd, out=out, err=io.StringIO())
    out.flush()
    assert code == 0
    return raw.getvalue()
