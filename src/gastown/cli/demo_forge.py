"""The forge loop in `gt demo`: an issue on the shipped fake GitHub becomes a bead, a polecat
fixes it, a pull request opens with `Fixes #1`, the refinery posts its review on it, merges it,
and GitHub's closing keyword closes the issue. No keys and no network: the fake is a real HTTP
server on 127.0.0.1 over a bare repository in the demo's folder.

    setup     the bare repository, rig `greeter` cloned from it and pointed at the fake
    open      issue #1, labelled for intake, its body the polecat's script
    sling     `gt sling <issue URL>`: the issue's bead, announced on the issue
    story     what happened, read back from the town and the fake, for the report
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gastown.scripted.github import FakeGitHub

REPO = "demo/greeter"
TOKEN = "demo-token"
"""The fake's token: it accepts only this one, and it never leaves the demo's town."""
ISSUE_URL = f"https://github.com/{REPO}/issues/1"

GREETER_PY = '''"""Greets."""

import sys


def main(argv: list[str]) -> int:
    print("Hello!")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
'''

FIXED_PY = GREETER_PY.replace(
    '    print("Hello!")',
    '    name = argv[argv.index("--name") + 1] if "--name" in argv else "there"\n'
    '    print(f"Hello, {name}!")',
)


def _issue_body() -> str:
    steps = [
        {"text": "Reading greeter.py: it greets nobody in particular."},
        {"write": "greeter.py", "content": FIXED_PY},
        {"run": "python3 greeter.py --name Ada"},
        {"usage": {"input": 1400, "output": 180}, "model": "claude-sonnet-4-5"},
        {"run": "git commit -qam 'Greet by name with --name'"},
        {"text": "greeter.py --name Ada now prints 'Hello, Ada!'."},
    ]
    return (
        "`python3 greeter.py --name Ada` should print `Hello, Ada!`.\n\n"
        "```gt-script\n" + json.dumps(steps, indent=1) + "\n```"
    )


def bare_repository(path: Path) -> Path:
    """The fake GitHub's repository: `main` with greeter.py on it."""
    seed = path.with_suffix(".seed")
    seed.mkdir(parents=True)
    (seed / "greeter.py").write_text(GREETER_PY)
    identity = ["-c", "user.name=Demo", "-c", "user.email=demo@example.invalid"]
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "greeter.py"],
        [*identity, "commit", "-q", "-m", "A greeter"],
        ["clone", "-q", "--bare", ".", str(path)],
    ):
        subprocess.run(["git", *args], cwd=seed, check=True, capture_output=True)
    shutil.rmtree(seed)
    return path


def setup(ledger: Any, town: Any, bare: Path, github: FakeGitHub) -> None:
    """Rig `greeter` from the fake's repository, landing through reviewed pull requests."""
    from gastown.services import rigs, settings

    rigs.add(ledger, town.path, "greeter", str(bare))
    for key, value in (
        ("github.repo", REPO),
        ("github.api_url", github.url),
        ("github.token", TOKEN),
        ("merge_strategy", "pr"),
        ("refinery.review_mode", "comments"),
        ("refinery.auto_merge_delay_minutes", "0"),
        ("refinery.pr_poll_seconds", "1"),
        ("refinery.gates", json.dumps(["python3 greeter.py --name Ada"])),
    ):
        settings.set_value(ledger, town, key, value, rig="greeter")


def open_and_sling(ledger: Any, town: Any, github: FakeGitHub, environ: Mapping[str, str]) -> Any:
    """Issue #1 on the fake, labelled for intake, slung by its URL. What slinging did."""
    from gastown.services import issues

    github.open_issue(
        REPO, "The greeter should greet by name", _issue_body(), labels=["gastown"], user="dana"
    )
    return issues.sling_issue(ledger, town, ISSUE_URL, environ)


def story(town: Any, github: FakeGitHub, bead_id: str) -> dict[str, Any]:
    """What the forge loop did, from the town's records and the fake's."""
    store = town.open_store()
    try:
        with store.reader() as tx:
            bead = tx.get_bead(bead_id)
            mr = next((m for m in tx.list_merge_requests() if m.bead_id == bead_id), None)
    finally:
        store.close()
    number = mr.pr_number if mr is not None else None
    pull = github.pulls.get(number) if number is not None else None
    reviews = github.reviews(number) if number is not None else []
    issue = github.issues[1]
    return {
        "issue": {
            "url": ISSUE_URL,
            "state": issue.state,
            "comments": [c["body"] for c in github.comments(1)],
        },
        "bead": {"id": bead_id, "status": bead.status if bead else None},
        "merge_request": mr.to_json() if mr is not None else None,
        "pull_request": None
        if pull is None
        else {
            "number": pull.number,
            "url": mr.pr_url if mr is not None else None,
            "body": pull.body,
            "merged": pull.merged,
            "merge_commit_sha": pull.merge_commit_sha,
        },
        "reviews": [
            {"user": r["user"]["login"], "state": r["state"], "url": r["html_url"]} for r in reviews
        ],
    }


def print_story(say: Any, data: dict[str, Any]) -> None:
    """The forge loop, step by step, with the addresses to open."""
    issue, pull, reviews = data["issue"], data["pull_request"], data["reviews"]
    say(f"\nThe forge loop on a fake GitHub ({REPO}):")
    say(f"  issue #1 opened, labelled gastown   {issue['url']}")
    say(f"  → bead {data['bead']['id']}, named on the issue in a comment")
    if pull is None:
        say("  → no pull request was opened (see `gt events`)")
        return
    fixes = "with 'Fixes #1'" if "Fixes #1" in pull["body"] else "without 'Fixes #1'"
    say(f"  → a polecat fixed it; pull request #{pull['number']} {fixes}   {pull['url']}")
    for review in reviews:
        say(f"  → review by {review['user']} ({review['state']})   {review['url']}")
    if pull["merged"]:
        say(f"  → merged into main at {str(pull['merge_commit_sha'])[:10]}")
    say(f"  → issue #1 is {issue['state']}, by the pull request's 'Fixes #1'")
    say("  (the fake GitHub stopped with the demo; its repository stays in ./github)")
