"""The mayor stops and resets polecats through the town process: over the town's API when
asked from the CLI, through the town loop itself when asked over HTTP, and with a plain error
for the model when the town is not running. Scripted model server, real SDK, real town
process, real scripted agents."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.builders import call, point_at, serve, until
from tests.conftest import Gt


def hanging() -> str:
    """A bead body whose scripted agent says one thing and then never finishes."""
    steps = [{"text": "working"}, {"hang": True}]
    return "```gt-script\n" + json.dumps(steps) + "\n```"


def ask_town(gt: Gt, text: str) -> dict[str, Any]:
    """`POST /api/mayor/ask` on the running town process."""
    request = urllib.request.Request(
        gt.json("status")["url"] + "/api/mayor/ask",
        data=json.dumps({"text": text}).encode(),
        headers={
            "Authorization": f"Bearer {(gt.cwd / 'run' / 'token').read_text().strip()}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return dict(json.loads(answer.read()))


def runs(gt: Gt, bead: str) -> list[dict[str, Any]]:
    return list(gt.json("runs", "--bead", bead))


def test_the_mayor_stops_and_resets_polecats_through_the_town(rig_gt: Gt) -> None:
    server = serve(
        {"match": "[stop]", "tool_calls": [call("stop_agent", name="alder")]},
        {"match": "[reset]", "tool_calls": [call("reset_agent", name="alder")]},
        {"match": "[nobody]", "tool_calls": [call("stop_agent", name="nobody")]},
        {"match": "[down]", "tool_calls": [call("reset_agent", name="alder")]},
        {"text": "Stopped alder; its bead is held."},
        {"text": "Reset alder; its bead starts afresh."},
        {"text": "There is no such polecat."},
        {"text": "The town is down: start it with gt up."},
    )
    rig_gt.ok("config", "set", "runtime", "scripted")
    with server:
        point_at(rig_gt, server)
        rig_gt.ok("up", "-d")
        try:
            bead = rig_gt.json("sling", "Takes forever", "--body", hanging())["id"]
            until(
                lambda: runs(rig_gt, bead) and runs(rig_gt, bead)[0]["status"] == "running", "a run"
            )
            assert rig_gt.json("bead", "show", bead)["assignee"] == "alder"

            # Over HTTP the mayor runs inside the town process and uses its loop directly.
            stopped = ask_town(rig_gt, "[stop] Stop alder, it is going nowhere")
            (result,) = stopped["tool_calls"]
            assert (result["name"], result["ok"]) == ("stop_agent", True)
            assert result["result"]["stopping"] is True
            until(lambda: rig_gt.json("bead", "show", bead)["held"], "the bead to be held")
            (run,) = runs(rig_gt, bead)
            assert run["status"] == "stopped" and "stop by mayor" in run["outcome"]

            # From the CLI the mayor calls the running town's API.
            rig_gt.ok("bead", "update", bead, "--unhold")
            until(
                lambda: (
                    len(runs(rig_gt, bead)) == 2 and runs(rig_gt, bead)[1]["status"] == "running"
                ),
                "a second run",
            )
            reset = rig_gt.json("mayor", "ask", "[reset] Start alder over")
            assert reset["tool_calls"][0]["ok"] is True
            assert reset["tool_calls"][0]["result"]["then"] == "its bead is retried afresh"
            until(lambda: len(runs(rig_gt, bead)) == 3, "the reset bead to run afresh")

            nobody = rig_gt.json("mayor", "ask", "[nobody] Stop nobody")
            assert nobody["tool_calls"][0]["ok"] is False
            assert "There is no polecat 'nobody'" in nobody["tool_calls"][0]["result"]
        finally:
            rig_gt.ok("down")

        down = rig_gt.json("mayor", "ask", "[down] Reset alder")

    (failed,) = down["tool_calls"]
    assert failed["ok"] is False
    assert failed["result"] == "The town is not running; start it with `gt up`."
    assert server.requests[-1].body["messages"][-1]["content"][0]["is_error"] is True
    events = rig_gt.json("events", "--limit", "0")
    controls = [
        (e["kind"], e["reason"]) for e in events if e["kind"] in ("agent.stop", "agent.reset")
    ]
    assert controls == [("agent.stop", "by mayor"), ("agent.reset", "by mayor")]
