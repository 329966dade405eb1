"""The forge loop's costs (issue 12, Performance), on the shipped fake GitHub.

    .venv/bin/python bench/forge.py [--quick]

a. A webhook received → its bead created: `POST /hooks/github` of a signed `issues opened`
   delivery, answered once the bead is made and the issue commented on, against
   `POST /api/sling` of a plain title, both as whole HTTP requests to the same town API
   (uvicorn in a thread), interleaved; medians and their ratio (goal ≤ 2×).
b. An idle town: 3 rigs on the fake GitHub, 20 open pull requests the refinery follows, intake
   on, for a fixed number of rounds, each round one intake poll and one refinery step per rig
   with the clocks moved past `forge.poll_seconds` and `refinery.pr_poll_seconds`: requests
   that count against GitHub's rate limit per round after the first (answers 304 do not
   count; goal: at most one per rig per round).

Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from gastown import town as towns
from gastown.clock import FakeClock
from gastown.forge.base import Forge
from gastown.forge.github import GitHubForge
from gastown.model import IN_PROGRESS, IN_REVIEW, MR_PR, Rig
from gastown.process.serve import bind
from gastown.refinery.step import Seams, run_step
from gastown.scripted.github import FakeGitHub
from gastown.scripted.github_hooks import sign
from gastown.services import beads, rigs, settings
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger
from gastown.web.api import create_app

TOKEN = "ghp_bench"
SECRET = "bench-hook-secret"
TOWN_TOKEN = "bench-town-token"
WHO = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **WHO},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr}")
    return done.stdout


def bare_repo(root: Path, name: str, branches: int = 0) -> Path:
    """A bare repository with `main` and `branches` more branches of one commit each."""
    seed = root / f"seed-{name}"
    seed.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=seed)
    (seed / "README").write_text(f"{name}\n")
    git("add", ".", cwd=seed)
    git("commit", "-qm", "first", cwd=seed)
    for n in range(branches):
        git("checkout", "-q", "-b", f"gt/bench/{n}", "main", cwd=seed)
        (seed / f"f{n}.txt").write_text(f"{n}\n")
        git("add", ".", cwd=seed)
        git("commit", "-qm", f"Change {n}", cwd=seed)
    git("checkout", "-q", "main", cwd=seed)
    bare = root / f"{name}.git"
    git("clone", "-q", "--bare", "--mirror", str(seed), str(bare), cwd=root)
    return bare


def connect(ledger: Ledger, town: towns.Town, rig: str, repo: str, api_url: str) -> None:
    for key, value in (
        ("github.repo", repo),
        ("github.api_url", api_url),
        ("github.token", TOKEN),
    ):
        settings.set_value(ledger, town, key, value, rig=rig)


@contextmanager
def serving(town_path: Path) -> Iterator[str]:
    app = create_app(towns.load(town_path), TOWN_TOKEN, "bench", environ={})
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        app.state.live.close()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[float, int, dict[str, Any]]:
    """Seconds to the whole answer, its status and JSON."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as answer:
        data = json.loads(answer.read() or b"{}")
        return time.perf_counter() - started, int(answer.status), data


# --- a. webhook → bead ----------------------------------------------------------------------


def issue_payload(gh: FakeGitHub, repo: str, number: int) -> dict[str, Any]:
    issue = gh.issues[number]
    return {
        "action": "opened",
        "issue": {
            "number": number,
            "title": issue.title,
            "body": issue.body,
            "state": "open",
            "html_url": f"https://github.test/{repo}/issues/{number}",
            "labels": [{"name": name} for name in issue.labels],
            "user": {"login": issue.user},
            "updated_at": issue.updated_at or issue.created_at,
        },
        "repository": {"full_name": repo},
    }


def webhook_latency(root: Path, runs: int, rng: random.Random) -> tuple[list[float], list[float]]:
    """Seconds per webhook delivery and per sling, interleaved in random order."""
    bare = bare_repo(root, "hooked")
    with FakeGitHub({"acme/app": bare}, token=TOKEN) as gh:
        town = towns.init(root / "hook-town", name="bench")
        store = town.open_store()
        try:
            ledger = Ledger(store, prefix=town.prefix, actor="bench")
            rigs.add(ledger, town.path, "app", str(bare))
            connect(ledger, town, "app", "acme/app", gh.url)
            settings.set_value(ledger, town, "github.webhook_secret", SECRET)
        finally:
            store.close()
        numbers = [
            gh.open_issue("acme/app", f"Bug {n}", "Steps", ["gastown"]) for n in range(runs + 1)
        ]
        hooked: list[float] = []
        slung: list[float] = []
        with serving(town.path) as base:
            for n, number in enumerate(numbers):  # the first of each warms up, uncounted
                body = json.dumps(issue_payload(gh, "acme/app", number)).encode()
                hook_headers = {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "issues",
                    "X-GitHub-Delivery": f"bench-{n}",
                    "X-Hub-Signature-256": sign(SECRET, body),
                }
                sling_body = json.dumps({"title": f"Plain {n}", "rig": "app"}).encode()
                sling_headers = {
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {TOWN_TOKEN}",
                }
                order = ["hook", "sling"]
                rng.shuffle(order)
                for which in order:
                    if which == "hook":
                        took, status, data = post(f"{base}/hooks/github", body, hook_headers)
                        if status != 200 or not data.get("bead_id"):
                            raise SystemExit(f"webhook {n} made no bead: {status} {data}")
                        if n:
                            hooked.append(took)
                    else:
                        took, status, data = post(f"{base}/api/sling", sling_body, sling_headers)
                        if status != 201:
                            raise SystemExit(f"sling {n}: {status} {data}")
                        if n:
                            slung.append(took)
    return hooked, slung


# --- b. an idle town's polling ----------------------------------------------------------------


def idle_town(root: Path, gh_repos: dict[str, Path], pulls: int) -> tuple[towns.Town, FakeGitHub]:
    """A town with a rig per repository, each connected to one fake GitHub, and `pulls` open
    pull requests spread over them, each followed by the refinery as a merge request."""
    gh = FakeGitHub(gh_repos, token=TOKEN, login="gastown").start()
    town = towns.init(root / "idle-town", name="bench")
    store = town.open_store()
    try:
        ledger = Ledger(store, prefix=town.prefix, actor="bench")
        names = sorted(gh_repos)
        for repo in names:
            rig = repo.split("/")[1]
            rigs.add(ledger, town.path, rig, str(gh_repos[repo]))
            connect(ledger, town, rig, repo, gh.url)
        settings.set_value(ledger, town, "merge_strategy", "pr")
        settings.set_value(ledger, town, "refinery.code_review", "false")
        for n in range(pulls):
            repo = names[n % len(names)]
            rig = repo.split("/")[1]
            branch = f"gt/bench/{n // len(names)}"
            number = gh.open_pull(branch, "main", f"Change {n}", user="gastown", repo=repo)
            bead = beads.create(ledger, NewBead(title=f"Change {n}", rig=rig))
            beads.update(ledger, bead.id, {"status": IN_PROGRESS})
            beads.update(ledger, bead.id, {"status": IN_REVIEW})
            now = ledger.now()
            from gastown.model import MergeRequest

            with store.transaction() as tx:
                tx.insert_merge_request(
                    MergeRequest(
                        id=f"mr-bench{n:03d}",
                        bead_id=bead.id,
                        run_id=None,
                        rig=rig,
                        branch=branch,
                        target="main",
                        base_commit="",
                        head_commit="",
                        status=MR_PR,
                        created_at=now,
                        updated_at=now,
                        pr_url=f"https://github.test/{repo}/pull/{number}",
                        pr_number=number,
                    )
                )
    finally:
        store.close()
    return town, gh


def poll_rounds(
    root: Path, rounds: int, pulls: int
) -> tuple[list[int], list[int], list[int], int, str]:
    """Counted requests per round (all, and the intake poller's), 304s per round, the town's
    events written after the first round, and what the intake poller is (or that there is
    none)."""
    names = ("api", "web", "cli")
    repos = {f"acme/{name}": bare_repo(root, name, branches=pulls) for name in names}
    town, gh = idle_town(root, repos, pulls)
    clock = FakeClock()
    clients: dict[str, Forge] = {}

    def forge(conf: Any, rig: Rig) -> Forge:
        if rig.name not in clients:  # one client per rig, kept: it holds the ETags
            repo = str(conf["github.repo"])
            clients[rig.name] = GitHubForge(repo=repo, token=TOKEN, api_url=gh.url)
        return clients[rig.name]

    seams = Seams(forge=forge, clock=clock)
    poll: Callable[[], object] | None = None
    poller = "none in this tree: only the refinery's following is measured"
    now = [time.time()]
    try:
        from gastown.services.intake import IntakePoller
    except ImportError:
        IntakePoller = None  # type: ignore[assignment,misc]  # noqa: N806
    if IntakePoller is not None:
        intake = IntakePoller(town, {}, forges=forge, now=lambda: now[0])
        poll, poller = intake.poll_once, "services.intake.IntakePoller"
    counted: list[int] = []
    intake_counted: list[int] = []
    not_modified: list[int] = []
    events_after_first = 0
    try:
        for n in range(rounds):
            before = (gh.counted, gh.not_modified)
            if poll is not None:
                poll()
            intake_counted.append(gh.counted - before[0])
            for rig in ("api", "web", "cli"):
                run_step(town, rig, {}, seams)
            counted.append(gh.counted - before[0])
            not_modified.append(gh.not_modified - before[1])
            if n == 0:
                events_after_first = _event_count(town)
            clock.advance(3600)
            now[0] += 3600
        events_after_first = _event_count(town) - events_after_first
    finally:
        gh.stop()
    return counted, intake_counted, not_modified, events_after_first, poller


def _event_count(town: towns.Town) -> int:
    store = town.open_store()
    try:
        with store.reader() as tx:
            return len(tx.list_events())
    finally:
        store.close()


# --- the section ------------------------------------------------------------------------------


def bench(root: Path, quick: bool = False, number: int = 8, seed: int = 1) -> list[str]:
    """The section for `bench/run.py`; returns the lines that judge the goals."""
    runs, rounds, pulls = (5, 3, 20) if quick else (30, 10, 20)
    rng = random.Random(seed)
    print(
        f"\n{number}. Forge on the fake GitHub: a webhook → its bead against `gt sling` of a "
        f"title ({runs} each, whole HTTP requests, interleaved); an idle town of 3 rigs with "
        f"{pulls} open pull requests and intake on, {rounds} poll rounds"
    )
    hooked, slung = webhook_latency(root / "forge-hooks", runs, rng)
    hook_ms, sling_ms = statistics.median(hooked) * 1000, statistics.median(slung) * 1000
    print(f"  POST /hooks/github (issue opened → bead, comment)  median {hook_ms:7.1f} ms")
    print(f"  POST /api/sling (a plain title)                    median {sling_ms:7.1f} ms")
    ratio = hook_ms / sling_ms
    verdict = "met" if ratio <= 2 else f"MISSED ({ratio / 2:.2f} of it)"
    lines = [
        f"ratio webhook → bead / sling of a title: {ratio:.2f}×; median {hook_ms:.1f} ms "
        f"against {sling_ms:.1f} ms (goal ≤ 2×: {verdict})"
    ]
    counted, intake, cached, written, poller = poll_rounds(root / "forge-idle", rounds, pulls)
    print(f"  intake poller: {poller}")
    print(f"  requests counted per round: {counted}; answered 304 (free): {cached}")
    print(
        f"  of them the intake poller's: {intake}; the refinery following "
        f"{pulls} pull requests: {[a - b for a, b in zip(counted, intake, strict=True)]}"
    )
    print(f"  events written after the first round: {written}")
    steady = statistics.mean(counted[1:]) if len(counted) > 1 else float(counted[0])
    per_rig = steady / 3
    verdict = "met" if per_rig <= 1 else f"MISSED ({per_rig:.2f} per rig)"
    lines.append(
        f"idle town rate-limit requests per rig per round: {per_rig:.2f} "
        f"({steady:.1f} a round over 3 rigs, {pulls} open pull requests) (goal ≤ 1: {verdict})"
    )
    for line in lines:
        print("  " + line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="5 deliveries, 3 rounds")
    quick = parser.parse_args(argv).quick
    with tempfile.TemporaryDirectory(prefix="gt-bench-forge-") as tmp:
        bench(Path(tmp), quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
