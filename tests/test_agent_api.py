"""Talking back: an agent inside a run uses `gt done`, `gt status`, `gt escalate`,
`gt checkpoint`, `gt mail` and `gt prime` against the real town process, with its run token.

The town process is started with `gt up -d`; runs are written straight into the store (as the
supervisor would), and the agent commands run as real subprocesses with the environment the
supervisor gives an agent.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gastown.clock import SystemClock, stamp
from gastown.model import RUNNING, SUCCEEDED, Event, Polecat, Run, run_branch
from gastown.record import replace
from gastown.store import Store
from gastown.town import load
from gastown.townrun import run_tokens
from tests.conftest import Gt, Result


class Town:
    """The town process as a test sees it: its URL, its token, its store."""

    def __init__(self, gt: Gt, path: Path, url: str) -> None:
        self.gt = gt
        self.path = path
        self.url = url
        self.token = (path / "run" / "token").read_text().strip()
        self.store: Store = load(path).open_store()

    def start_run(self, run_id: str, polecat: str, prompt: str | None = None) -> dict[str, str]:
        """A running run of `polecat` on a new bead, and the environment its agent gets."""
        bead = self.gt.json("bead", "create", f"Work for {polecat}", "--rig", "app")["id"]
        now = stamp(SystemClock().now())  # a fresh run: nothing for the watchdog to time out
        with self.store.transaction() as tx:
            tx.insert_polecat(Polecat(polecat, "app", "working", bead, run_id, None, now, now))
            run = Run(
                run_id,
                bead,
                polecat,
                "app",
                "scripted",
                run_branch(polecat, bead),
                f"polecats/{polecat}/app",
                status=RUNNING,
                created_at=now,
                started_at=now,
            )
            assert tx.insert_run(run)
        if prompt is not None:
            folder = self.path / "logs" / "runs" / run_id
            folder.mkdir(parents=True)
            (folder / "prompt.md").write_text(prompt)
        return {
            "GT_API_URL": self.url,
            "GT_RUN_TOKEN": run_tokens.mint(self.token, run_id),
            "GT_RUN_ID": run_id,
            "GT_BEAD_ID": bead,
            "GT_TOWN": str(self.path),
        }

    def end_run(self, run_id: str) -> None:
        with self.store.transaction() as tx:
            run = tx.get_run(run_id)
            assert run is not None
            ended = replace(run, status=SUCCEEDED, ended_at=stamp(SystemClock().now()))
            assert tx.update_run(ended, RUNNING)

    def run(self, run_id: str) -> Run:
        with self.store.reader() as tx:
            found = tx.get_run(run_id)
        assert found is not None
        return found

    def events(self, kind: str) -> list[Event]:
        with self.store.reader() as tx:
            return tx.list_events(kind=kind)


@pytest.fixture
def town(rig_gt: Gt, town_path: Path) -> Iterator[Town]:
    """A town with rig `app` and its process up (stopped afterwards)."""
    address = rig_gt.json("up", "-d")
    up = Town(rig_gt, town_path, address["url"])
    try:
        yield up
    finally:
        up.store.close()
        rig_gt("down")


def agent(env: dict[str, str], *argv: str) -> Result:
    """`gt ARGV` as an agent runs it: a real process with the run's environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    done = subprocess.run(
        [sys.executable, "-m", "gastown", *argv],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def call(url: str, token: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_an_agent_reports_progress_and_finishes(town: Town) -> None:
    """Given a running run, when its agent reports status, keeps a checkpoint and says done
    twice, then the run holds what it said, the second done is only acknowledged, and every
    call left an event."""
    env = town.start_run("run-a", "birch")

    said = agent(env, "status", "Reading the login handler", "--json")
    assert said.code == 0, said.err
    assert json.loads(said.out)["status_text"] == "Reading the login handler"
    assert "Status of run run-a" in agent(env, "status", "Writing the fix").out

    kept = agent(env, "checkpoint", '{"step": 2, "files": ["login.py"]}')
    assert kept.code == 0 and "Checkpoint kept on run run-a" in kept.out
    bad = agent(env, "checkpoint", "{step: 2")
    assert bad.code == 2 and "not valid JSON" in bad.err
    not_object = agent(env, "checkpoint", "[1, 2]")
    assert not_object.code == 2 and "JSON object" in not_object.err

    first = agent(env, "done", "--summary", "Fixed the redirect")
    assert first.code == 0 and first.out.startswith("Recorded: run run-a")
    again = agent(env, "done", "--json")
    assert again.code == 0
    assert json.loads(again.out)["already"] is True
    assert json.loads(again.out)["summary"] == "Fixed the redirect"

    run = town.run("run-a")
    assert run.status_text == "Writing the fix" and run.status_at is not None
    assert run.checkpoint == {"step": 2, "files": ["login.py"]}
    assert run.summary == "Fixed the redirect" and run.done_at is not None
    assert len(town.events("run.status")) == 2
    assert len(town.events("run.checkpoint")) == 1
    assert len(town.events("run.done")) == 1
    repeated = town.events("run.done_repeated")
    assert len(repeated) == 1 and repeated[0].actor == "app/polecat/birch"
    assert all(e.bead_id == run.bead_id for e in town.events("run.*"))


def test_an_escalation_reaches_people_until_acknowledged(town: Town) -> None:
    """Given a running run, when its agent escalates, then `gt escalations` shows it on the
    run's bead until a person acknowledges it."""
    env = town.start_run("run-e", "birch")
    raised = agent(env, "escalate", "--severity", "high", "The tests need a database", "--json")
    assert raised.code == 0, raised.err
    escalation = json.loads(raised.out)
    assert escalation["bead_id"] == env["GT_BEAD_ID"] and escalation["run_id"] == "run-e"
    wrong = agent(env, "escalate", "--severity", "urgent", "Help")
    assert wrong.code == 2 and "urgent" in wrong.err

    listed = town.gt.json("escalations")
    assert [(e["id"], e["severity"]) for e in listed] == [(escalation["id"], "high")]
    assert "The tests need a database" in town.gt.ok("escalations").out
    acked = town.gt.ok("escalation", "ack", str(escalation["id"]))
    assert f"Acknowledged escalation {escalation['id']}" in acked.out
    assert town.gt.json("escalations") == []
    assert town.gt.json("escalations", "--all")[0]["acknowledged_by"] == "tester"
    twice = town.gt("escalation", "ack", str(escalation["id"]))
    assert twice.code == 1 and "already acknowledged by tester" in twice.err
    assert town.gt("escalation", "ack", "999").code == 1

    raised_events = town.events("escalation.raised")
    assert [e.bead_id for e in raised_events] == [env["GT_BEAD_ID"]]
    assert len(town.events("escalation.acknowledged")) == 1


def test_agents_mail_each_other_and_read_it_once(town: Town) -> None:
    """Given two running polecats, when one mails the other, then the other's check returns
    it once, marked read; mail to the mayor is accepted and mail to nobody is refused."""
    birch = town.start_run("run-b", "birch")
    alder = town.start_run("run-c", "alder")
    sent = agent(birch, "mail", "send", "alder", "I changed the session API", "--json")
    assert sent.code == 0, sent.err
    assert json.loads(sent.out)["from"] == "birch"
    assert agent(birch, "mail", "send", "mayor", "Is the login bead still wanted?").code == 0
    nobody = agent(birch, "mail", "send", "oak", "Hello?")
    assert nobody.code == 1 and "no polecat or person 'oak'" in nobody.err

    checked = agent(alder, "mail", "check", "--json")
    assert checked.code == 0, checked.err
    got = json.loads(checked.out)["mail"]
    assert [(m["from"], m["text"]) for m in got] == [("birch", "I changed the session API")]
    assert got[0]["read_at"] is not None
    assert agent(alder, "mail", "check").out.strip() == "No new mail."
    assert "No new mail." in agent(birch, "mail", "check").out

    assert len(town.events("mail.sent")) == 2
    assert len(town.events("mail.checked")) == 3


def test_prime_prints_the_runs_instructions(town: Town) -> None:
    env = town.start_run("run-p", "birch", prompt="# Fix the login redirect\n\nThen `gt done`.\n")
    primed = agent(env, "prime")
    assert primed.code == 0 and primed.out == "# Fix the login redirect\n\nThen `gt done`.\n"
    assert json.loads(agent(env, "prime", "--json").out)["bead_id"] == env["GT_BEAD_ID"]
    missing = agent(town.start_run("run-q", "alder"), "prime")
    assert missing.code == 1 and "No prompt was written for run run-q" in missing.err
    assert len(town.events("run.primed")) == 2


def test_tokens_speak_only_for_their_own_active_run(town: Town) -> None:
    """A forged token, a token for a run the town does not have, a token presented as another
    run's, the town token on agent routes, a run token on town routes and an ended run's token
    are all refused."""
    env = town.start_run("run-t", "birch")
    other = town.start_run("run-u", "alder")

    forged = agent({**env, "GT_RUN_TOKEN": "gtr.run-t." + "0" * 40}, "status", "hi")
    assert forged.code == 1 and "A valid run token is required" in forged.err
    unknown = agent({**env, "GT_RUN_TOKEN": run_tokens.mint(town.token, "run-zz")}, "done")
    assert unknown.code == 1 and "Run run-zz is not a run of this town" in unknown.err
    borrowed = agent({**env, "GT_RUN_TOKEN": other["GT_RUN_TOKEN"]}, "status", "hi")
    assert borrowed.code == 1 and "This run token is for run run-u" in borrowed.err

    code, body = call(town.url + "/api/agent/status", town.token, "POST", {"text": "hi"})
    assert code == 401 and "the town token is not accepted here" in body["detail"]
    code, body = call(town.url + "/api/status", env["GT_RUN_TOKEN"])
    assert code == 401 and "a run token is not accepted here" in body["detail"]
    assert call(town.url + "/api/status", town.token)[0] == 200

    town.end_run("run-t")
    code, body = call(town.url + "/api/agent/status", env["GT_RUN_TOKEN"], "POST", {"text": "x"})
    assert code == 403
    assert body["error"]["message"] == (
        "Run run-t has ended (succeeded); its token is no longer accepted."
    )
    for argv in (("status", "still here"), ("done",), ("mail", "check"), ("prime",)):
        ended = agent(env, *argv)
        assert ended.code == 1 and "has ended (succeeded)" in ended.err, argv
    assert town.run("run-t").done_at is None
    assert town.events("run.*") == []


def test_outside_a_run_or_without_a_town_it_says_so(town: Town) -> None:
    """Without the run's environment the agent commands say what they are for; with a town
    that does not answer they say that, in one sentence each."""
    outside = agent({"GT_TOWN": str(town.path)}, "status", "hello")
    assert outside.code == 1
    assert outside.err.splitlines()[0] == (
        "gt: This command is for agents inside a run: GT_API_URL and GT_RUN_TOKEN are not set."
    )
    assert json.loads(agent({"GT_TOWN": str(town.path)}, "status", "--json").out)["up"] is True

    with socket.socket() as sock:  # a port nobody listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = town.start_run("run-x", "birch")
    silent = agent({**env, "GT_API_URL": f"http://127.0.0.1:{port}"}, "done")
    assert silent.code == 1
    assert silent.err.startswith(f"gt: The town process at http://127.0.0.1:{port} did not answer")
