"""Webhooks in: the fake GitHub and the fake GitLab deliver to the town's API over real HTTP
(uvicorn in a thread), signed as the forges sign them. A good delivery makes the issue's bead,
a redelivery is ignored by its id, and everything else is refused with nothing written."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gastown.process.serve import bind
from gastown.scripted.github import FakeGitHub
from gastown.scripted.github_hooks import deliver, sign
from gastown.scripted.gitlab import FakeGitLab
from gastown.town import load
from gastown.web.api import create_app
from tests.conftest import Gt, run_git

TOKEN = "forge-api-token"
SECRET = "hook-secret-4f1e9"


@contextmanager
def serving(town_path: Path) -> Iterator[str]:
    """The town's API on a free port; its base URL."""
    app = create_app(load(town_path), "town-token", "2026-01-01T00:00:00Z", environ={})
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


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def announce_too_big(url: str, headers: dict[str, str]) -> int:
    """Send the headers of a body just over 1 MB, and none of the body: the status answered
    (the town refuses it without waiting for the body)."""
    split = urllib.parse.urlsplit(url)
    lines = [f"POST {split.path} HTTP/1.1", f"Host: {split.netloc}"]
    lines += [f"{k}: {v}" for k, v in {**headers, "Content-Length": str((1 << 20) + 1)}.items()]
    with socket.create_connection((split.hostname, split.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = sock.recv(4096).decode("latin-1")
    return int(head.split()[1])


def github_headers(body: bytes, secret: str = SECRET, event: str = "issues") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": f"d-{time.monotonic_ns()}",
        "X-Hub-Signature-256": sign(secret, body),
    }


def bare_repo(tmp: Path) -> Path:
    seed = tmp / "seed"
    seed.mkdir()
    run_git("init", "-q", "-b", "main", cwd=seed)
    (seed / "README").write_text("hello\n")
    run_git("add", "README", cwd=seed)
    run_git("commit", "-q", "-m", "first", cwd=seed)
    bare = tmp / "origin.git"
    run_git("clone", "-q", "--bare", str(seed), str(bare), cwd=tmp)
    return bare


def make_town(tmp: Path, kind: str, repo: str, api_url: str, secret: str | None) -> Gt:
    path = tmp / "town"
    assert Gt(tmp)("init", str(path)).code == 0
    gt = Gt(path)
    gt.ok("rig", "add", "app", str(tmp / "origin.git"))
    for key, value in {"repo": repo, "api_url": api_url, "token": TOKEN}.items():
        gt.ok("config", "set", f"{kind}.{key}", value, "--rig", "app")
    if secret is not None:
        gt.ok("config", "set", f"{kind}.webhook_secret", secret)
    return gt


def events(gt: Gt, kind: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = gt.json("events", "--limit", "0")
    return [e for e in found if kind is None or e["kind"] == kind]


def beads(gt: Gt) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = gt.json("bead", "list")
    return found


# --- GitHub -------------------------------------------------------------------------------


@pytest.fixture
def github(tmp_path: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub({"acme/app": bare_repo(tmp_path)}, token=TOKEN) as fake:
        yield fake


@pytest.fixture
def github_town(tmp_path: Path, github: FakeGitHub) -> Gt:
    return make_town(tmp_path, "github", "acme/app", github.url, SECRET)


def test_a_signed_github_issue_delivery_makes_its_bead_once(
    github: FakeGitHub, github_town: Gt
) -> None:
    with serving(github_town.cwd) as base:
        github.add_hook("acme/app", f"{base}/hooks/github", SECRET, events=["issues", "ping"])
        number = github.open_issue("acme/app", "Login fails", "Steps...", labels=["gastown"])
        (made,) = github.hooks.deliveries
        assert made.status == 200

        (bead,) = beads(github_town)
        assert bead["title"] == "Login fails" and bead["rig"] == "app"
        assert any(bead["id"] in c["body"] for c in github.comments(number))

        # Redelivered: ignored by its delivery id.
        assert github.hooks.redeliver(made) == 200
        assert len(beads(github_town)) == 1
        (seen,) = events(github_town, "forge.webhook")
        assert seen["after"]["delivery"] == made.id and seen["bead_id"] == bead["id"]

        github.edit_issue(number, title="Login fails on Safari")
        assert github.hooks.deliveries[-1].status == 200
        assert beads(github_town)[0]["title"] == "Login fails on Safari"

        unlabelled = github.open_issue("acme/app", "Not for the town")
        assert github.hooks.deliveries[-1].status == 200
        assert [b["title"] for b in beads(github_town)] == ["Login fails on Safari"]

        github.close_issue(number)
        assert github.hooks.deliveries[-1].status == 200
        assert beads(github_town)[0]["status"] == "closed"
        assert unlabelled


def test_github_ping_pull_requests_and_other_events(github: FakeGitHub, github_town: Gt) -> None:
    with serving(github_town.cwd) as base:
        url = f"{base}/hooks/github"
        repo = {"repository": {"full_name": "acme/app"}}
        assert deliver(url, SECRET, "ping", {"zen": "Keep it simple.", "hook_id": 1}) == 200
        opened = {"action": "opened", "number": 7, "pull_request": {"number": 7}, **repo}
        assert deliver(url, SECRET, "pull_request", opened) == 200
        assert deliver(url, SECRET, "star", {"action": "created", **repo}) == 202
        assert deliver(url, SECRET, "issues", {"action": "assigned", **repo}) == 202
    kinds = [
        (e["after"]["event"], e["after"]["status"]) for e in events(github_town, "forge.webhook")
    ]
    assert kinds == [
        ("ping", 200),
        ("pull_request", 200),
        ("star", 202),
        ("issues", 202),
    ]
    assert beads(github_town) == []


def test_bad_github_deliveries_are_refused_and_write_nothing(
    github: FakeGitHub, github_town: Gt
) -> None:
    before = len(events(github_town))
    payload = {
        "action": "opened",
        "issue": {"number": 1, "title": "Forged", "state": "open", "labels": [{"name": "gastown"}]},
        "repository": {"full_name": "acme/app"},
    }
    body = json.dumps(payload).encode()
    with serving(github_town.cwd) as base:
        url = f"{base}/hooks/github"
        answers = [
            post(url, body, github_headers(body, secret="not-the-secret")),
            post(url, body, {**github_headers(body), "X-Hub-Signature-256": ""}),
            post(
                url, body, {k: v for k, v in github_headers(body).items() if "Signature" not in k}
            ),
            (announce_too_big(url, github_headers(body)), '{"detail": "."}'),
            post(url, b"not json", github_headers(b"not json")),
            post(url, b"[1, 2]", github_headers(b"[1, 2]")),
            post(url, body, {**github_headers(body), "X-GitHub-Delivery": ""}),
        ]
    assert [status for status, _ in answers] == [401, 401, 401, 413, 400, 400, 400]
    for _, text in answers:
        assert SECRET not in text and json.loads(text)["detail"].endswith(".")
    assert len(events(github_town)) == before
    assert beads(github_town) == []
    assert github.counted == 0  # nothing was asked of the forge either


def test_without_a_secret_the_routes_are_off(tmp_path: Path, github: FakeGitHub) -> None:
    gt = make_town(tmp_path, "github", "acme/app", github.url, None)
    with serving(gt.cwd) as base:
        status = deliver(f"{base}/hooks/github", "", "issues", {"action": "opened"})
        gl_status, text = post(f"{base}/hooks/gitlab", b"{}", {"X-Gitlab-Token": ""})
    assert (status, gl_status) == (404, 404)
    assert "gitlab.webhook_secret" in json.loads(text)["detail"]
    assert events(gt, "forge.webhook") == []


def test_a_rig_secret_signs_only_its_own_rig(tmp_path: Path, github: FakeGitHub) -> None:
    gt = make_town(tmp_path, "github", "acme/app", github.url, None)
    gt.ok("rig", "add", "other", str(tmp_path / "origin.git"))
    gt.ok("config", "set", "github.repo", "acme/other", "--rig", "other")
    gt.ok("config", "set", "github.webhook_secret", "other-secret", "--rig", "other")
    payload = {"action": "opened", "repository": {"full_name": "acme/app"}}
    with serving(gt.cwd) as base:
        assert deliver(f"{base}/hooks/github", "other-secret", "pull_request", payload) == 401
    assert events(gt, "forge.webhook") == []


# --- GitLab -------------------------------------------------------------------------------


def test_a_gitlab_issue_hook_makes_its_bead_once(tmp_path: Path) -> None:
    with FakeGitLab(projects={"acme/tools/app": bare_repo(tmp_path)}, token=TOKEN) as gitlab:
        gt = make_town(tmp_path, "gitlab", "acme/tools/app", gitlab.url, SECRET)
        with serving(gt.cwd) as base:
            gitlab.add_webhook(f"{base}/hooks/gitlab", SECRET)
            iid = gitlab.open_issue("Export breaks", "Steps...", labels=["gastown"])
            made = gitlab.deliveries[0]  # then a Note Hook: the town's comment naming the bead
            assert (made.event, made.status) == ("Issue Hook", 200)
            (bead,) = beads(gt)
            assert bead["title"] == "Export breaks"

            assert gitlab.redeliver(made.uuid).status == 200
            assert len(beads(gt)) == 1
            taken = [e for e in events(gt, "forge.webhook") if e["after"]["delivery"] == made.uuid]
            assert len(taken) == 1 and taken[0]["bead_id"] == bead["id"]

            gitlab.close_issue(iid)
            assert gitlab.deliveries[-1].status == 200
            assert beads(gt)[0]["status"] == "closed"

            bad = post(f"{base}/hooks/gitlab", b"{}", {"X-Gitlab-Token": "nope"})
            too_big = (announce_too_big(f"{base}/hooks/gitlab", {"X-Gitlab-Token": SECRET}), "")
            not_json = post(
                f"{base}/hooks/gitlab",
                b"<xml/>",
                {
                    "X-Gitlab-Token": SECRET,
                    "X-Gitlab-Event": "Issue Hook",
                    "X-Gitlab-Event-UUID": "u1",
                },
            )
        assert (bad[0], too_big[0], not_json[0]) == (401, 413, 400)
        assert {e["after"]["event"] for e in events(gt, "forge.webhook")} == {
            "Issue Hook",
            "Note Hook",
        }
        everything = json.dumps(events(gt)) + bad[1] + too_big[1] + not_json[1]
        assert SECRET not in everything and TOKEN not in everything


def test_a_streamed_body_over_1_mb_is_cut_off_at_the_limit(tmp_path: Path) -> None:
    """Without a Content-Length the body is read in chunks, and refused once past 1 MB."""
    from starlette.testclient import TestClient

    bare_repo(tmp_path)
    gt = make_town(tmp_path, "github", "acme/app", "http://127.0.0.1:9", SECRET)

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b" " * 65536  # 4 MB in all, if it were all read

    app = create_app(load(gt.cwd), "town-token", "2026-01-01T00:00:00Z", environ={})
    with TestClient(app) as client:
        answer = client.post("/hooks/github", content=chunks(), headers=github_headers(b""))
    assert answer.status_code == 413
    assert events(gt, "forge.webhook") == []


def test_a_pull_request_event_has_the_refinery_look_at_once(tmp_path: Path) -> None:
    """The refinery follows an open pull request every `refinery.pr_poll_seconds`; a delivery
    saying it changed makes the next step look at it, however recent the last look."""
    from gastown.clock import FakeClock
    from gastown.model import IN_PROGRESS, IN_REVIEW, MR_PR, MergeRequest
    from gastown.refinery.step import Seams, run_step
    from gastown.services import beads as bead_service
    from gastown.services.beads import NewBead
    from gastown.services.ledger import Ledger

    bare = bare_repo(tmp_path)
    seed = tmp_path / "seed"
    run_git("checkout", "-q", "-b", "gt/fix", cwd=seed)
    (seed / "fix.txt").write_text("fixed\n")
    run_git("add", "fix.txt", cwd=seed)
    run_git("commit", "-q", "-m", "Fix", cwd=seed)
    run_git("push", "-q", str(bare), "gt/fix", cwd=seed)
    with FakeGitHub({"acme/app": bare}, token=TOKEN) as github:
        gt = make_town(tmp_path, "github", "acme/app", github.url, SECRET)
        gt.ok("config", "set", "merge_strategy", "pr")
        number = github.open_pull("gt/fix", "main", "Fix", user="gastown", repo="acme/app")
        town = load(gt.cwd)
        store = town.open_store()
        ledger = Ledger(store, prefix=town.prefix, actor="tester")
        bead = bead_service.create(ledger, NewBead(title="Fix", rig="app"))
        bead_service.update(ledger, bead.id, {"status": IN_PROGRESS})
        bead_service.update(ledger, bead.id, {"status": IN_REVIEW})
        with store.transaction() as tx:
            tx.insert_merge_request(
                MergeRequest(
                    id="mr-hooked1",
                    bead_id=bead.id,
                    run_id=None,
                    rig="app",
                    branch="gt/fix",
                    target="main",
                    base_commit="",
                    head_commit="",
                    status=MR_PR,
                    pr_url=f"https://github.test/acme/app/pull/{number}",
                    pr_number=number,
                )
            )
        store.close()
        seams = Seams(clock=FakeClock())
        run_step(town, "app", {}, seams)  # looked at just now: not again for a minute
        with serving(gt.cwd) as base:
            github.add_hook("acme/app", f"{base}/hooks/github", SECRET)
            github.merge_outside(number)
            assert github.hooks.deliveries[-1].status == 200
        run_step(town, "app", {}, seams)  # the clock has not moved
        assert gt.json("bead", "show", bead.id)["status"] == "closed"
