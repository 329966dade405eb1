"""`gt demo`: a sample town that really runs, with no keys and no agent CLI installed.

It makes a small git repository, a town with it as a rig, and a three-bead convoy (one bead
waits for another), then runs the town process with the `scripted` runtime until the convoy has
landed: each bead is worked by a polecat, reviewed by a scripted reviewer (the scripted model
server, in process), gated by running the app, and merged into the sample repository's `main`;
the dependent bead starts once its blocker has landed. Beside it, the forge loop
(`demo_forge`): an issue on the shipped fake GitHub fixed through a reviewed pull request that
closes it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from gastown.cli.app import App
from gastown.errors import UserError

SETTLE_TIMEOUT = 120.0

APP_PY = '''"""A tiny command line tool."""

import sys


def main(argv: list[str]) -> int:
    print("hello from the sample app")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
'''


def _script(*steps: dict[str, Any]) -> str:
    return "```gt-script\n" + json.dumps(list(steps), indent=1) + "\n```"


TASKS = [
    {
        "key": "flag",
        "title": "Add a --verbose flag to app.py",
        "priority": 1,
        "body": "Print extra detail when --verbose is given.\n\n"
        + _script(
            {"text": "Reading app.py to see how arguments are handled."},
            {
                "run": 'sed -i \'s/    print("hello from the sample app")/    if "--verbose" '
                'in argv:\\n        print("verbose mode")\\n    print("hello from the '
                "sample app\")/' app.py"
            },
            {"run": "python3 app.py --verbose"},
            {"usage": {"input": 1800, "output": 240}, "model": "claude-sonnet-4-5"},
            {"run": "git commit -qam 'Add a --verbose flag'"},
            {"text": "Added --verbose to app.py and checked it runs."},
        ),
    },
    {
        "key": "docs",
        "title": "Document --verbose in the README",
        "needs": ["flag"],
        "body": "Explain the new flag.\n\n"
        + _script(
            {"write": "README.md", "content": "# Sample app\n\n`--verbose` prints more.\n"},
            {"text": "Documented the flag."},
        ),
    },
    {
        "key": "changelog",
        "title": "Start a CHANGELOG",
        "priority": 3,
        "body": _script(
            {"write": "CHANGELOG.md", "content": "# Changelog\n\n- Unreleased\n"},
            {"usage": {"input": 600, "output": 90}, "model": "claude-sonnet-4-5"},
            {"text": "Started CHANGELOG.md; committing is left to the town."},
        ),
    },
]


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    demo = sub.add_parser(
        "demo",
        parents=[shared],
        help="a sample town that really runs",
        description="Create a sample repository and town in PATH, sling a "
        "three-bead convoy and an issue on a fake GitHub, and let scripted polecats work "
        "them.",
    )
    demo.add_argument(
        "path",
        nargs="?",
        default="gastown-demo",
        metavar="PATH",
        help="a new folder for the demo (default: ./gastown-demo)",
    )
    demo.set_defaults(handler=run_demo)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _sample_repo(path: Path) -> None:
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    # The refinery pushes here: let a push to the checked-out main update its files too.
    _git(path, "config", "receive.denyCurrentBranch", "updateInstead")
    (path / "app.py").write_text(APP_PY)
    (path / "README.md").write_text("# Sample app\n")
    _git(path, "add", ".")
    _git(
        path,
        "-c",
        "user.name=Demo",
        "-c",
        "user.email=demo@example.invalid",
        "commit",
        "-q",
        "-m",
        "A sample app",
    )


def run_demo(app: App) -> int:
    from gastown import town as towns
    from gastown.cli import demo_forge as forge
    from gastown.scripted.github import FakeGitHub
    from gastown.services import convoys, plan, rigs, settings
    from gastown.services.ledger import Ledger

    root = app.path(app.args.path)
    if root.exists() and any(root.iterdir()):
        raise UserError(
            f"{root} already exists and is not empty.",
            hint="Give the demo a new folder: gt demo PATH",
        )
    say = (lambda text: None) if app.json else app.print
    say(f"Creating a sample repository and a town in {root} …")
    _sample_repo(root / "sample-app")
    bare = forge.bare_repository(root / "github" / "greeter.git")
    town = towns.init(root / "town", name="demo")
    with _reviewer() as server, FakeGitHub({forge.REPO: bare}, token=forge.TOKEN) as github:
        store = town.open_store()
        try:
            ledger = Ledger(store, prefix=town.prefix, actor="demo")
            rigs.add(ledger, town.path, "app", str(root / "sample-app"))
            for key, value in (
                ("runtime", "scripted"),
                ("refinery.gates", json.dumps(["python3 app.py --verbose"])),
                ("role_models.refinery", "claude-haiku-4-5"),
                ("model_api_key", "demo"),
            ):
                settings.set_value(ledger, town, key, value)
            the_plan = plan.parse({"tasks": TASKS}, "the demo plan")
            view = convoys.create(
                ledger, "Verbose mode", "app", the_plan, False, "review-and-merge"
            )
            say(f"Slung convoy {view.convoy.id} with 3 beads to rig app.")
            say(f"Started a fake GitHub at {github.url}: {forge.REPO} is rig greeter.")
            forge.setup(ledger, town, bare, github)
            slung = forge.open_and_sling(ledger, town, github, app.environ)
            say(f"Opened issue #1 there; gt sling {forge.ISSUE_URL} made bead {slung.bead.id}.")
        finally:
            store.close()
        say("Starting the town process …")
        started = time.monotonic()
        environ = {**app.environ, "GT_MODEL_BASE_URL": server.base_url}
        asyncio.run(_work_until_settled(town, environ))
        loop = forge.story(town, github, slung.bead.id)
    return _report(app, town, started, root / "sample-app", loop)


def _reviewer() -> Any:
    """A scripted model server that approves every change, standing in for the reviewer."""
    from gastown.scripted.script import parse
    from gastown.scripted.server import ScriptedModelServer

    approve = {
        "tool_calls": [
            {
                "name": "verdict",
                "arguments": {"decision": "approve", "summary": "Small, clear and checked."},
            }
        ],
        "usage": {"input_tokens": 1200, "output_tokens": 40},
        "repeat": True,
    }
    return ScriptedModelServer(parse({"replies": [approve]}, source="the demo reviewer"))


async def _work_until_settled(town: Any, environ: dict[str, str]) -> None:
    """Run the town process until nothing more can be dispatched and no run is active."""
    from gastown.model import ACTIVE_RUN_STATUSES
    from gastown.process.serve import serve

    task = asyncio.create_task(serve(town, "127.0.0.1", 0, environ))
    store = town.open_store()
    try:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        quiet = 0
        while time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.1)
            with store.reader() as tx:
                busy = (
                    tx.list_runs(statuses=ACTIVE_RUN_STATUSES)
                    or tx.dispatch_candidates()
                    or tx.list_merge_requests(statuses=("open", "testing", "rework", "pr"))
                )
            quiet = 0 if busy else quiet + 1
            if quiet >= 5:  # settled for half a second
                break
    finally:
        store.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _report(app: App, town: Any, started: float, sample: Path, loop: dict[str, Any]) -> int:
    from gastown.cli import demo_forge as forge

    store = town.open_store()
    try:
        with store.reader() as tx:
            beads = tx.list_beads()
            runs = tx.list_runs()
            mrs = tx.list_merge_requests()
    finally:
        store.close()
    data = {
        "town": str(town.path),
        "beads": [b.to_json() for b in beads],
        "runs": [r.to_json() for r in runs],
        "merge_requests": [m.to_json() for m in mrs],
        "main": _main_log(sample),
        "forge_loop": loop,
    }

    def human() -> None:
        app.print(f"\nDone in {time.monotonic() - started:.1f} s. What happened:")
        for b in beads:
            line = f"  {b.id}  {b.status:<11} {b.title}"
            mr = next((m for m in mrs if m.bead_id == b.id), None)
            if mr is not None and mr.merged_commit:
                line += f"  → landed on main at {mr.merged_commit[:10]}"
            elif mr is not None:
                line += f"  → {mr.status}: {mr.note or mr.branch}"
            elif b.status == "open":
                line += "  (waits for its blocker to land)"
            app.print(line)
        spent = sum(r.cost_usd for r in runs)
        app.print(
            f"  {len(runs)} runs by {len({r.polecat for r in runs})} polecats, "
            f"{len(mrs)} merge requests, ${spent:.4f} of (scripted) model time"
        )
        forge.print_story(app.print, loop)
        app.print("\nWhere to look:")
        app.print(f"  cd {town.path}")
        app.print("  gt bead list            the beads and their status")
        app.print("  gt agents / gt runs     who worked on what")
        first = runs[0].polecat if runs else "POLECAT"
        app.print(f"  gt peek {first:<15} a polecat's transcript")
        app.print("  gt events               everything that happened, in order")
        app.print("  gt mq --all / gt mr show ID   what the refinery did with each change")
        bead = loop["bead"]["id"]
        app.print(f"  gt bead show {bead}    the issue's bead, linked to the issue and the PR")
        app.print(f"  gt dashboard            its page, /beads/{bead}, links them too")
        greeter = sample.parent / "github" / "greeter.git"
        app.print(f"  git -C {greeter} log --oneline   the fake GitHub's main")
        app.print(f"  git -C {sample} log --oneline   the sample app's main:")
        for line in data["main"]:
            app.print(f"    {line}")

    app.emit(data, human)
    return 0


def _main_log(sample: Path) -> list[str]:
    done = subprocess.run(
        ["git", "log", "--oneline", "--first-parent", "main"],
        cwd=sample,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.splitlines()
