"""What the feed says: every event kind the town records reads as a sentence with titles, its
ids kept so the terminal prints them and the dashboard links them."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from gastown import config
from gastown.services.sentences import SENTENCES, Names, Ref, say

SOURCE = Path(__file__).parent.parent / "src" / "gastown"
KIND = re.compile(
    r"^(agent|bead|budget|config|convoy|dep|dispatch|escalation|forge|issue|mail|mayor|mr|pr"
    r"|rig|run|town)\.[a-z_]+$"
)
NOT_KINDS = {"budget.state", "mayor.seen_event"}
"""Dotted names of the same shape that are store keys, not events."""
FILE_ENDINGS = {"toml", "json", "lock", "log", "md", "py", "html", "git"}
MADE_FROM_A_VARIABLE = {"agent.stop", "agent.reset", "budget.exceeded", "convoy.reopened"}
"""Kinds the code builds with an f-string (`agent.{action}`, `budget.{level}`, ...)."""


def emitted_kinds() -> set[str]:
    """Every dotted string in the code that names an event kind (files and settings aside)."""
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        if {"scripted", "runtimes"} & set(path.parts):
            continue  # the model servers' and agent CLIs' own event names
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                named = KIND.match(text) and text not in {*config.SETTINGS, *NOT_KINDS}
                if named and text.rsplit(".", 1)[-1] not in FILE_ENDINGS:
                    found.add(text)
    return found | MADE_FROM_A_VARIABLE


def test_every_kind_the_code_records_has_a_sentence_and_every_sentence_a_kind() -> None:
    kinds = emitted_kinds()
    assert len(kinds) > 60
    assert sorted(kinds - SENTENCES.keys()) == [], "add these kinds to sentences.SENTENCES"
    assert sorted(SENTENCES.keys() - kinds) == [], "nothing records these kinds any more"


@pytest.mark.parametrize("kind", sorted(SENTENCES))
def test_each_kind_reads_without_its_internal_name(kind: str) -> None:
    """Even with nothing but its kind and ids, an event says something in words."""
    event = {"kind": kind, "actor": "ana", "bead_id": "gt-a1", "convoy_id": "gt-cv-1"}
    said = say(event, NAMES)
    assert kind not in said.text() and "None" not in said.text() and said.text().strip()


NAMES = Names(
    beads={"gt-a1": "Add a clap function", "gt-b2": "Write the docs"},
    convoys={"gt-cv-1": "Clapping"},
    runs={"run-1": "alder"},
    targets={"mr-1": "main"},
)

TABLE: list[tuple[dict[str, Any], str]] = [
    (
        {"kind": "run.started", "actor": "town", "after": {"run": "run-1"}},
        "alder started 'Add a clap function' (gt-a1)",
    ),
    (
        {"kind": "mr.merged", "actor": "refinery", "after": {"mr": "mr-1"}, "reason": "at c0ffee"},
        "the refinery landed 'Add a clap function' (gt-a1) on main (at c0ffee)",
    ),
    (
        {"kind": "bead.created", "actor": "ana", "convoy_id": "gt-cv-1", "reason": "planned"},
        "ana created 'Add a clap function' (gt-a1) in convoy 'Clapping' (gt-cv-1)",
    ),
    (
        {
            "kind": "bead.updated",
            "actor": "ana",
            "before": {"priority": 3},
            "after": {"priority": 1},
        },
        "ana changed 'Add a clap function' (gt-a1): priority P3 → P1",
    ),
    (
        {"kind": "bead.updated", "actor": "ana", "after": {"held": True}},
        "ana held 'Add a clap function' (gt-a1)",
    ),
    (
        {
            "kind": "bead.status_changed",
            "actor": "town",
            "after": {"status": "in_review"},
            "reason": "mr-1",
        },
        "'Add a clap function' (gt-a1) went to review (mr-1)",
    ),
    (
        {
            "kind": "bead.dispatched",
            "actor": "town",
            "after": {"assignee": "alder"},
            "reason": "run run-1",
        },
        "the town gave 'Add a clap function' (gt-a1) to alder",
    ),
    (
        {
            "kind": "run.ended",
            "actor": "town",
            "after": {"run": "run-1", "status": "failed"},
            "reason": "exit 1",
        },
        "alder's run on 'Add a clap function' (gt-a1) failed (exit 1)",
    ),
    (
        {
            "kind": "mr.reviewed",
            "actor": "refinery",
            "after": {"verdict": "request_changes"},
            "reason": "no tests",
        },
        "the reviewer asked for changes to 'Add a clap function' (gt-a1) (no tests)",
    ),
    (
        {"kind": "dep.added", "actor": "ana", "after": {"depends_on": "gt-b2"}},
        "ana made 'Add a clap function' (gt-a1) wait for 'Write the docs' (gt-b2)",
    ),
    (
        {"kind": "convoy.landed", "actor": "refinery", "reason": "2/2 beads closed"},
        "convoy 'Clapping' (gt-cv-1) landed (2/2 beads closed)",
    ),
    (
        {
            "kind": "config.set",
            "actor": "ana",
            "rig": "app",
            "bead_id": None,
            "convoy_id": None,
            "after": {"key": "runtime", "value": "codex"},
        },
        "ana set runtime to codex on rig app",
    ),
    (
        {"kind": "agent.stop", "actor": "town", "after": {"polecat": "alder"}, "reason": "by ana"},
        "ana stopped alder on 'Add a clap function' (gt-a1)",
    ),
    (
        {
            "kind": "escalation.raised",
            "actor": "town",
            "after": {"severity": "high"},
            "reason": "stuck",
        },
        "the town raised a high escalation on 'Add a clap function' (gt-a1): stuck",
    ),
    (
        {
            "kind": "budget.exceeded",
            "actor": "town",
            "convoy_id": None,
            "after": {"spent": 2.5, "limit": 2.0},
        },
        "'Add a clap function' (gt-a1) used up its budget ($2.50 of $2.00)",
    ),
    (
        {"kind": "mystery.kind", "actor": "ana", "reason": "why not"},
        "ana recorded mystery.kind on 'Add a clap function' (gt-a1) (why not)",
    ),
]


@pytest.mark.parametrize(("event", "text"), TABLE, ids=[e["kind"] for e, _ in TABLE])
def test_the_sentence_table(event: dict[str, Any], text: str) -> None:
    assert say({"bead_id": "gt-a1", "convoy_id": "gt-cv-1", **event}, NAMES).text() == text


def test_a_sentence_keeps_its_references_for_links() -> None:
    said = say({"kind": "run.started", "bead_id": "gt-a1", "after": {"run": "run-1"}}, NAMES)
    assert said.parts == (
        Ref("agent", "alder", "alder"),
        " started ",
        Ref("bead", "gt-a1", "'Add a clap function'"),
    )
    assert said.text(ids=False) == "alder started 'Add a clap function'"
    assert said.to_json()[2] == {"text": "'Add a clap function'", "kind": "bead", "id": "gt-a1"}
    unknown = say({"kind": "run.started", "bead_id": "gt-zz"}, Names())
    assert unknown.text() == "a polecat started gt-zz"
