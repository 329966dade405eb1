"""The GitHub forge's issues, labels, reviews, credentials and refusals against the fake GitHub
over real HTTP; every exchange is checked against GitHub's OpenAPI description."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gastown import config
from gastown.errors import RuntimeFailure, UserError
from gastown.forge.base import ForgeDown, ForgeError, LineComment, RateLimited
from gastown.forge.github import AppCredentials, GitHubForge
from gastown.forge.select import KeptForges, forge_for, locate, require
from gastown.model import Rig
from gastown.scripted.github import FakeGitHub
from tests.builders.git import commit, git
from tests.github_openapi import OpenAPICheck

TOKEN = "ghp_secret_token_value"
REPO = "acme/app"


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    clone = tmp_path / "work"
    git("clone", "-q", str(bare), str(clone), cwd=tmp_path)
    git("checkout", "-q", "-b", "main", cwd=clone)
    (clone / "app.py").write_text("".join(f"line {i}\n" for i in range(1, 40)))
    git("add", "app.py", cwd=clone)
    git("commit", "-q", "-m", "first", cwd=clone)
    git("push", "-q", "origin", "main", cwd=clone)
    return bare


@pytest.fixture
def fake(origin: Path, github_openapi: OpenAPICheck) -> Iterator[FakeGitHub]:
    with FakeGitHub({REPO: origin}, token=TOKEN, observe=github_openapi.observe) as server:
        yield server


@pytest.fixture
def forge(fake: FakeGitHub) -> GitHubForge:
    return GitHubForge(repo=REPO, token=TOKEN, api_url=fake.url)


# --- issues ------------------------------------------------------------------------------


def test_issues_are_read_and_listed_by_label_without_pull_requests(
    forge: GitHubForge, fake: FakeGitHub, tmp_path: Path
) -> None:
    crash = fake.open_issue(REPO, "Crash on start", "Steps: run it.", ["bug", "gastown"], "ann")
    fake.open_issue(REPO, "Docs typo", "", ["docs"])
    commit(tmp_path / "work", "feature", "new.txt", "new\n")
    pull = forge.create_pull("feature", "main", "Fix the crash", f"Fixes #{crash}")
    fake.label_issue(pull.number, "gastown")

    issue = forge.get_issue(crash)
    listed = forge.list_issues(labels=["gastown"])

    assert (issue.title, issue.body, issue.author) == ("Crash on start", "Steps: run it.", "ann")
    assert (issue.labels, issue.state) == (["bug", "gastown"], "open")
    assert issue.url == f"https://github.test/{REPO}/issues/{crash}"
    assert listed is not None
    assert [i.number for i in listed] == [crash]  # the labelled pull request is left out
    assert [i.number for i in forge.list_issues() or []] == [2, 1]


def test_an_unchanged_listing_is_none_and_costs_no_rate_limit(
    forge: GitHubForge, fake: FakeGitHub
) -> None:
    fake.open_issue(REPO, "Crash on start", labels=["gastown"])
    assert forge.list_issues(labels=["gastown"]) is not None
    counted = fake.counted

    again = forge.list_issues(labels=["gastown"])

    assert again is None
    assert (fake.not_modified, fake.counted) == (1, counted)
    assert fake.rate_limit - fake.rate_remaining == counted
    fake.edit_issue(1, title="Crash on start (Linux only)")
    changed = forge.list_issues(labels=["gastown"])
    assert changed is not None and changed[0].title == "Crash on start (Linux only)"


def test_following_an_unchanged_pull_request_costs_no_rate_limit_yet_sees_a_new_check(
    forge: GitHubForge, fake: FakeGitHub, tmp_path: Path
) -> None:
    commit(tmp_path / "work", "feature", "new.txt", "new\n")
    pull = forge.create_pull("feature", "main", "A change")
    fake.add_review(pull.number, "COMMENTED", "Looks fine")
    fake.set_check_run("feature", "ci", "in_progress", None)

    def look() -> tuple[object, ...]:
        now = forge.get_pull(pull.number)
        return (
            now.head_sha,
            [r.id for r in forge.list_reviews(pull.number)],
            [c.id for c in forge.list_review_comments(pull.number)],
            [c.id for c in forge.list_comments(pull.number, pull=True)],
            [(r.name, r.status, r.conclusion) for r in forge.list_check_runs(now.head_sha)],
        )

    first = look()
    counted, free = fake.counted, fake.not_modified
    assert look() == first
    assert (fake.counted, fake.not_modified) == (counted, free + 5)

    fake.set_check_run("feature", "ci", "completed", "failure")  # moves no `updated_at`
    seen = look()

    assert seen[4] == [("ci", "completed", "failure")]
    assert (fake.counted, fake.not_modified) == (counted + 1, free + 9)


def test_each_page_of_a_listing_is_asked_for_again_so_a_change_on_the_last_is_seen(
    forge: GitHubForge, fake: FakeGitHub
) -> None:
    number = fake.open_issue(REPO, "Busy")
    for n in range(100):
        fake.add_issue_comment(number, f"comment {n}")
    assert len(forge.list_comments(number)) == 100
    fake.add_issue_comment(number, "the 101st, alone on page two")
    assert len(forge.list_comments(number)) == 101
    fake.add_issue_comment(number, "the 102nd")
    counted = fake.counted

    comments = forge.list_comments(number)

    assert [c.body for c in comments[-2:]] == ["the 101st, alone on page two", "the 102nd"]
    assert fake.counted == counted + 1  # page one unchanged: 304


def test_since_and_state_narrow_the_listing(forge: GitHubForge, fake: FakeGitHub) -> None:
    clock = [1_700_000_000.0]
    fake.now = lambda: clock[0]
    old = fake.open_issue(REPO, "Old")
    clock[0] += 3600
    new = fake.open_issue(REPO, "New")
    fake.close_issue(old)

    recent = forge.list_issues(since="2023-11-14T23:00:00Z", state="all")
    closed = forge.list_issues(state="closed")

    assert [i.number for i in recent or []] == [new, old]  # closing updated the old one
    assert [(i.number, i.state) for i in closed or []] == [(old, "closed")]


def test_comment_label_and_close(forge: GitHubForge, fake: FakeGitHub) -> None:
    number = fake.open_issue(REPO, "Crash on start")
    fake.add_label(REPO, "bug", "d73a4a", "Something is broken")

    comment_id = forge.comment(number, "Taken as bead gt-abc12.")
    forge.add_labels(number, ["bug", "gastown"])  # GitHub makes `gastown`, which is new
    forge.close_issue(number, "Fixed in 1234567.")

    assert sorted(forge.list_labels()) == ["bug", "gastown"]
    assert fake.issues[number].labels == ["bug", "gastown"]
    assert fake.issues[number].state == "closed"
    comments = forge.list_comments(number)
    assert (comments[0].id, comments[0].body, comments[0].user) == (
        comment_id,
        "Taken as bead gt-abc12.",
        "gastown",
    )
    assert comments[1].body == "Fixed in 1234567."


def test_a_missing_issue_is_named(forge: GitHubForge) -> None:
    with pytest.raises(ForgeError) as missing:
        forge.get_issue(99)

    assert missing.value.status == 404
    assert missing.value.message.startswith("GitHub found no issue #99 in acme/app;")


# --- reviews -----------------------------------------------------------------------------


def test_a_review_with_line_comments_is_posted(
    forge: GitHubForge, fake: FakeGitHub, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    git("checkout", "-q", "-b", "feature", cwd=work)
    (work / "app.py").write_text((work / "app.py").read_text().replace("line 20", "LINE 20"))
    git("commit", "-q", "-am", "shout", cwd=work)
    git("push", "-q", "origin", "feature", cwd=work)
    pull = forge.create_pull("feature", "main", "Shout", "")

    review = forge.post_review(
        pull.number,
        pull.head_sha,
        "One thing.",
        [LineComment(path="app.py", line=20, body="Why shout?")],
    )

    [posted] = forge.list_reviews(pull.number)
    assert (posted.id, posted.state, posted.body, posted.commit_id) == (
        review,
        "COMMENTED",
        "One thing.",
        pull.head_sha,
    )
    [line] = forge.list_review_comments(pull.number)
    assert (line.path, line.line, line.body) == ("app.py", 20, "Why shout?")
    with pytest.raises(ForgeError) as outside:
        forge.post_review(pull.number, pull.head_sha, "", [LineComment("app.py", 2, "Hm.")])
    assert outside.value.status == 422
    assert outside.value.message == (
        "GitHub would not take the review of pull request #1 in acme/app: Unprocessable "
        "Entity: Pull request review thread line must be part of the diff; comment only on "
        "lines the pull request changes."
    )
    with pytest.raises(ForgeError) as own:
        forge.post_review(pull.number, pull.head_sha, "Fine.", event="APPROVE")
    assert "Can not approve your own pull request" in own.value.message


# --- credentials and refusals ------------------------------------------------------------


def test_a_wrong_token_names_the_setting_and_the_scopes_but_not_the_token(
    fake: FakeGitHub,
) -> None:
    wrong = GitHubForge(repo=REPO, token="ghp_wrong_secret", api_url=fake.url)

    with pytest.raises(ForgeError) as refused:
        wrong.list_issues()

    assert refused.value.status == 401
    text = f"{refused.value.message} {refused.value.detail} {refused.value!r}"
    assert "`github.token`" in text and "Pull requests: read and write" in text
    assert "ghp_wrong_secret" not in text and TOKEN not in text


def test_a_used_up_rate_limit_says_until_when(forge: GitHubForge, fake: FakeGitHub) -> None:
    fake.exhaust_rate_limit(1_700_000_000)

    with pytest.raises(RateLimited) as limited:
        forge.list_issues()

    assert (limited.value.status, limited.value.reset_at) == (403, 1_700_000_000)
    assert limited.value.message == (
        "GitHub is rate limiting this token until 2023-11-14 22:13:20 UTC; "
        "wait until then or use another token."
    )


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = json.dumps({"message": "Server Error"}).encode()
        self.send_response(502)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_server_error_is_named_as_the_forges_failure_not_the_users() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(ForgeDown) as failed:
            GitHubForge(repo=REPO, token=TOKEN, api_url=url).get_issue(1)
    finally:
        server.shutdown()
        server.server_close()

    assert failed.value.status == 502
    assert isinstance(failed.value, RuntimeFailure) and not isinstance(failed.value, UserError)
    assert failed.value.message == (
        "GitHub failed on GET on issue #1 in acme/app (502: Server Error); "
        "it is retried on the next poll."
    )


def _app_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_a_github_app_installation_gets_its_token_from_a_signed_jwt(
    origin: Path, github_openapi: OpenAPICheck
) -> None:
    private, public = _app_key()
    other, _ = _app_key()
    with FakeGitHub(
        {REPO: origin},
        token=TOKEN,
        apps={42: public},
        installations={7: 42},
        observe=github_openapi.observe,
    ) as fake:
        number = fake.open_issue(REPO, "Crash on start")
        app = AppCredentials(app_id=42, private_key=private, installation_id=7)
        forge = GitHubForge(repo=REPO, app=app, api_url=fake.url)
        impostor = AppCredentials(app_id=42, private_key=other, installation_id=7)

        assert forge.get_issue(number).title == "Crash on start"
        assert forge.get_issue(number).title == "Crash on start"  # the token is kept
        with pytest.raises(ForgeError) as refused:
            GitHubForge(repo=REPO, app=impostor, api_url=fake.url).get_issue(number)

    tokens = [p for m, p in fake.requests if m == "POST" and "access_tokens" in p]
    assert tokens == ["/app/installations/7/access_tokens"] * 2
    assert refused.value.status == 401
    assert "`github.app_private_key`" in refused.value.message
    assert "BEGIN PRIVATE KEY" not in refused.value.message


# --- webhooks ----------------------------------------------------------------------------


def test_changes_are_sent_to_a_registered_hook_signed(fake: FakeGitHub) -> None:
    got: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fake.add_hook(REPO, f"http://127.0.0.1:{server.server_address[1]}/hook", "s3cret")
        number = fake.open_issue(REPO, "Crash on start")
        fake.label_issue(number, "gastown")
        fake.close_issue(number)
    finally:
        server.shutdown()
        server.server_close()

    actions = [(h["x-github-event"], json.loads(b)["action"]) for h, b in got]
    assert actions == [("issues", "opened"), ("issues", "labeled"), ("issues", "closed")]
    headers, body = got[0]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["x-hub-signature-256"] == expected
    assert json.loads(got[1][1])["label"]["name"] == "gastown"
    assert len({h["x-github-delivery"] for h, _ in got}) == 3
    assert [d.status for d in fake.hooks.deliveries] == [204, 204, 204]


# --- choosing the forge ------------------------------------------------------------------


def settings(**values: Any) -> config.Resolved:
    base = {key: s.default for key, s in config.SETTINGS.items()}
    return config.Resolved(values={**base, **values}, origins={})


def rig(url: str) -> Rig:
    return Rig(name="app", url=url, branch="main", path="rigs/app")


@pytest.mark.parametrize(
    ("url", "values", "where"),
    [
        ("https://github.com/acme/app.git", {}, ("github", "acme/app")),
        ("git@github.com:acme/app.git", {}, ("github", "acme/app")),
        ("https://gitlab.com/acme/tools/app.git", {}, ("gitlab", "acme/tools/app")),
        ("/srv/git/app.git", {"github.repo": "acme/app"}, ("github", "acme/app")),
        (
            "https://ghe.example.com/acme/app.git",
            {"github.api_url": "https://ghe.example.com/api/v3"},
            ("github", "acme/app"),
        ),
        ("https://git.example.com/acme/app.git", {}, None),
        ("/srv/git/app.git", {}, None),
    ],
)
def test_the_forge_is_picked_from_settings_or_the_url(
    url: str, values: dict[str, Any], where: tuple[str, str] | None
) -> None:
    assert locate(settings(**values), rig(url)) == where


def test_a_rig_without_credentials_has_no_forge_and_says_what_to_set(fake: FakeGitHub) -> None:
    chosen = settings(**{"github.api_url": fake.url})
    github_rig = rig("https://github.com/acme/app.git")

    assert forge_for(chosen, github_rig, {}) is None
    with pytest.raises(ForgeError) as missing:
        require(chosen, github_rig, {})
    assert missing.value.message.startswith(
        "There is no GitHub token for acme/app (rig app); set `github.token` (or GITHUB_TOKEN)"
    )
    made = forge_for(chosen, github_rig, {"GITHUB_TOKEN": TOKEN})
    assert made is not None and made.kind == "github"
    number = fake.open_issue(REPO, "Crash on start")
    assert made.get_issue(number).title == "Crash on start"


def test_the_town_keeps_a_rigs_client_and_its_etags_until_the_settings_change(
    fake: FakeGitHub,
) -> None:
    kept = KeptForges({"GITHUB_TOKEN": TOKEN})
    chosen = settings(**{"github.api_url": fake.url})
    github_rig = rig("https://github.com/acme/app.git")
    number = fake.open_issue(REPO, "Crash on start")

    first = kept(chosen, github_rig)
    assert first is not None and first.get_issue(number).title == "Crash on start"
    again = kept(chosen, github_rig)
    assert again is first
    assert again.get_issue(number).title == "Crash on start"
    assert fake.not_modified == 1  # the kept client asked with the ETag it had
    moved = kept(settings(**{"github.api_url": fake.url, "github.token": TOKEN}), github_rig)
    assert moved is not None and moved is not first
