"""beads JSONL interop: `gt export` writes what `bd export` writes, `gt import` reads it back.

Given a town, when it is exported and imported into a fresh town, then nothing is lost; and
every bad line stops the whole import with its line number, leaving the town as it was.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG_BASE, Gt


@pytest.fixture
def other_db_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database on the same backend as `db_url`."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    schema = f"gt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def new_town(root: Path, name: str, db_url: str | None = None) -> Gt:
    path = root / name
    extra = ["--db", db_url] if db_url else []
    assert Gt(root)("init", str(path), *extra).code == 0
    return Gt(path)


def create(gt: Gt, *argv: str) -> str:
    return str(gt.json("bead", "create", *argv)["id"])


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_lines(path: Path, *records: object) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def state(gt: Gt) -> tuple[object, object, object]:
    """Everything a user can see of the town's beads and convoys."""
    beads = gt.json("bead", "list")
    convoys = gt.json("convoy", "list")
    views = [gt.json("convoy", "show", c["id"]) for c in convoys]
    return beads, convoys, views


def event_count(gt: Gt) -> int:
    return len(gt.json("events", "--limit", "0"))


def busy_town(gt: Gt) -> None:
    """Beads of every status, labels, every dependency type, a child, held and slung beads,
    a staged convoy, a landed one and a cancelled one."""
    plain = create(gt, "Plain open work", "-b", "Line one\nline <two> & three", "-l", "ui,api")
    doing = create(gt, "Being done", "-p", "0", "--assignee", "ann")
    gt.ok("bead", "update", doing, "--status", "in_progress")
    review = create(gt, "Under review", "-t", "bug")
    gt.ok("bead", "update", review, "--status", "in_progress")
    gt.ok("bead", "update", review, "--status", "in_review")
    done = create(gt, "Finished", "-t", "chore", "-p", "4")
    gt.ok("bead", "close", done, "--reason", "shipped it")
    broke = create(gt, "Went wrong", "-t", "feature")
    gt.ok("bead", "update", broke, "--status", "in_progress")
    gt.ok("bead", "update", broke, "--status", "failed")
    create(gt, "Held back", "--hold", "-t", "epic")
    gt.ok("sling", "Slung work", "--rig", "app", "--runtime", "codex")
    child = create(gt, "A child", "--parent", plain)
    gt.ok("dep", "add", plain, done)
    gt.ok("dep", "add", review, plain, "--type", "related")
    gt.ok("dep", "add", broke, review, "--type", "discovered-from")
    gt.ok("dep", "add", child, doing)
    gt.ok("convoy", "create", "Staged convoy", "--rig", "app", "--task", "a", "--task", "b")
    staged = gt.json("convoy", "create", "Waiting", "--rig", "app", "--task", "c", "--staged")
    gt.ok("convoy", "add", staged["id"], broke)
    landed = gt.json("convoy", "create", "Landed", "--rig", "app", "--task", "d")
    gt.ok("bead", "close", landed["beads"][0]["id"], "--reason", "all in")
    dropped = gt.json("convoy", "create", "Dropped", "--rig", "app", "--task", "e")
    gt.ok("convoy", "close", dropped["id"], "--force", "--reason", "not needed")


def test_a_town_round_trips_through_export_and_import(
    db_url: str, other_db_url: str, git_repo: Path, tmp_path: Path
) -> None:
    source = new_town(tmp_path, "source", db_url)
    source.ok("rig", "add", "app", str(git_repo))
    busy_town(source)
    target = new_town(tmp_path, "target", other_db_url)
    target.ok("rig", "add", "app", str(git_repo))

    out = tmp_path / "town.jsonl"
    source.ok("export", "--out", str(out))
    summary = target.json("import", str(out))

    beads, convoys, _ = state(source)
    assert isinstance(beads, list) and isinstance(convoys, list)
    assert summary["created"] == len(beads) + len(convoys) == len(lines_of(out))
    assert (summary["updated"], summary["stale"], summary["skipped"]) == (0, 0, 0)
    assert state(target) == state(source)
    assert {b["status"] for b in beads} == {"open", "in_progress", "in_review", "closed", "failed"}
    assert {d["type"] for b in beads for d in b["dependencies"]} == {
        "blocks",
        "parent-child",
        "related",
        "discovered-from",
    }
    assert target.ok("export").out == out.read_text()

    events = event_count(target)
    again = target.json("import", str(out))
    assert again["unchanged"] == len(lines_of(out))
    assert (again["created"], again["updated"], again["stale"]) == (0, 0, 0)
    assert event_count(target) == events
    assert state(target) == state(source)


def test_export_is_bd_shaped_and_byte_for_byte_stable(rig_gt: Gt, tmp_path: Path) -> None:
    busy_town(rig_gt)
    first = rig_gt.ok("export").out
    assert rig_gt.ok("export").out == first
    rig_gt.ok("export", "--out", "a.jsonl")
    rig_gt.ok("export", "--out", "a.jsonl")
    assert (rig_gt.cwd / "a.jsonl").read_bytes() == first.encode()

    assert first.endswith("\n") and "\r" not in first and ": " not in first
    records = [json.loads(line) for line in first.splitlines()]
    assert [r["id"] for r in records] == sorted(str(r["id"]) for r in records)
    for r in records:
        keys = list(r)
        assert keys[:3] == ["_type", "id", "title"] and r["_type"] == "issue"
        assert keys[-3:] == ["dependency_count", "dependent_count", "comment_count"]
        assert r["status"] in ("open", "in_progress", "blocked", "closed")
        assert r["issue_type"] in ("task", "bug", "feature", "chore", "epic")
        assert "body" not in r and "type" not in r
        assert r["dependency_count"] == len(r.get("dependencies", []))
    assert "\\u003ctwo\\u003e \\u0026 three" in first

    by_id = {str(r["id"]): r for r in records}
    convoys = [r for r in records if r.get("metadata", {}).get("gastown", {}).get("kind")]
    assert len(convoys) == 4 and all(c["issue_type"] == "epic" for c in convoys)
    landed = next(c for c in convoys if c["title"] == "Landed")
    assert landed["status"] == "closed" and landed["closed_at"]
    assert landed["metadata"]["gastown"]["status"] == "landed"
    dropped = next(c for c in convoys if c["title"] == "Dropped")
    assert dropped["status"] == "closed" and dropped["close_reason"] == "not needed"
    gastown = dropped["metadata"]["gastown"]
    assert gastown["status"] == "cancelled" and gastown["cancelled_at"] == dropped["closed_at"]
    assert "landed_at" not in gastown
    members = [r for r in records if r.get("metadata", {}).get("gastown", {}).get("convoy_id")]
    for member in members:
        convoy_id = member["metadata"]["gastown"]["convoy_id"]
        assert {"depends_on_id": convoy_id, "type": "parent-child"}.items() <= next(
            d for d in member["dependencies"] if d["depends_on_id"] == convoy_id
        ).items()
        assert by_id[convoy_id]["dependent_count"] >= 1
    failed = next(r for r in records if r["title"] == "Went wrong")
    assert failed["status"] == "blocked"
    assert {"held": False, "status": "failed"}.items() <= failed["metadata"]["gastown"].items()
    slung = next(r for r in records if r["title"] == "Slung work")
    assert slung["metadata"]["gastown"] == {"rig": "app", "runtime": "codex", "slung": True}


BD_LINE = (
    '{"id":"bd-main-idj","title":"Tidy the release notes","description":"Group entries '
    'by area.","status":"in_progress","priority":2,"issue_type":"chore","owner":"mw@example.org",'
    '"created_at":"2026-04-18T16:19:12Z","created_by":"matt wilkie","updated_at":'
    '"2026-04-18T16:30:16Z","started_at":"2026-04-18T16:30:16Z","dependency_count":0,'
    '"dependent_count":0,"comment_count":0}'
)
BD_RICH_LINE = (
    '{"_type":"issue","id":"bd-k3x","title":"Pick a cache \\u003cstore\\u003e",'
    '"description":"Redis or memcached?","design":"Measure both \\u0026 compare.",'
    '"acceptance_criteria":"A written decision.","notes":"Ask ops first.","status":"deferred",'
    '"priority":1,"issue_type":"decision","assignee":"ann","created_at":'
    '"2026-03-01T09:00:00.25Z","created_by":"bo","updated_at":"2026-03-02T10:00:00Z",'
    '"defer_until":"2026-06-01T00:00:00Z","external_ref":"gh-9","metadata":{"team":"infra"},'
    '"labels":["cache","needs review"],"dependencies":[{"issue_id":"bd-k3x","depends_on_id":'
    '"bd-main-idj","type":"waits-for","created_at":"2026-03-01T09:00:00Z","created_by":"bo",'
    '"metadata":"{\\"gate\\":\\"all-children\\"}","thread_id":"t-1"}],"comments":[{"id":'
    '"3f1c","issue_id":"bd-k3x","author":"ann","text":"Leaning to Redis.","created_at":'
    '"2026-03-02T10:00:00Z"}],"dependency_count":1,"dependent_count":0,"comment_count":1}'
)


def test_real_bd_lines_import_and_export_back_intact(gt: Gt, tmp_path: Path) -> None:
    (tmp_path / "bd.jsonl").write_text(BD_LINE + "\n" + BD_RICH_LINE + "\n")
    summary = gt.json("import", str(tmp_path / "bd.jsonl"))
    assert (summary["created"], summary["unchanged"]) == (2, 0)

    chore = gt.json("bead", "show", "bd-main-idj")
    assert (chore["status"], chore["type"]) == ("in_progress", "chore")
    assert chore["body"] == "Group entries by area."
    assert chore["started_at"] == "2026-04-18T16:30:16.000000Z"
    decision = gt.json("bead", "show", "bd-k3x")
    assert (decision["status"], decision["held"], decision["type"]) == ("open", True, "task")
    assert decision["labels"] == ["cache", "needs review"]
    assert decision["dependencies"][0]["type"] == "waits-for"

    # bd-k3x now waits for bd-main-idj, so the latter counts one dependent.
    chore_line = '{"_type":"issue",' + BD_LINE[1:].replace(
        '"dependent_count":0', '"dependent_count":1'
    )
    assert gt.ok("export").out.splitlines() == [BD_RICH_LINE, chore_line]


def test_a_stale_line_is_skipped_and_a_newer_one_merges(gt: Gt, tmp_path: Path) -> None:
    bead = create(gt, "Original title", "-l", "keep")
    other = create(gt, "Other")
    gt.ok("dep", "add", bead, other)
    old = tmp_path / "old.jsonl"
    gt.ok("export", "--out", str(old))
    gt.ok("bead", "update", bead, "--title", "Renamed in the town")

    summary = gt.json("import", str(old))
    assert (summary["stale"], summary["stale_ids"], summary["unchanged"]) == (1, [bead], 1)
    assert gt.json("bead", "show", bead)["title"] == "Renamed in the town"

    (line,) = [r for r in lines_of(old) if r["id"] == bead]
    line.update(title="Renamed in bd", labels=["added"], updated_at="2030-01-01T00:00:00Z")
    del line["dependencies"]
    newer = write_lines(tmp_path / "newer.jsonl", line)
    assert gt.json("import", str(newer))["updated"] == 1
    shown = gt.json("bead", "show", bead)
    assert (shown["title"], shown["labels"]) == ("Renamed in bd", ["added", "keep"])
    assert [d["depends_on_id"] for d in shown["dependencies"]] == [other]
    (event,) = gt.json("events", "--bead", bead, "--kind", "bead.updated")[-1:]
    assert event["reason"] == f"imported from {newer}"
    assert event["after"]["title"] == "Renamed in bd"


def test_a_malformed_line_fails_the_whole_import(db_url: str, tmp_path: Path) -> None:
    gt = new_town(tmp_path, "town", db_url)
    events = event_count(gt)
    bad = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "bd-1", "title": "Fine"})
    bad.write_text(f"{good}\n\n{good.replace('bd-1', 'bd-2')}\n" + '{"id": "bd-3", "title": \n')

    result = gt("import", str(bad))
    assert result.code == 2
    assert result.err.startswith(f"gt: Line 4 of {bad} is not valid JSON: ")
    assert gt.json("bead", "list") == [] and event_count(gt) == events
    err = json.loads(gt("import", str(bad), "--json").err)["error"]
    assert err["code"] == "invalid_import" and err["message"].startswith("Line 4 of")


def test_an_invalid_priority_fails_the_whole_import(db_url: str, tmp_path: Path) -> None:
    gt = new_town(tmp_path, "town", db_url)
    path = write_lines(
        tmp_path / "p.jsonl",
        {"id": "bd-1", "title": "Fine", "priority": 1},
        {"id": "bd-2", "title": "Too low", "priority": 7},
    )
    result = gt("import", str(path))
    assert result.code == 2
    assert result.err.splitlines()[0] == (
        f"gt: Line 2 of {path} (bd-2) has priority 7, but a priority is 0 to 4."
    )
    assert gt.json("bead", "list") == []


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"title": "No id"}, "has no usable id"),
        ({"id": "bd-1", "title": "  "}, "has no title"),
        ({"id": "bd-1", "title": "x" * 501}, "has a title longer than 500 characters"),
        ({"id": "bd-1", "title": "T", "priority": "1"}, 'has priority "1"'),
        ({"id": "bd-1", "title": "T", "status": "exploded"}, "has status 'exploded'"),
        ({"id": "bd-1", "title": "T", "closed_at": "2026-01-01T00:00:00Z"}, "has a closed_at"),
        ({"id": "bd-1", "title": "T", "created_at": "yesterday"}, "not an RFC 3339 time"),
        ({"id": "bd-1", "title": "T", "labels": "a,b"}, "has labels that are not a list"),
        ({"id": "bd-1", "title": "T", "metadata": [1]}, "metadata that is not a JSON object"),
        (
            {"id": "bd-1", "title": "T", "dependencies": [{"depends_on_id": "bd-1"}]},
            "depends on itself",
        ),
        (
            {"id": "bd-1", "title": "T", "metadata": {"gastown": {"convoy_id": "gt-cv-zz"}}},
            "puts it in convoy gt-cv-zz",
        ),
        ({"id": "bd-1", "title": "T", "estimated_minutes": -5}, "negative estimated_minutes"),
        (["not", "an", "object"], "is not a JSON object"),
        ({"id": "../../etc/passwd", "title": "T"}, "has id '../../etc/passwd', which is not an id"),
        ({"id": "bd-1", "title": "T", "dependencies": [{"depends_on_id": "../x"}]}, "not an id"),
        ({"id": "bd-1", "title": "Bell\u0007 ringing"}, "title with a control character (U+0007)"),
        ({"id": "bd-1", "title": "Tab\there"}, "title with a control character (U+0009)"),
        ({"id": "bd-1", "title": "T", "description": "x" * (64 * 1024 + 1)}, "at most 64 kB"),
        ({"id": "bd-1", "title": "T", "description": "a\u0000b"}, "NUL character"),
        ({"id": "bd-1", "title": "T", "notes": "a\u0000b"}, "NUL character"),
        ({"id": "bd-1", "title": "T", "labels": ["ok", "x" * 101]}, "a label longer than 100"),
        (
            {"id": "bd-1", "title": "T", "dependencies": [{"depends_on_id": "bd-nowhere"}]},
            "depends on bd-nowhere, which is neither in the file nor in this town",
        ),
    ],
)
def test_bad_records_are_refused_with_their_line(
    gt: Gt, tmp_path: Path, record: object, problem: str
) -> None:
    path = write_lines(tmp_path / "in.jsonl", {"id": "bd-0", "title": "Fine"}, record)
    result = gt("import", str(path))
    assert result.code == 2, result.err
    assert result.err.startswith(f"gt: Line 2 of {path}")
    assert problem in result.err
    assert gt.json("bead", "list") == []


def test_an_import_that_would_close_a_cycle_is_refused(gt: Gt, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "cycle.jsonl",
        {"id": "bd-a", "title": "A", "dependencies": [{"depends_on_id": "bd-b", "type": "blocks"}]},
        {"id": "bd-b", "title": "B", "dependencies": [{"depends_on_id": "bd-a", "type": "blocks"}]},
    )
    result = gt("import", str(path))
    assert result.code == 2  # a malformed file, as a plan with a cycle is
    assert f"The blocks dependencies of {path} form a cycle: bd-a → bd-b → bd-a." in result.err
    assert gt.json("bead", "list") == []


def test_an_import_that_closes_a_cycle_with_the_town_is_refused_too(gt: Gt, tmp_path: Path) -> None:
    first, second = create(gt, "First"), create(gt, "Second")
    gt.ok("dep", "add", second, first)
    edge = {"depends_on_id": second, "type": "blocks"}
    path = write_lines(
        tmp_path / "back.jsonl",
        {
            "id": first,
            "title": "First",
            "updated_at": "2031-01-01T00:00:00Z",
            "dependencies": [edge],
        },
    )
    events = event_count(gt)
    result = gt("import", str(path))
    assert result.code == 2 and "form a cycle" in result.err
    assert gt.json("bead", "show", first)["dependencies"] == [] and event_count(gt) == events


def test_a_number_too_long_to_read_is_refused(gt: Gt, tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text('{"id": "bd-1", "title": "T", "priority": ' + "9" * 5000 + "}\n")
    result = gt("import", str(path))
    assert result.code == 2
    assert result.err.splitlines()[0] == f"gt: Line 1 of {path} has a number too long."


def test_a_dependency_on_a_bead_already_in_the_town_is_kept(gt: Gt, tmp_path: Path) -> None:
    here = create(gt, "Already here")
    path = write_lines(
        tmp_path / "dep.jsonl",
        {"id": "bd-new", "title": "New", "dependencies": [{"depends_on_id": here}]},
    )
    gt.ok("import", str(path))
    assert [d["depends_on_id"] for d in gt.json("bead", "show", "bd-new")["dependencies"]] == [here]


def test_memories_and_tombstones_are_skipped_and_counted(gt: Gt, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "m.jsonl",
        {"_type": "memory", "key": "style", "value": "short functions"},
        {"id": "bd-dead", "title": "Gone", "status": "tombstone"},
        {"id": "bd-live", "title": "Here"},
    )
    result = gt.ok("import", str(path))
    assert "1 created, 0 updated, 0 unchanged, 0 stale, 2 skipped" in result.out
    (bead,) = gt.json("bead", "list")
    assert (bead["id"], bead["priority"]) == ("bd-live", 0)  # a missing priority is P0, as in bd


def test_a_dry_run_checks_and_reports_but_writes_nothing(gt: Gt, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.jsonl", {"id": "bd-1", "title": "One", "priority": 3})
    events = event_count(gt)
    summary = gt.json("import", str(path), "--dry-run")
    assert (summary["dry_run"], summary["created"]) == (True, 1)
    assert "nothing written" in gt.ok("import", str(path), "--dry-run").out
    assert gt.json("bead", "list") == [] and event_count(gt) == events


def test_imported_beads_get_one_event_each_and_children_keep_numbering(
    gt: Gt, tmp_path: Path
) -> None:
    path = write_lines(
        tmp_path / "kids.jsonl",
        {"id": "bd-p", "title": "Parent"},
        {"id": "bd-p.3", "title": "Third child", "dependencies": [{"depends_on_id": "bd-p"}]},
    )
    gt.ok("import", str(path))
    kinds = [e["kind"] for e in gt.json("events", "--kind", "bead.*")]
    assert kinds == ["bead.imported", "bead.imported"]
    assert create(gt, "Fourth child", "--parent", "bd-p") == "bd-p.4"


def test_rigs_the_town_lacks_are_named(gt: Gt, tmp_path: Path) -> None:
    meta = {"gastown": {"rig": "web"}}
    path = write_lines(tmp_path / "r.jsonl", {"id": "bd-1", "title": "T", "metadata": meta})
    result = gt.ok("import", str(path))
    assert "This town has no rig 'web' yet" in result.out
    assert gt.json("bead", "show", "bd-1")["rig"] == "web"


def test_large_files_report_progress_except_under_json(gt: Gt, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "big.jsonl", *({"id": f"bd-{i}", "title": f"Task {i}"} for i in range(1000))
    )
    result = gt.ok("import", str(path), "--dry-run")
    assert "Read 1,000 lines" in result.err and "Checked 1,000 records" in result.err
    quiet = gt("import", str(path), "--json")
    assert quiet.code == 0 and quiet.err == "" and quiet.json()["created"] == 1000


def test_unreadable_files_and_folders_are_plain_errors(gt: Gt, tmp_path: Path) -> None:
    missing = gt("import", str(tmp_path / "nope.jsonl"))
    assert missing.code == 2 and "Cannot read" in missing.err
    nowhere = gt("export", "--out", str(tmp_path / "no" / "such" / "dir.jsonl"))
    assert nowhere.code == 1 and "Cannot write" in nowhere.err


def test_a_status_changed_in_bd_wins_over_the_one_gas_town_wrote(gt: Gt, tmp_path: Path) -> None:
    broke = create(gt, "Went wrong")
    gt.ok("bead", "update", broke, "--status", "in_progress")
    gt.ok("bead", "update", broke, "--status", "failed")
    held = create(gt, "Held back", "--hold")
    gt.ok("export", "--out", "town.jsonl")
    lines = {str(r["id"]): r for r in lines_of(gt.cwd / "town.jsonl")}
    assert lines[broke]["status"] == "blocked"  # bd has no `failed`
    # A bd user closes the failed one and defers the held one; bd keeps metadata as it was.
    lines[broke].update(status="closed", closed_at="2031-01-01T00:00:00Z")
    lines[held].update(status="deferred")
    for line in lines.values():
        line["updated_at"] = "2031-01-01T00:00:00Z"
    edited = write_lines(tmp_path / "edited.jsonl", *lines.values())

    assert gt.json("import", str(edited))["updated"] == 2
    closed = gt.json("bead", "show", broke)
    assert (closed["status"], closed["held"]) == ("closed", False)
    deferred = gt.json("bead", "show", held)
    assert (deferred["status"], deferred["held"]) == ("open", True)
    assert '"status":"deferred"' in gt.ok("export").out


def test_a_bd_child_of_a_convoy_epic_joins_the_convoy(rig_gt: Gt, tmp_path: Path) -> None:
    convoy = rig_gt.json("convoy", "create", "Release", "--task", "one")
    edge = {"depends_on_id": convoy["id"], "type": "parent-child"}
    path = write_lines(
        tmp_path / "bd.jsonl", {"id": "bd-new", "title": "Two", "dependencies": [edge]}
    )
    rig_gt.ok("import", str(path))
    bead = rig_gt.json("bead", "show", "bd-new")
    assert (bead["convoy_id"], bead["dependencies"]) == (convoy["id"], [])
    assert rig_gt.json("convoy", "show", convoy["id"])["progress"]["total"] == 2
