"""Institutional knowledge: notes kept in the ledger (both backends), ranked by the database's
own full-text search for a bead, fitted to a budget; written by people (`gt knowledge`), by
polecats in a run (`gt remember`, the scripted runtime), by the refinery when a review comment
recurs, and curated by the mayor (the scripted model server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gastown import knowledge as kn
from gastown.errors import InvalidValue, NotFound
from gastown.services import knowledge
from gastown.services.ledger import Ledger
from gastown.store import Store, open_store
from tests.builders import bead_status, call, point_at, script, serve, until
from tests.conftest import Gt


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    with opened.transaction() as tx:
        tx.db.execute(
            "INSERT INTO rigs (name, url, branch, path, created_at, settings) "
            "VALUES ('app', 'u', 'trunk', 'rigs/app', '2026-01-01T00:00:00Z', '{}')"
        )
    yield opened
    opened.close()


def texts(notes: list[kn.Note]) -> list[str]:
    return [n.text for n in notes]


def test_notes_are_kept_judged_edited_merged_and_removed(store: Store) -> None:
    led = Ledger(store, actor="ann")
    town_note = knowledge.add(led, "Tests need `make db` first.")
    rig_note = knowledge.add(led, "Never touch vendor/.", rig="app")
    assert (town_note.status, town_note.source, town_note.author) == ("accepted", "person", "ann")
    assert rig_note.rig == "app" and town_note.rig is None

    knowledge.reject(led, town_note.id)
    assert texts(knowledge.listing(led)) == ["Never touch vendor/."]
    knowledge.accept(led, town_note.id)
    knowledge.edit(led, town_note.id, "Tests need `make db` first, every time.")
    assert knowledge.show(led, town_note.id).text.endswith("every time.")

    again = knowledge.add(led, "Do not edit vendor/ by hand.", rig="app")
    merged = knowledge.merge(led, [rig_note.id, again.id], "vendor/ is generated: never edit it.")
    assert (merged.status, merged.rig) == ("accepted", "app")
    every = {n.id: n for n in knowledge.listing(led, statuses=kn.STATUSES)}
    assert every[rig_note.id].merged_into == merged.id and every[again.id].status == "rejected"

    knowledge.remove(led, merged.id)
    with pytest.raises(NotFound):
        knowledge.show(led, merged.id)
    with store.reader() as tx:
        kinds = [e.kind for e in tx.list_events() if e.kind.startswith("knowledge.")]
    assert kinds.count("knowledge.added") == 4 and "knowledge.merged" in kinds
    assert kinds[-1] == "knowledge.removed"


def test_bad_notes_are_refused_and_nothing_is_written(store: Store) -> None:
    led = Ledger(store)
    for text, said in (
        ("   ", "A note cannot be empty."),
        ("x" * (kn.MAX_TEXT + 1), f"A note is at most {kn.MAX_TEXT} characters"),
        ("bell \x07", "control character U+0007"),
    ):
        with pytest.raises(InvalidValue) as refused:
            knowledge.add(led, text)
        assert said in refused.value.message
    with pytest.raises(NotFound, match="There is no rig 'nope'"):
        knowledge.add(led, "fine", rig="nope")
    with pytest.raises(NotFound, match="There is no note 42"):
        knowledge.accept(led, 42)
    with pytest.raises(InvalidValue, match="at least two"):
        knowledge.merge(led, [1], "one")
    assert knowledge.listing(led, statuses=kn.STATUSES) == []


def test_a_bead_gets_its_most_relevant_notes_within_the_budget(store: Store) -> None:
    led = Ledger(store)
    for i in range(30):
        knowledge.add(led, f"Filler note number {i} about deployment pipelines and caches.")
    knowledge.add(led, "The API layer uses dataclasses, not pydantic.", rig="app")
    hidden = knowledge.add(led, "A proposed note about pydantic validation.")
    knowledge.reject(led, hidden.id)
    with store.reader() as tx:
        ranked = knowledge.for_bead(tx, "app", "Validate the request bodies", "Use pydantic?")
        assert ranked[0].text == "The API layer uses dataclasses, not pydantic."
        assert hidden.id not in [n.id for n in ranked]
        small = knowledge.choose(tx, "app", 20, "Validate with pydantic")
        none = knowledge.choose(tx, "app", 0, "Validate with pydantic")
    assert small[0].text.startswith("The API layer") and none == []
    assert sum(len(kn.line(n)) + 1 for n in small) <= 20 * kn.CHARS_PER_TOKEN


def test_a_review_comment_that_recurs_on_three_merge_requests_is_proposed_once(
    store: Store,
) -> None:
    led = Ledger(store, actor="refinery")
    comment = "Please add a test for the new `{}` flag at line {}."
    made = []
    with store.transaction() as tx:
        for n, mr in enumerate(["mr-1", "mr-1", "mr-2", "mr-3", "mr-4"]):
            made.append(
                knowledge.review_comment_seen(led, tx, "app", mr, None, comment.format(n, n))
            )
        assert knowledge.review_comment_seen(led, tx, "app", "mr-5", None, "Nit.") is None
    proposed = [m for m in made if m is not None]
    assert len(proposed) == 1 and made[3] is proposed[0]  # the third merge request, once
    (note,) = proposed
    assert (note.status, note.source, note.rig) == ("proposed", "refinery", "app")
    assert note.text.startswith("Reviewers on app keep asking for this: Please add a test")


def test_gt_knowledge_commands(rig_gt: Gt) -> None:
    added = rig_gt.json("knowledge", "add", "Tests need `make db` first.", "--rig", "app")
    assert added["status"] == "accepted" and added["author"] == "tester"
    rig_gt.ok("knowledge", "add", "Commit messages are imperative.")
    listed = rig_gt.json("knowledge", "list", "--rig", "app")
    assert [n["text"] for n in listed] == [
        "Tests need `make db` first.",
        "Commit messages are imperative.",
    ]
    assert "Tests need `make db` first." in rig_gt("knowledge", "list").out
    shown = rig_gt.ok("knowledge", "show", str(added["id"])).out
    assert "about rig app" in shown and "From person (tester)" in shown
    rig_gt.ok("knowledge", "reject", str(added["id"]))
    assert len(rig_gt.json("knowledge", "list")) == 1
    assert len(rig_gt.json("knowledge", "list", "--all")) == 2
    rig_gt.ok("knowledge", "accept", str(added["id"]))
    rig_gt.ok("knowledge", "edit", str(added["id"]), "Run `make db` before the tests.")
    exported = rig_gt.ok("knowledge", "export").out
    assert "## The whole town\n\n- Commit messages are imperative." in exported
    assert "## Rig app\n\n- Run `make db` before the tests." in exported
    rig_gt.ok("knowledge", "rm", str(added["id"]))

    for argv, code, said in (
        (("knowledge", "add", " "), 2, "A note cannot be empty."),
        (("knowledge", "add", "x" * 2001), 2, "A note is at most 2000 characters"),
        (("knowledge", "add", "ok", "--rig", "nope"), 1, "There is no rig 'nope'."),
        (("knowledge", "show", "99"), 1, "There is no note 99."),
        (("knowledge", "list", "--rig", "nope"), 1, "There is no rig 'nope'."),
        (("remember", "a lesson"), 1, "This command is for agents inside a run"),
    ):
        got = rig_gt(*argv)
        assert (got.code, said in got.err) == (code, True), got.err
    assert len(rig_gt.json("knowledge", "list", "--all")) == 1


@pytest.fixture
def town(rig_gt: Gt) -> Iterator[Gt]:
    rig_gt.ok("config", "set", "runtime", "scripted")
    rig_gt.ok("config", "set", "refinery.auto", "false")
    yield rig_gt
    rig_gt("down")


def prompt_of(town_path: Path, gt: Gt, bead: str) -> str:
    (run,) = gt.json("runs", "--bead", bead)
    return (town_path / "logs" / "runs" / str(run["id"]) / "prompt.md").read_text()


def test_a_polecat_gets_the_relevant_notes_and_proposes_what_it_learned(
    town: Gt, town_path: Path
) -> None:
    town.ok("knowledge", "add", "The API layer uses dataclasses, not pydantic.", "--rig", "app")
    town.ok("knowledge", "add", "A".join(["Long note about caching "] * 30), "--rig", "app")
    town.ok("config", "set", "knowledge.prompt_budget_tokens", "100")
    town.ok("up", "-d")
    body = "Model the request with pydantic.\n" + script(
        {"run": "gt remember 'The parser tests need fixtures/ regenerated first.'"},
        {"write": "api.txt", "content": "dataclass\n"},
        {"run": "git add api.txt && git commit -qm 'Add the request model'"},
    )
    bead = town.json("sling", "Add a request model", "--body", body)["id"]
    until(lambda: bead_status(town, bead) == "in_review", "the bead to reach in_review")

    prompt = prompt_of(town_path, town, bead)
    assert "# What this town knows\n\n- The API layer uses dataclasses, not pydantic." in prompt
    assert "Long note about caching" not in prompt  # over the 100-token budget
    (learned,) = [n for n in town.json("knowledge", "list") if n["source"] == "polecat"]
    assert learned["status"] == "proposed" and learned["bead_id"] == bead
    assert learned["rig"] == "app" and learned["author"].startswith("app/polecat/")

    # Accepted, it reaches the next polecat of the rig; with auto_accept, no one has to.
    town.ok("knowledge", "accept", str(learned["id"]))
    town.ok("config", "set", "knowledge.auto_accept", "true")
    town.ok("config", "set", "knowledge.prompt_budget_tokens", "2000")
    body = script(
        {"run": "gt remember 'Keep fixtures small.'"},
        {"write": "p.txt", "content": "x\n"},
        {"run": "git add p.txt && git commit -qm 'Parser'"},
    )
    second = town.json("sling", "Fix the parser tests", "--body", body)["id"]
    until(lambda: bead_status(town, second) == "in_review", "the second bead in review")
    assert "The parser tests need fixtures/ regenerated first." in prompt_of(
        town_path, town, second
    )
    kept = [n for n in town.json("knowledge", "list") if n["text"] == "Keep fixtures small."]
    assert kept[0]["status"] == "accepted"


def test_the_mayor_sees_and_curates_the_notes(rig_gt: Gt, town_path: Path) -> None:
    proposed = rig_gt.json("knowledge", "add", "Use tabs.", "--rig", "app")
    rig_gt.ok("knowledge", "reject", str(proposed["id"]))
    rig_gt.ok("knowledge", "accept", str(proposed["id"]))
    store = open_store(f"sqlite:///{town_path / 'state.db'}")
    try:
        with store.transaction() as tx:
            tx.db.execute("UPDATE knowledge SET status = 'proposed'")
    finally:
        store.close()
    rig_gt.ok("knowledge", "add", "Indent with four spaces.", "--rig", "app")
    server = serve(
        {
            "tool_calls": [
                call("reject_knowledge", id=proposed["id"]),
                call("add_knowledge", text="Python files use black.", rig="app"),
                call("list_knowledge", rig="app"),
                call("merge_knowledge", ids=[2, 3], text="Python: black, four spaces."),
                call("accept_knowledge", id=99),
            ]
        },
        {"text": "Curated."},
    )
    with server:
        point_at(rig_gt, server)
        got = rig_gt.json("mayor", "ask", "Tidy the notes")

    system = server.requests[0].body["system"]
    assert "- [2] (app) Indent with four spaces." in system
    assert "1 proposed note(s) wait" in system
    results = [(c["name"], c["ok"]) for c in got["tool_calls"]]
    assert results == [
        ("reject_knowledge", True),
        ("add_knowledge", True),
        ("list_knowledge", True),
        ("merge_knowledge", True),
        ("accept_knowledge", False),
    ]
    (merged,) = rig_gt.json("knowledge", "list")
    assert (merged["text"], merged["source"], merged["author"]) == (
        "Python: black, four spaces.",
        "mayor",
        "mayor",
    )
