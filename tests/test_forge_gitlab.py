"""The GitLab forge on python-gitlab against the fake GitLab, with real bare repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gastown import config
from gastown.errors import RuntimeFailure
from gastown.forge.base import (
    CheckRun,
    Comment,
    Forge,
    ForgeDown,
    ForgeError,
    Issue,
    LineComment,
    RateLimited,
)
from gastown.forge.gitlab import GitLabForge, connect
from gastown.scripted.gitlab import FakeGitLab

TOKEN = "glpat-secret-test-token"
REPO = "acme/tools/app"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **IDENTITY},
    )
    return done.stdout.strip()


def commit(work: Path, branch: str, name: str, text: str) -> str:
    """Commit `name` with `text` on `branch` (cut from main if new), push it; the new tip."""
    exists = git("branch", "--list", branch, cwd=work)
    git("checkout", "-q", branch if exists else "-b", *([] if exists else [branch]), cwd=work)
    (work / name).write_text(text)
    git("add", name, cwd=work)
    git("commit", "-q", "-m", f"{branch}: {name}", cwd=work)
    git("push", "-q", "origin", branch, cwd=work)
    git("checkout", "-q", "main", cwd=work)
    return git("rev-parse", branch, cwd=work)


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    return bare


@pytest.fixture
def work(tmp_path: Path, origin: Path) -> Path:
    clone = tmp_path / "work"
    git("clone", "-q", str(origin), str(clone), cwd=tmp_path)
    git("checkout", "-q", "-b", "main", cwd=clone)
    (clone / "README.md").write_text("hello\n")
    git("add", "README.md", cwd=clone)
    git("commit", "-q", "-m", "first", cwd=clone)
    git("push", "-q", "origin", "main", cwd=clone)
    return clone


@pytest.fixture
def fake(origin: Path, work: Path) -> Iterator[FakeGitLab]:
    with FakeGitLab(projects={REPO: origin}, token=TOKEN) as server:
        yield server


@pytest.fixture
def forge(fake: FakeGitLab) -> Iterator[GitLabForge]:
    with GitLabForge(REPO, TOKEN, api_url=fake.url) as forge:
        yield forge


def settings(**values: Any) -> config.Resolved:
    return config.resolve({k.replace("__", "."): v for k, v in values.items()})


# --- connecting ---------------------------------------------------------------------------


def test_connect_needs_a_token_from_the_setting_or_the_environment(fake: FakeGitLab) -> None:
    assert connect(settings(), REPO, {}) is None

    by_env = connect(settings(gitlab__api_url=fake.url), REPO, {"GITLAB_TOKEN": TOKEN})
    by_setting = connect(settings(gitlab__api_url=fake.url, gitlab__token=TOKEN), "x/y", {})

    assert by_env is not None and by_env.repo == REPO and by_env.kind == "gitlab"
    as_forge: Forge = by_env  # mypy checks GitLabForge against the protocol here
    assert as_forge.list_labels() == []
    assert by_setting is not None and by_setting.repo == "x/y"
    pinned = connect(settings(gitlab__token=TOKEN, gitlab__repo="acme/other"), REPO, {})
    assert pinned is not None and pinned.repo == "acme/other"
    assert config.resolve({"gitlab.token": TOKEN}).display("gitlab.token") == config.MASK


def test_python_gitlab_is_not_imported_on_the_cli_start_up_path() -> None:
    code = "import sys, gastown.cli.main, gastown.forge.gitlab; print('gitlab' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --- issues -------------------------------------------------------------------------------


def test_issues_read_comment_label_and_close(forge: GitLabForge, fake: FakeGitLab) -> None:
    iid = fake.open_issue("Login fails", "Steps: ...", labels=["bug"], author="ana")

    issue = forge.get_issue(iid)
    forge.add_labels(iid, ["gastown", "bug"])
    note = forge.comment(iid, "Taken as gt-abc12.")
    fake.add_note(iid, "Thanks!", author="ana")
    forge.close_issue(iid, comment="Fixed in 1234abc.")

    assert issue == Issue(
        number=1,
        title="Login fails",
        body="Steps: ...",
        state="open",
        url="https://gitlab.test/acme/tools/app/-/issues/1",
        labels=["bug"],
        author="ana",
        updated_at=issue.updated_at,
    )
    assert sorted(forge.list_labels()) == ["bug", "gastown"]
    assert forge.get_issue(iid).labels == ["bug", "gastown"]
    assert forge.get_issue(iid).state == "closed"
    comments = forge.list_comments(iid)
    assert [(c.body, c.user) for c in comments] == [
        ("Taken as gt-abc12.", "gastown"),
        ("Thanks!", "ana"),
        ("Fixed in 1234abc.", "gastown"),
    ]
    assert comments[0] == Comment(
        id=note, body="Taken as gt-abc12.", user="gastown", created_at=comments[0].created_at
    )


def test_list_issues_filters_pages_and_answers_none_when_nothing_changed(
    forge: GitLabForge, fake: FakeGitLab
) -> None:
    for n in range(1, 104):
        fake.open_issue(f"Issue {n}", labels=["gastown"] if n % 2 else [])
    fake.open_issue("Closed one", labels=["gastown"])
    fake.close_issue(104)

    first = forge.list_issues(labels=["gastown"])
    before = fake.counted
    again = forge.list_issues(labels=["gastown"])
    counted, not_modified = fake.counted, fake.not_modified
    fake.edit_issue(3, title="Issue three, renamed")
    changed = forge.list_issues(labels=["gastown"])

    assert first is not None and len(first) == 52
    assert {i.number for i in first} == set(range(1, 104, 2))
    assert again is None
    assert (counted, not_modified) == (before, 1)
    assert changed is not None and changed[0].title == "Issue three, renamed"
    closed = forge.list_issues(labels=["gastown"], state="closed")
    assert closed is not None and [i.number for i in closed] == [104]
    everything = forge.list_issues(state="all")
    assert everything is not None and len(everything) == 104


def test_list_issues_since_a_time(forge: GitLabForge, fake: FakeGitLab) -> None:
    clock = [1_700_000_000.0]
    fake.now = lambda: clock[0]
    fake.open_issue("Old")
    clock[0] += 3600
    fake.open_issue("New")

    found = forge.list_issues(since="2023-11-14T23:00:00Z")

    assert found is not None and [i.title for i in found] == ["New"]


# --- a merge request's life, on real git --------------------------------------------------


def test_merge_request_lifecycle_on_real_git(
    forge: GitLabForge, fake: FakeGitLab, work: Path, origin: Path
) -> None:
    head = commit(work, "feature", "app.py", "one\ntwo\nthree\n")

    pull = forge.create_pull("feature", "main", "Add app", "Closes #1")
    same = forge.create_pull("feature", "main", "Add app", "Closes #1")
    found = forge.find_open_pull("feature", "main")
    review = forge.post_review(
        pull.number,
        head,
        "Looks close.",
        [LineComment(path="app.py", line=2, body="Name this better.")],
    )
    fake.add_note(pull.number, "Will do.", on="MergeRequest", author="dev")
    fake.set_pipeline("feature", {"test": "failed", "lint": "success"})
    failing = forge.list_check_runs(head)
    blocked = forge.get_pull(pull.number)
    fake.set_pipeline("feature", {"test": "success", "lint": "success"})
    fake.approve(pull.number, by="lead")
    passing = forge.list_check_runs(head)
    ready = forge.get_pull(pull.number)
    merge = forge.merge_pull(pull.number, head)

    assert (pull.number, pull.state, pull.head_sha, pull.base_ref) == (1, "open", head, "main")
    assert pull.url == "https://gitlab.test/acme/tools/app/-/merge_requests/1"
    assert (pull.mergeable, pull.mergeable_state) == (None, "unknown")
    assert same.number == 1
    assert found is not None and found.number == 1 and forge.find_open_pull("other") is None
    [comment] = forge.list_review_comments(pull.number)
    assert (comment.path, comment.line, comment.body) == ("app.py", 2, "Name this better.")
    assert review > 0
    assert [c.body for c in forge.list_comments(pull.number, pull=True)] == [
        "Looks close.",
        "Will do.",
    ]
    assert sorted((c.name, c.status, c.conclusion) for c in failing) == [
        ("lint", "completed", "success"),
        ("test", "completed", "failure"),
    ]
    assert (blocked.mergeable, blocked.mergeable_state) == (True, "blocked")
    assert all(isinstance(c, CheckRun) and c.conclusion == "success" for c in passing)
    assert (ready.mergeable, ready.mergeable_state) == (True, "clean")
    assert [(r.state, r.user) for r in forge.list_reviews(pull.number)] == [("APPROVED", "lead")]
    assert git("rev-parse", "refs/heads/main", cwd=origin) == merge
    assert git("rev-parse", f"{merge}^2", cwd=origin) == head
    merged = forge.get_pull(pull.number)
    assert (merged.state, merged.merged) == ("closed", True)
    assert forge.list_pulls("open") == []
    assert [p.number for p in forge.list_pulls("closed")] == [1]


def test_a_moved_head_is_not_merged_and_a_conflict_is_dirty(
    forge: GitLabForge, fake: FakeGitLab, work: Path, origin: Path
) -> None:
    old = commit(work, "feature", "a.txt", "one\n")
    pull = forge.create_pull("feature", "main", "A")
    commit(work, "feature", "a.txt", "two\n")

    with pytest.raises(ForgeError, match="new head") as moved:
        forge.merge_pull(pull.number, old)
    with pytest.raises(ForgeError, match="moved past"):
        forge.post_review(pull.number, old, "stale")
    commit(work, "main", "a.txt", "main's\n")

    assert moved.value.status == 409
    conflicted = forge.get_pull(pull.number)
    assert (conflicted.mergeable, conflicted.mergeable_state) == (False, "dirty")
    with pytest.raises(ForgeError, match="conflicts"):
        forge.merge_pull(pull.number, conflicted.head_sha)
    closed = forge.close_pull(pull.number)
    assert (closed.state, closed.merged) == ("closed", False)


def test_an_approving_review_approves_and_squash_merges(
    forge: GitLabForge, fake: FakeGitLab, work: Path, origin: Path
) -> None:
    head = commit(work, "feature", "b.txt", "b\n")
    pull = forge.create_pull("feature", "main", "B")

    forge.post_review(pull.number, head, "Good.", event="APPROVE")
    sha = forge.merge_pull(pull.number, head, method="squash")

    assert [r.user for r in forge.list_reviews(pull.number)] == ["gastown"]
    assert git("rev-parse", "refs/heads/main", cwd=origin) == sha
    with pytest.raises(ForgeError, match="merge or squash"):
        forge.merge_pull(pull.number, head, method="rebase")


# --- bad paths ----------------------------------------------------------------------------


def test_not_found_names_the_thing(forge: GitLabForge) -> None:
    with pytest.raises(ForgeError, match="found no issue #9 in acme/tools/app") as missing:
        forge.get_issue(9)
    assert missing.value.status == 404
    gone = GitLabForge("acme/nothing", TOKEN, api_url=forge.api_url)
    with pytest.raises(ForgeError, match=r"`gitlab\.repo`"):
        gone.list_labels()


def test_a_bad_or_narrow_token_names_the_setting_and_the_scope(fake: FakeGitLab) -> None:
    fake.add_token("glpat-read-only", ("read_api",))
    wrong = GitLabForge(REPO, "glpat-wrong", api_url=fake.url)
    narrow = GitLabForge(REPO, "glpat-read-only", api_url=fake.url)
    fake.open_issue("One")

    with pytest.raises(ForgeError) as refused:
        wrong.get_issue(1)
    with pytest.raises(ForgeError) as forbidden:
        narrow.comment(1, "hello")

    assert refused.value.status == 401 and forbidden.value.status == 403
    for error in (refused.value, forbidden.value):
        assert "`gitlab.token`" in error.message and "`api` scope" in error.message
        assert "glpat" not in error.message and "glpat" not in error.detail
    assert narrow.get_issue(1).title == "One"


def test_a_server_error_is_the_forges_failure_and_an_unreachable_server_a_forge_error(
    forge: GitLabForge, fake: FakeGitLab
) -> None:
    fake.failing_with = 502
    with pytest.raises(ForgeDown, match="try again later") as down:
        forge.list_labels()
    assert down.value.status == 502 and isinstance(down.value, RuntimeFailure)
    fake.stop()
    with pytest.raises(ForgeError, match=r"`gitlab\.api_url`") as unreachable:
        forge.list_labels()
    assert TOKEN not in str(unreachable.value) + str(down.value)


def test_a_rate_limit_is_raised_at_once_with_its_reset(
    forge: GitLabForge, fake: FakeGitLab
) -> None:
    until = int(time.time()) + 3600
    fake.rate_limited_until = until

    with pytest.raises(RateLimited) as limited:
        forge.list_issues()

    assert limited.value.reset_at == until
    assert "rate limiting" in limited.value.message and TOKEN not in limited.value.message
    assert len(fake.requests) == 1


# --- webhooks -----------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        got: list[tuple[dict[str, str], dict[str, Any]]] = self.server.got  # type: ignore[attr-defined]
        got.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], dict[str, Any]]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.got = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}/hooks/gitlab", server.got  # type: ignore[attr-defined]
    server.shutdown()
    thread.join()
    server.server_close()


def test_webhooks_are_delivered_as_gitlab_sends_them(
    forge: GitLabForge, fake: FakeGitLab, work: Path, receiver: Any
) -> None:
    url, got = receiver
    fake.add_webhook(url, secret="hook-secret")

    iid = fake.open_issue("Crash on start", labels=["gastown"])
    fake.edit_issue(iid, title="Crash on start-up")
    forge.close_issue(iid)
    commit(work, "feature", "c.txt", "c\n")
    forge.create_pull("feature", "main", "C")
    again = fake.redeliver(fake.deliveries[0].uuid)

    events = [(h["x-gitlab-event"], b["object_attributes"].get("action")) for h, b in got]
    assert events == [
        ("Issue Hook", "open"),
        ("Issue Hook", "update"),
        ("Issue Hook", "close"),
        ("Merge Request Hook", "open"),
        ("Issue Hook", "open"),
    ]
    headers, body = got[0]
    assert headers["x-gitlab-token"] == "hook-secret"
    assert headers["x-gitlab-event-uuid"] == again.uuid == got[-1][0]["x-gitlab-event-uuid"]
    assert body["object_kind"] == "issue" and body["project"]["path_with_namespace"] == REPO
    assert body["object_attributes"]["iid"] == iid
    assert [x["title"] for x in body["labels"]] == ["gastown"]
    assert got[1][1]["changes"]["title"]["current"] == "Crash on start-up"
    assert all(d.status == 200 for d in fake.deliveries)
