"""Mail that arrives: a polecat writes to the mayor and to the people, the mayor reads it in
its notes and answers with its mail tool, the polecat gets the answer at its next
`gt mail check`, and the people read and answer theirs with `gt inbox`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from tests.builders import bead_status, call, point_at, script, until
from tests.conftest import Gt, run_git

QUESTION = "Should the login page keep the old URL?"
ANSWER = "Keep the old URL and redirect it."


@pytest.fixture
def town(rig_gt: Gt) -> Iterator[Gt]:
    rig_gt.ok("config", "set", "runtime", "scripted")
    rig_gt.ok("config", "set", "refinery.auto", "false")
    yield rig_gt
    rig_gt("down")


def test_mail_from_a_polecat_is_answered_by_the_mayor(town: Gt, town_path: Path) -> None:
    # The polecat asks the mayor, tells the people, then waits for the answer and keeps it.
    wait = "until gt mail check | tee -a answer.txt | grep -q 'Keep the old'; do sleep 0.1; done"
    body = script(
        {"run": f"gt mail send mayor '{QUESTION}'"},
        {"run": "gt mail send town 'Working on the login page.'"},
        {"run": f"{wait} && git add answer.txt && git commit -qm 'Keep the answer'"},
    )
    server = ScriptedModelServer(
        parse(
            {
                "replies": [
                    {"match": QUESTION, "tool_calls": [call("reply_mail", id=1, text=ANSWER)]},
                    {"text": "Answered the polecat's question."},
                ]
            }
        )
    )
    with server:
        point_at(town, server)
        town.ok("up", "-d")
        bead = town.json("sling", "Move the login page", "--body", body)["id"]
        until(lambda: town.json("inbox")["unread"] == 1, "the polecat's mail to the people")
        got = town.json("mayor", "ask", "Anything for me?")
    # The mayor saw the mail in its notes and answered it with its tool.
    assert QUESTION in got["notes"] and "Mail 1 from" in got["notes"]
    (replied,) = got["tool_calls"]
    assert replied["ok"] and replied["result"]["in_reply_to"] == 1
    until(lambda: bead_status(town, bead) == "in_review", "the polecat to keep the answer")
    (run,) = town.json("runs", "--bead", bead)
    kept = run_git("show", f"{run['branch']}:answer.txt", cwd=town_path / "rigs" / "app")
    assert ANSWER in kept and "From mayor" in kept
    mayors = [m for m in town.json("inbox", "--all")["mail"] if m["to"] == "mayor"]
    assert mayors == []  # the mayor's mail is not the people's
    # The people's inbox: the polecat's note, read once, answered.
    (note,) = town.json("inbox")["mail"]
    assert note["from"] == run["polecat"] and note["bead_id"] == bead
    shown = town.ok("inbox", "read", str(note["id"])).out
    assert "Working on the login page." in shown
    assert town.json("inbox")["unread"] == 0
    sent = town.json("inbox", "reply", str(note["id"]), "Thanks!")
    assert sent["to"] == run["polecat"] and sent["from"] == "tester"


def test_bad_mail_is_refused_in_one_sentence(gt: Gt) -> None:
    empty = gt("inbox", "send", "mayor", "   ")
    assert empty.code != 0 and "cannot be empty" in empty.err
    huge = gt("inbox", "send", "mayor", "x" * 20_001)
    assert huge.code != 0 and "at most 20000 characters" in huge.err
    nobody = gt("inbox", "send", "oak", "Hello?")
    assert nobody.code != 0 and "no polecat or person 'oak'" in nobody.err
    missing = gt("inbox", "read", "42")
    assert missing.code != 0 and "no message 42" in missing.err
    assert gt.json("inbox", "--all") == {"unread": 0, "mail": []}
    # A person who has written can be written back to; the mayor gets mail from people too.
    gt.ok("inbox", "send", "mayor", "Please plan the release.")
    assert Gt(gt.cwd, {"GT_ACTOR": "sam"}).json("inbox", "send", "tester", "Hi")["to"] == "tester"
    (mine,) = gt.json("inbox")["mail"]
    assert mine["from"] == "sam"
