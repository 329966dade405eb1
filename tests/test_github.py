"""The GitHub forge's pull requests against the fake GitHub, with a real bare repository behind
it; every request and answer is checked against GitHub's OpenAPI description."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gastown.forge.base import CheckRun, Comment, ForgeError, PullRequest, ReviewComment
from gastown.forge.github import GitHubForge as GitHub
from gastown.scripted.github import FakeGitHub
from tests.builders.git import commit, git
from tests.github_openapi import OpenAPICheck

TOKEN = "ghp_test_token"
REPO = "acme/app"


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository with one commit on `main`."""
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    return bare


@pytest.fixture
def work(tmp_path: Path, origin: Path) -> Path:
    """A clone of `origin` that pushes `main` with a README on it."""
    clone = tmp_path / "work"
    git("clone", "-q", str(origin), str(clone), cwd=tmp_path)
    git("checkout", "-q", "-b", "main", cwd=clone)
    (clone / "README.md").write_text("hello\n")
    git("add", "README.md", cwd=clone)
    git("commit", "-q", "-m", "first", cwd=clone)
    git("push", "-q", "origin", "main", cwd=clone)
    return clone


@pytest.fixture
def fake(origin: Path, github_openapi: OpenAPICheck) -> Iterator[FakeGitHub]:
    with FakeGitHub(repos={REPO: origin}, token=TOKEN, observe=github_openapi.observe) as server:
        yield server
    github_openapi.verify()


@pytest.fixture
def client(fake: FakeGitHub) -> GitHub:
    return GitHub(api_url=fake.url, token=TOKEN, repo=REPO)


def tip(origin: Path, branch: str) -> str:
    return git("rev-parse", f"refs/heads/{branch}", cwd=origin)


# --- opening and finding -----------------------------------------------------------------


def test_create_pull_opens_one_and_asking_again_returns_the_same(
    client: GitHub, fake: FakeGitHub, work: Path, origin: Path
) -> None:
    head = commit(work, "feature", "feature.txt", "new\n")

    first = client.create_pull("feature", "main", "Add feature", "Closes gt-1.")
    again = client.create_pull("feature", "main", "Add feature", "Closes gt-1.")

    assert first == PullRequest(
        number=1,
        url="https://github.test/acme/app/pull/1",
        state="open",
        merged=False,
        mergeable=None,
        mergeable_state="unknown",
        head_ref="feature",
        head_sha=head,
        base_ref="main",
        title="Add feature",
        body="Closes gt-1.",
        author="gastown",
    )
    assert again == first
    assert list(fake.pulls) == [1]
    assert fake.pulls[1].body == "Closes gt-1."
    assert [r for r in fake.requests if r[0] == "POST"] == [("POST", "/repos/acme/app/pulls")] * 2


def test_find_open_pull_matches_head_and_base(client: GitHub, work: Path) -> None:
    commit(work, "feature", "feature.txt", "new\n")
    opened = client.create_pull("feature", "main", "Add feature", "")

    found = client.find_open_pull("feature", "main")

    assert found is not None
    assert (found.number, found.head_ref, found.url) == (opened.number, "feature", opened.url)
    assert client.find_open_pull("feature", "release") is None
    assert client.find_open_pull("other", "main") is None
    client.close_pull(opened.number)
    assert client.find_open_pull("feature", "main") is None


def test_create_pull_for_a_branch_that_was_never_pushed_is_refused(
    client: GitHub, work: Path
) -> None:
    with pytest.raises(ForgeError) as refused:
        client.create_pull("never-pushed", "main", "Nothing", "")

    assert refused.value.status == 422
    assert refused.value.message == (
        "GitHub would not open a pull request of never-pushed into main in acme/app: "
        "Validation Failed: head invalid; check that both branches are pushed and differ."
    )


# --- reading state -----------------------------------------------------------------------


def test_get_pull_follows_later_pushes_and_sees_conflicts(
    client: GitHub, work: Path, origin: Path
) -> None:
    commit(work, "feature", "shared.txt", "feature's version\n")
    number = client.create_pull("feature", "main", "Add shared", "").number
    clean = client.get_pull(number)
    assert (clean.mergeable, clean.mergeable_state) == (True, "clean")

    pushed = commit(work, "feature", "more.txt", "more\n")
    assert client.get_pull(number).head_sha == pushed == tip(origin, "feature")

    commit(work, "main", "shared.txt", "main's version\n")
    dirty = client.get_pull(number)
    assert (dirty.mergeable, dirty.mergeable_state) == (False, "dirty")
    assert dirty.state == "open"


def test_reviews_and_their_comments_block_until_the_reviewer_approves(
    client: GitHub, fake: FakeGitHub, work: Path
) -> None:
    head = commit(work, "feature", "feature.txt", "new\n")
    number = client.create_pull("feature", "main", "Add feature", "").number

    fake.add_review(
        number,
        "CHANGES_REQUESTED",
        "Please rename.",
        comments=[{"path": "feature.txt", "line": 1, "body": "Call it `new_feature`."}],
    )
    fake.add_review(number, "COMMENTED", "Also a nit.", user="bystander")

    reviews = client.list_reviews(number)
    assert [(r.state, r.user, r.body, r.commit_id) for r in reviews] == [
        ("CHANGES_REQUESTED", "reviewer", "Please rename.", head),
        ("COMMENTED", "bystander", "Also a nit.", head),
    ]
    [comment] = client.list_review_comments(number)
    assert comment == ReviewComment(
        id=comment.id,
        path="feature.txt",
        line=1,
        body="Call it `new_feature`.",
        user="reviewer",
        created_at=comment.created_at,
    )
    assert comment.created_at.endswith("Z")
    assert client.get_pull(number).mergeable_state == "blocked"

    fake.add_review(number, "APPROVED", "Thanks.")
    assert client.get_pull(number).mergeable_state == "clean"


def test_issue_comments_are_listed_oldest_first(
    client: GitHub, fake: FakeGitHub, work: Path
) -> None:
    commit(work, "feature", "feature.txt", "new\n")
    number = client.create_pull("feature", "main", "Add feature", "").number
    first = fake.add_issue_comment(number, "Can this wait a day?", user="lead")
    second = fake.add_issue_comment(number, "Never mind, go ahead.", user="lead")

    assert client.list_comments(number) == [
        Comment(first, "Can this wait a day?", "lead", fake.pulls[1].created_at),
        Comment(second, "Never mind, go ahead.", "lead", fake.pulls[1].created_at),
    ]


def test_check_runs_are_read_across_pages(client: GitHub, fake: FakeGitHub, work: Path) -> None:
    head = commit(work, "feature", "feature.txt", "new\n")
    for i in range(150):
        fake.set_check_run("feature", f"check-{i:03}", "completed", "success")

    runs = client.list_check_runs(head)

    assert len(runs) == 150
    assert [r.name for r in runs[:2]] == ["check-000", "check-001"]
    assert runs[-1] == CheckRun(runs[-1].id, "check-149", "completed", "success", head)
    pages = [path for _, path in fake.requests if "/check-runs" in path]
    assert pages == [
        f"/repos/acme/app/commits/{head}/check-runs?per_page=100",
        f"/repos/acme/app/commits/{head}/check-runs?per_page=100&page=2",
    ]


def test_failing_or_pending_checks_block_the_pull_request(
    client: GitHub, fake: FakeGitHub, work: Path
) -> None:
    commit(work, "feature", "feature.txt", "new\n")
    number = client.create_pull("feature", "main", "Add feature", "").number

    fake.set_check_run("feature", "tests", "in_progress", None)
    pending = client.list_check_runs(client.get_pull(number).head_sha)
    assert [(r.status, r.conclusion) for r in pending] == [("in_progress", None)]
    assert client.get_pull(number).mergeable_state == "blocked"

    fake.set_check_run("feature", "tests", "completed", "failure")
    assert client.get_pull(number).mergeable_state == "blocked"

    fake.set_check_run("feature", "tests", "completed", "success")
    assert client.get_pull(number).mergeable_state == "clean"
    assert len(client.list_check_runs(client.get_pull(number).head_sha)) == 1


# --- merging and closing -----------------------------------------------------------------


def test_merge_writes_a_merge_commit_with_two_parents_on_main(
    client: GitHub, fake: FakeGitHub, work: Path, origin: Path
) -> None:
    old_main = tip(origin, "main")
    head = commit(work, "feature", "feature.txt", "new\n")
    number = client.create_pull("feature", "main", "Add feature", "").number

    merged = client.merge_pull(number, head)

    assert tip(origin, "main") == merged
    parents = git("rev-list", "--parents", "-n", "1", merged, cwd=origin).split()
    assert parents == [merged, old_main, head]
    assert git("show", "main:feature.txt", cwd=origin) == "new"
    assert git("log", "-1", "--format=%s", merged, cwd=origin) == (
        "Merge pull request #1 from acme/feature"
    )
    after = client.get_pull(number)
    assert (after.state, after.merged, after.head_sha) == ("closed", True, head)
    assert fake.pulls[number].merge_commit_sha == merged


def test_squash_merge_writes_one_commit_with_one_parent(
    client: GitHub, work: Path, origin: Path
) -> None:
    old_main = tip(origin, "main")
    commit(work, "feature", "a.txt", "a\n")
    head = commit(work, "feature", "b.txt", "b\n")
    number = client.create_pull("feature", "main", "Add a and b", "").number

    squashed = client.merge_pull(number, head, method="squash")

    assert git("rev-list", "--parents", "-n", "1", squashed, cwd=origin).split() == [
        squashed,
        old_main,
    ]
    assert git("ls-tree", "--name-only", "main", cwd=origin).split() == [
        "README.md",
        "a.txt",
        "b.txt",
    ]
    assert git("log", "-1", "--format=%s", squashed, cwd=origin) == "Add a and b (#1)"


def test_merging_into_the_default_branch_closes_the_issues_its_description_fixes(
    client: GitHub, fake: FakeGitHub, work: Path
) -> None:
    """As on GitHub: closing keywords in the description close open issues of the repository
    when the pull request merges into the default branch, and only then."""
    fixed, resolved, named, mentioned, closed_first = (
        fake.open_issue(REPO, title) for title in ("a", "b", "c", "d", "e")
    )
    fake.close_issue(closed_first, reason="not_planned")
    git("push", "-q", "origin", "main:release", cwd=work)
    into_release = commit(work, "not-main", "r.txt", "r\n")
    other = client.create_pull("not-main", "release", "Elsewhere", f"Fixes #{fixed}").number
    client.merge_pull(other, into_release)
    assert fake.issues[fixed].state == "open"  # not the default branch

    head = commit(work, "feature", "feature.txt", "new\n")
    body = (
        f"fixes #{fixed}, Resolves: {REPO}#{resolved}\n"
        f"Closes https://github.com/{REPO}/issues/{named}\nSee #{mentioned}.\n"
        f"Fixed #{closed_first}"
    )
    number = client.create_pull("feature", "main", "Add feature", body).number
    client.merge_pull(number, head)

    issues = fake.issues
    assert [issues[n].state for n in (fixed, resolved, named)] == ["closed"] * 3
    assert issues[fixed].state_reason == "completed"
    assert issues[mentioned].state == "open"
    assert issues[closed_first].state_reason == "not_planned"  # left as it was


def test_merge_is_refused_when_the_branches_conflict(
    client: GitHub, work: Path, origin: Path
) -> None:
    head = commit(work, "feature", "shared.txt", "feature's version\n")
    number = client.create_pull("feature", "main", "Add shared", "").number
    main_before = commit(work, "main", "shared.txt", "main's version\n")

    with pytest.raises(ForgeError) as refused:
        client.merge_pull(number, head)

    assert refused.value.status == 405
    assert refused.value.message == (
        "GitHub will not merge pull request #1 in acme/app: "
        "Pull Request is not mergeable; resolve that and poll again."
    )
    assert tip(origin, "main") == main_before
    assert client.get_pull(number).state == "open"


def test_merge_is_refused_when_the_head_moved(client: GitHub, work: Path, origin: Path) -> None:
    seen = commit(work, "feature", "feature.txt", "new\n")
    number = client.create_pull("feature", "main", "Add feature", "").number
    main_before = tip(origin, "main")
    commit(work, "feature", "late.txt", "pushed after the last poll\n")

    with pytest.raises(ForgeError) as refused:
        client.merge_pull(number, seen)

    assert refused.value.status == 409
    assert refused.value.detail == "Head branch was modified. Review and try the merge again"
    assert f"moved past {seen[:12]}" in refused.value.message
    assert tip(origin, "main") == main_before


def test_merge_is_refused_while_changes_are_requested(
    client: GitHub, fake: FakeGitHub, work: Path
) -> None:
    head = commit(work, "feature", "feature.txt", "new\n")
    number = client.create_pull("feature", "main", "Add feature", "").number
    fake.add_review(number, "CHANGES_REQUESTED", "Not yet.")

    with pytest.raises(ForgeError) as refused:
        client.merge_pull(number, head)

    assert refused.value.status == 405
    assert "Changes have been requested" in refused.value.message


def test_close_and_changes_made_on_the_web_show_up_when_polled(
    client: GitHub, fake: FakeGitHub, work: Path, origin: Path
) -> None:
    commit(work, "one", "one.txt", "1\n")
    commit(work, "two", "two.txt", "2\n")
    commit(work, "three", "three.txt", "3\n")
    one = client.create_pull("one", "main", "One", "").number
    two = client.create_pull("two", "main", "Two", "").number
    three = client.create_pull("three", "main", "Three", "").number

    closed = client.close_pull(one)
    fake.close(two)
    merged = fake.merge_outside(three)

    assert (closed.state, closed.merged) == ("closed", False)
    assert (client.get_pull(two).state, client.get_pull(two).merged) == ("closed", False)
    by_hand = client.get_pull(three)
    assert (by_hand.state, by_hand.merged) == ("closed", True)
    assert tip(origin, "main") == merged
    assert ("PATCH", "/repos/acme/app/pulls/1") in fake.requests


def test_many_threads_poll_at_once(client: GitHub, work: Path) -> None:
    head = commit(work, "feature", "feature.txt", "new\n")
    number = client.create_pull("feature", "main", "Add feature", "").number

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = list(pool.map(lambda _: client.get_pull(number).head_sha, range(16)))

    assert seen == [head] * 16


# --- failures ----------------------------------------------------------------------------


def test_a_wrong_token_is_one_plain_sentence(fake: FakeGitHub, work: Path) -> None:
    wrong = GitHub(api_url=fake.url, token="not-the-token", repo=REPO)

    with pytest.raises(ForgeError) as refused:
        wrong.get_pull(1)

    assert refused.value.status == 401
    assert refused.value.message == (
        "GitHub refused the token for acme/app (Bad credentials); set `github.token` or "
        "GITHUB_TOKEN to a valid token with the `repo` scope (fine-grained: Issues: read and "
        "write, Pull requests: read and write, Contents: read and write)."
    )


def test_a_missing_pull_request_or_repository_is_named(fake: FakeGitHub, work: Path) -> None:
    with pytest.raises(ForgeError) as missing_pull:
        GitHub(api_url=fake.url, token=TOKEN, repo=REPO).get_pull(99)
    with pytest.raises(ForgeError) as missing_repo:
        GitHub(api_url=fake.url, token=TOKEN, repo="acme/gone").find_open_pull("feature")

    assert missing_pull.value.status == 404
    assert missing_pull.value.message.startswith("GitHub found no pull request #99 in acme/app;")
    assert missing_repo.value.message.startswith("GitHub found no repository acme/gone;")


def test_rate_limiting_says_until_when(client: GitHub, fake: FakeGitHub) -> None:
    fake.rate_limited_until = 1_700_000_000

    with pytest.raises(ForgeError) as limited:
        client.get_pull(1)

    assert limited.value.status == 403
    assert limited.value.message == (
        "GitHub is rate limiting this token until 2023-11-14 22:13:20 UTC; "
        "wait until then or use another token."
    )


def test_a_closed_port_cannot_be_reached() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    with pytest.raises(ForgeError) as unreachable:
        GitHub(api_url=url, token=TOKEN, repo=REPO).get_pull(1)

    assert unreachable.value.status is None
    assert unreachable.value.message.startswith(f"Cannot reach {url} (Connection refused)")
    assert unreachable.value.message.endswith("check `github.api_url` and the network.")


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # connections queue but are never answered
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

        with pytest.raises(ForgeError) as silent:
            GitHub(api_url=url, token=TOKEN, repo=REPO, timeout=0.2).get_pull(1)

    assert silent.value.message == (
        f"Cannot reach {url} (no answer within 0.2 s); check `github.api_url` and the network."
    )
