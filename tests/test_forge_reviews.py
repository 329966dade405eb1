"""Reviews out: the refinery's verdict posted on the town's own pull request, `gt review URL`
on anyone's pull or merge request, and people's pull requests reviewed once per head, against
the fake GitHub and the fake GitLab with the scripted model server as the reviewer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gastown.clock import FakeClock
from gastown.errors import Refused
from gastown.forge.gitlab import GitLabForge
from gastown.git import merge as gm
from gastown.model import IN_PROGRESS, MergeRequest
from gastown.refinery.human_prs import HumanReviews, sweep
from gastown.refinery.step import Seams
from gastown.scripted.github import FakeGitHub
from gastown.scripted.gitlab import FakeGitLab
from gastown.scripted.script import parse
from gastown.scripted.server import ScriptedModelServer
from gastown.services import beads, issues
from gastown.services.merge_requests import rework_done
from tests.builders import CALC, Yard, commit_all, github_seams, remote, verdict, yard
from tests.conftest import run_git

__all__ = ["remote", "yard"]  # the Yard's fixtures, which pytest finds here by name

TOKEN = "ghs-test"
GL_TOKEN = "glpat-test"
MUL = CALC + "\ndef mul(a, b):\n    return a * b\n"


def reviewer_says(yard: Yard, *replies: dict[str, Any]) -> ScriptedModelServer:
    """The scripted model server as the rig's reviewer, giving `replies` in turn."""
    server = ScriptedModelServer(parse({"replies": list(replies)}, source="review script"))
    server.start()
    yard.gt.ok("config", "set", "refinery.code_review", "true")
    yard.gt.ok("config", "set", "model_base_url", server.base_url)
    yard.gt.ok("config", "set", "model_api_key", "sk-test")
    yard.gt.ok("config", "set", "role_models.refinery", "claude-haiku-4-5")
    return server


def person_pushes(yard: Yard, branch: str, files: dict[str, str], name: str = "person") -> str:
    """A person commits `files` on `branch` (cut from trunk if new) and pushes it; its tip."""
    work = yard.tmp / f"{name}-work"
    if not work.exists():
        run_git("clone", "-q", str(yard.remote), str(work), cwd=yard.tmp)
    run_git("fetch", "-q", "origin", cwd=work)
    known = run_git("ls-remote", "origin", f"refs/heads/{branch}", cwd=work).strip()
    run_git(
        "checkout", "-q", "-B", branch, f"origin/{branch}" if known else "origin/trunk", cwd=work
    )
    for path, text in files.items():
        (work / path).write_text(text)
    head = commit_all(work, f"{branch}: {', '.join(files)}")
    run_git("push", "-q", "origin", f"{branch}:{branch}", cwd=work)
    return head


@pytest.fixture
def github(yard: Yard) -> Iterator[FakeGitHub]:
    with FakeGitHub({"acme/app": yard.remote}, token=TOKEN) as fake:
        yard.gt.ok("config", "set", "github.repo", "acme/app")
        yard.gt.ok("config", "set", "github.api_url", fake.url)
        yard.gt.ok("config", "set", "github.token", TOKEN)
        yield fake


@pytest.fixture
def gitlab(yard: Yard) -> Iterator[FakeGitLab]:
    """The rig's project on the fake GitLab, in a group as GitLab projects often are."""
    with FakeGitLab({"acme/tools/app": yard.remote}, token=GL_TOKEN) as fake:
        yard.gt.ok("config", "set", "gitlab.repo", "acme/tools/app")
        yard.gt.ok("config", "set", "gitlab.api_url", fake.url)
        yard.gt.ok("config", "set", "gitlab.token", GL_TOKEN)
        yield fake


def gitlab_seams(fake: FakeGitLab, clock: FakeClock) -> Seams:
    """The real python-gitlab client, pointed at the fake GitLab server, on a fake clock."""
    return Seams(
        forge=lambda settings, rig: GitLabForge("acme/tools/app", GL_TOKEN, api_url=fake.url),
        clock=clock,
    )


def events(yard: Yard, kind: str) -> list[dict[str, Any]]:
    return [e for e in yard.gt.json("events", "--limit", "500") if e["kind"] == kind]


# --- the refinery's own pull requests -----------------------------------------------------


def test_with_comments_the_refinery_posts_its_review_on_its_own_pull_request(
    yard: Yard, github: FakeGitHub
) -> None:
    yard.gt.ok("config", "set", "merge_strategy", "pr")
    yard.gt.ok("config", "set", "refinery.review_mode", "comments")
    clock = FakeClock()
    comments = [
        {"path": "calc.py", "line": 4, "body": "Good name."},
        {"path": "README.md", "line": 1, "body": "Mention mul here."},
    ]
    server = reviewer_says(yard, verdict("approve", "Small and right.", comments))
    try:
        _, mr = yard.submit("Add mul", {"calc.py": MUL})
        yard.drain(github_seams(github, clock))
    finally:
        server.stop()
    got = yard.mr(mr)
    assert got.status == "pr" and got.pr_number is not None
    (review,) = github.reviews(got.pr_number)
    # GitHub refuses approving one's own pull request: the town's verdict is a comment.
    assert review["state"] == "COMMENTED" and review["commit_id"] == got.head_commit
    assert "approve" in review["body"] and "Small and right." in review["body"]
    assert "`README.md:1`: Mention mul here." in review["body"]  # not in the diff: folded
    (line,) = github.review_comments(got.pr_number)
    assert (line["path"], line["line"], line["body"]) == ("calc.py", 4, "Good name.")
    assert events(yard, "mr.review_posted")

    clock.advance(61)  # its own comments are not feedback for a fix-up bead
    yard.drain(github_seams(github, clock))
    assert yard.mr(mr).status == "pr" and yard.mr(mr).rework_bead_id is None


def test_with_comments_the_refinery_posts_its_review_on_its_own_merge_request(
    yard: Yard, gitlab: FakeGitLab
) -> None:
    yard.gt.ok("config", "set", "merge_strategy", "pr")
    yard.gt.ok("config", "set", "refinery.review_mode", "comments")
    clock = FakeClock()
    seams = gitlab_seams(gitlab, clock)
    issue = gitlab.open_issue("Add mul")
    ledger = yard.ledger()
    try:
        with ledger.store.reader() as tx:
            rig = tx.get_rig("app")
        assert rig is not None
        forge = GitLabForge("acme/tools/app", GL_TOKEN, api_url=gitlab.url)
        bead, _, _ = issues.link_issue(ledger, rig, forge, forge.get_issue(issue))
    finally:
        ledger.store.close()
    comments = [
        {"path": "calc.py", "line": 4, "body": "Good name."},
        {"path": "README.md", "line": 1, "body": "Mention mul here."},
    ]
    server = reviewer_says(yard, verdict("approve", "Small and right.", comments))
    try:
        _, mr = yard.submit("Add mul", {"calc.py": MUL}, bead_id=bead.id)
        yard.drain(seams)
    finally:
        server.stop()
    got = yard.mr(mr)
    assert got.status == "pr" and got.pr_number is not None
    opened = gitlab.merge_requests()[got.pr_number]
    assert f"Closes #{issue}" in opened.description and opened.head_sha == got.head_commit
    notes = gitlab.notes(got.pr_number, on="MergeRequest")
    (said,) = [n for n in notes if not n.get("position")]
    assert "approve" in said["body"] and "Small and right." in said["body"]
    assert "`README.md:1`: Mention mul here." in said["body"]  # not in the diff: folded
    (line,) = [n for n in notes if n.get("position")]
    assert line["type"] == "DiffNote" and line["body"] == "Good name."
    assert (line["position"]["new_path"], line["position"]["new_line"]) == ("calc.py", 4)
    assert line["position"]["head_sha"] == got.head_commit
    assert all(n["author"]["username"] == "gastown" for n in notes)
    assert not gitlab.projects["acme/tools/app"].approvals  # never its own approval
    assert events(yard, "mr.review_posted")

    clock.advance(61)  # its own notes are not feedback for a fix-up bead
    yard.drain(seams)
    assert yard.mr(mr).status == "pr" and yard.mr(mr).rework_bead_id is None


def test_in_verdict_mode_nothing_is_posted(yard: Yard, github: FakeGitHub) -> None:
    yard.gt.ok("config", "set", "merge_strategy", "pr")
    server = reviewer_says(
        yard, verdict("approve", "Fine.", [{"path": "calc.py", "line": 4, "body": "ok"}])
    )
    try:
        _, mr = yard.submit("Add mul", {"calc.py": MUL})
        yard.drain(github_seams(github, FakeClock()))
    finally:
        server.stop()
    got = yard.mr(mr)
    assert got.status == "pr" and got.verdict == "approve"
    assert github.reviews(int(got.pr_number or 0)) == []
    assert github.review_comments(int(got.pr_number or 0)) == []


# --- gt review URL ------------------------------------------------------------------------


def test_gt_review_requests_changes_on_a_persons_pull_request_with_line_comments(
    yard: Yard, github: FakeGitHub
) -> None:
    head = person_pushes(yard, "add-mul", {"calc.py": MUL})
    number = github.open_pull("add-mul", "trunk", "Add mul", "Adds mul.", user="dana")
    url = f"https://github.test/acme/app/pull/{number}"
    server = reviewer_says(
        yard,
        verdict(
            "request_changes",
            "mul has no test.",
            [
                {"path": "calc.py", "line": 5, "body": "Test this."},
                {"path": "calc.py", "line": 40, "body": "Far away."},
                {"body": "Update the changelog."},
            ],
        ),
    )
    try:
        done = yard.gt.json("review", url)
    finally:
        server.stop()
    prompt = json.dumps(server.requests[0].body)
    assert "Add mul" in prompt and "+def mul" in prompt
    assert done["event"] == "REQUEST_CHANGES" and done["head"] == head
    assert done["line_comments"] == 1 and done["folded_comments"] == 2
    (review,) = github.reviews(number)
    assert review["state"] == "CHANGES_REQUESTED" and review["user"]["login"] == "gastown"
    assert "`calc.py:40`: Far away." in review["body"]
    assert "General: Update the changelog." in review["body"]
    assert [(c["path"], c["line"]) for c in github.review_comments(number)] == [("calc.py", 5)]
    assert not github.pulls[number].merged
    (seen,) = events(yard, "pr.reviewed")
    assert seen["after"]["pr"] == number and seen["after"]["head"] == head


def test_gt_review_never_approves_unless_told_to(yard: Yard, github: FakeGitHub) -> None:
    person_pushes(yard, "add-mul", {"calc.py": MUL})
    number = github.open_pull("add-mul", "trunk", "Add mul", user="dana")
    url = f"https://github.test/acme/app/pull/{number}"
    server = reviewer_says(yard, verdict("approve", "Looks right."), verdict("approve", "Yes."))
    try:
        first = yard.gt.json("review", url)
        second = yard.gt.json("review", url, "--approve-ok")
    finally:
        server.stop()
    assert first["event"] == "COMMENT" and second["event"] == "APPROVE"
    assert [r["state"] for r in github.reviews(number)] == ["COMMENTED", "APPROVED"]
    assert github.pulls[number].state == "open" and not github.pulls[number].merged


def test_gt_review_counts_what_each_review_spent_a_failed_one_too(
    yard: Yard, github: FakeGitHub
) -> None:
    """The reviewer's spend on a person's pull request is its rig's, cached input priced at
    the cache's rate; a review that gives no verdict still spent its tokens."""
    person_pushes(yard, "add-mul", {"calc.py": MUL})
    number = github.open_pull("add-mul", "trunk", "Add mul", user="dana")
    url = f"https://github.test/acme/app/pull/{number}"
    usage = {"input_tokens": 200, "cache_read_tokens": 800, "output_tokens": 50}
    server = reviewer_says(
        yard,
        {**verdict("approve", "Looks right."), "usage": usage},
        {"text": "I would rather not say.", "usage": usage},
    )
    try:
        yard.gt.json("review", url)
        failed = yard.gt("review", url)
    finally:
        server.stop()
    assert failed.code == 1 and "without a verdict" in failed.err
    (reviewer,) = yard.gt.json("costs", "--by", "agent")["rows"]
    assert (reviewer["key"], reviewer["calls"], reviewer["unknown"]) == ("reviewer", 2, 0)
    assert (reviewer["tokens_in"], reviewer["tokens_cache"]) == (2000, 1600)
    assert reviewer["usd"] == pytest.approx(2 * (200 * 1.0 + 800 * 0.1 + 50 * 5.0) / 1e6)
    assert [r["key"] for r in yard.gt.json("costs", "--by", "rig")["rows"]] == ["app"]


def test_gt_review_on_a_gitlab_merge_request(yard: Yard) -> None:
    person_pushes(yard, "add-mul", {"calc.py": MUL})
    with FakeGitLab({"acme/app": yard.remote}, token="glpat-test") as gitlab:
        yard.gt.ok("config", "set", "gitlab.repo", "acme/app")
        yard.gt.ok("config", "set", "gitlab.api_url", gitlab.url)
        yard.gt.ok("config", "set", "gitlab.token", "glpat-test")
        iid = gitlab.open_merge_request("add-mul", "trunk", "Add mul", by="dana")
        server = reviewer_says(
            yard,
            verdict(
                "request_changes", "Needs a test.", [{"path": "calc.py", "line": 4, "body": "?"}]
            ),
        )
        try:
            done = yard.gt.json("review", f"https://gitlab.test/acme/app/-/merge_requests/{iid}")
        finally:
            server.stop()
        notes = gitlab.notes(iid, on="MergeRequest")
    assert done["event"] == "REQUEST_CHANGES" and done["line_comments"] == 1
    bodies = [n["body"] for n in notes]
    assert any("Needs a test." in b for b in bodies) and "?" in bodies
    assert not any(n.get("type") == "approval" for n in notes)


# --- people's pull requests, as they come ---------------------------------------------------


def three_branches_pushed(yard: Yard) -> None:
    """A person's branch, someone's work in progress and a branch of the town's own, pushed
    with human pull requests reviewed."""
    yard.gt.ok("config", "set", "review.human_prs", "true")
    person_pushes(yard, "add-mul", {"calc.py": MUL})
    person_pushes(yard, "wip", {"WIP.md": "later\n"}, name="other")
    person_pushes(yard, "gt/toast/gt-abc12", {"NOTES.md": "notes\n"}, name="town")


def reviewed_once_per_head(yard: Yard, mine: int) -> str:
    """Sweep, sweep again with nothing new, push a new head, sweep: `mine` alone is reviewed,
    once per head, the second time on what changed since the first. The first head reviewed."""
    server = reviewer_says(
        yard,
        verdict("request_changes", "Test it.", [{"path": "calc.py", "line": 4, "body": "Test."}]),
        verdict("approve", "Tested now."),
    )
    try:
        first = sweep_once(yard)
        again = sweep_once(yard)  # nothing new: no model call, nothing posted
        tested = MUL + "\nassert mul(2, 3) == 6\n"
        new_head = person_pushes(yard, "add-mul", {"calc.py": tested})
        second = sweep_once(yard)
    finally:
        server.stop()
    assert [r.number for r in first] == [mine] and again == []
    assert [r.number for r in second] == [mine] and second[0].since == first[0].head
    assert second[0].head == new_head and len(server.requests) == 2
    reread = json.dumps(server.requests[1].body)
    assert "+assert mul(2, 3) == 6" in reread and "+def mul" not in reread
    return str(first[0].head)


def test_people_s_pull_requests_are_reviewed_once_per_head_drafts_and_the_town_s_skipped(
    yard: Yard, github: FakeGitHub
) -> None:
    three_branches_pushed(yard)
    mine = github.open_pull("add-mul", "trunk", "Add mul", user="dana")
    draft = github.open_pull("wip", "trunk", "WIP", user="eve", draft=True)
    towns = github.open_pull("gt/toast/gt-abc12", "trunk", "Notes", user="gastown")
    reviewed_once_per_head(yard, mine)
    assert github.reviews(draft) == [] and github.reviews(towns) == []
    assert [r["state"] for r in github.reviews(mine)] == ["CHANGES_REQUESTED", "COMMENTED"]


def test_people_s_merge_requests_are_reviewed_once_per_head_drafts_and_the_town_s_skipped(
    yard: Yard, gitlab: FakeGitLab
) -> None:
    three_branches_pushed(yard)
    mine = gitlab.open_merge_request("add-mul", "trunk", "Add mul", by="dana")
    draft = gitlab.open_merge_request("wip", "trunk", "WIP", by="eve", draft=True)
    towns = gitlab.open_merge_request("gt/toast/gt-abc12", "trunk", "Notes", by="gastown")
    first_head = reviewed_once_per_head(yard, mine)
    assert gitlab.notes(draft, on="MergeRequest") == []
    assert gitlab.notes(towns, on="MergeRequest") == []
    notes = gitlab.notes(mine, on="MergeRequest")
    said = [n["body"] for n in notes if not n.get("position")]
    assert len(said) == 2 and "Test it." in said[0] and "Tested now." in said[1]
    (line,) = [n for n in notes if n.get("position")]
    assert line["body"] == "Test." and line["position"]["head_sha"] == first_head
    assert not gitlab.projects["acme/tools/app"].approvals  # a person's: never approved
    assert gitlab.merge_requests()[mine].state == "opened"


def test_the_town_process_sweeps_an_unchanged_repository_free_of_the_rate_limit(
    yard: Yard, github: FakeGitHub
) -> None:
    yard.gt.ok("config", "set", "review.human_prs", "true")
    person_pushes(yard, "wip", {"WIP.md": "later\n"})
    github.open_pull("wip", "trunk", "WIP", user="eve", draft=True)  # skipped: no model
    clock = [0.0]
    reviews = HumanReviews(yard.town, {}, now=lambda: clock[0])
    spent: list[tuple[int, int]] = []

    async def sweeps() -> None:
        for _ in range(2):
            before = (github.counted, github.not_modified)
            reviews.poke()
            assert reviews.task is not None
            await reviews.task
            spent.append((github.counted - before[0], github.not_modified - before[1]))
            clock[0] += 3600

    asyncio.run(sweeps())

    assert spent == [(1, 0), (0, 1)]  # the second listing is a 304 on the kept client


def sweep_once(yard: Yard) -> list[Any]:
    town = yard.town
    ledger = yard.ledger()
    try:
        return sweep(ledger, town, {})
    finally:
        ledger.store.close()


# --- bad input ------------------------------------------------------------------------------


def test_bad_addresses_and_forges_are_one_sentence_and_write_nothing(
    yard: Yard, github: FakeGitHub
) -> None:
    before = len(yard.gt.json("events", "--limit", "500"))
    not_a_pr = yard.gt("review", "https://github.test/acme/app/issues/3")
    assert not_a_pr.code == 2 and "is not the address of a pull or merge request" in not_a_pr.err
    elsewhere = yard.gt("review", "https://github.com/someone/else/pull/1")
    assert elsewhere.code == 1 and "No rig has the repository someone/else." in elsewhere.err
    missing = yard.gt("review", "https://github.test/acme/app/pull/99")
    assert missing.code == 1 and missing.err.count("\n") <= 2 and TOKEN not in missing.err
    yard.gt.ok("config", "unset", "github.token")
    no_token = yard.gt("review", "https://github.test/acme/app/pull/1")
    assert no_token.code == 1 and "There is no GitHub token for acme/app" in no_token.err
    assert len(yard.gt.json("events", "--limit", "500")) == before + 1  # the unset only


def test_a_forge_that_fails_leaves_nothing_half_written(yard: Yard, tmp_path: Path) -> None:
    person_pushes(yard, "add-mul", {"calc.py": MUL})
    with FakeGitLab({"acme/app": yard.remote}, token="glpat-test") as gitlab:
        yard.gt.ok("config", "set", "gitlab.repo", "acme/app")
        yard.gt.ok("config", "set", "gitlab.api_url", gitlab.url)
        yard.gt.ok("config", "set", "gitlab.token", "glpat-test")
        iid = gitlab.open_merge_request("add-mul", "trunk", "Add mul", by="dana")
        gitlab.failing_with = 502
        down = yard.gt("review", f"https://gitlab.test/acme/app/-/merge_requests/{iid}")
    assert down.code == 1 and "glpat" not in down.err
    assert events(yard, "pr.reviewed") == []


# --- babysitting a person's pull request ----------------------------------------------------


def babysat(yard: Yard) -> MergeRequest:
    ledger = yard.ledger()
    try:
        with ledger.store.reader() as tx:
            (mr,) = tx.list_merge_requests(kind="pull")
    finally:
        ledger.store.close()
    return mr


def polecat_commits(yard: Yard, mr: MergeRequest, files: dict[str, str]) -> str:
    """What the babysitting polecat does: commit on the pull request's branch, and finish."""
    work = yard.tmp / "babysitter"
    if not work.exists():
        run_git("worktree", "add", "-q", str(work), mr.branch, cwd=yard.clone)
    for path, text in files.items():
        (work / path).write_text(text)
    head = commit_all(work, "Answer the review")
    ledger = yard.ledger()
    try:
        beads.update(ledger, str(mr.rework_bead_id), {"status": IN_PROGRESS})
        with ledger.store.transaction() as tx:
            bead = tx.get_bead(str(mr.rework_bead_id), lock=True)
            assert bead is not None and rework_done(ledger, tx, bead, head, "run-test")
    finally:
        ledger.store.close()
    return head


def test_babysitting_pushes_to_the_pull_request_s_branch_and_never_merges(
    yard: Yard, github: FakeGitHub
) -> None:
    yard.gt.ok("config", "set", "refinery.auto_merge_delay_minutes", "0")
    yard.gt.ok("config", "set", "refinery.pr_poll_seconds", "30")
    clock = FakeClock()
    seams = github_seams(github, clock)
    first = person_pushes(yard, "add-mul", {"calc.py": MUL})
    number = github.open_pull("add-mul", "trunk", "Add mul", user="dana")
    url = f"https://github.test/acme/app/pull/{number}"
    github.set_check_run("add-mul", "unit-tests", "completed", "failure")
    github.add_review(
        number,
        "CHANGES_REQUESTED",
        "Please test it.",
        comments=[{"path": "calc.py", "line": 4, "body": "Where is the test?"}],
        user="erin",
    )

    slung = yard.gt.json("sling", url)
    assert yard.gt.json("sling", url)["id"] == slung["id"]  # babysat once
    body = yard.bead(slung["id"])["body"]
    assert "`unit-tests` ended failure" in body and "Where is the test?" in body
    assert "Please test it." in body and "`add-mul`" in body and "never merge" in body
    mr = babysat(yard)
    assert (mr.status, mr.branch, mr.head_commit, mr.rework_bead_id) == (
        "rework",
        "add-mul",
        first,
        slung["id"],
    )

    fixed = polecat_commits(yard, mr, {"test_calc.py": "import calc\nassert calc.mul(2, 3) == 6\n"})
    yard.drain(seams)
    assert run_git("rev-parse", "refs/heads/add-mul", cwd=yard.remote).strip() == fixed
    assert github.pulls[number].head_sha == fixed and yard.remote_log() == ["first"]
    assert babysat(yard).status == "pr"

    github.set_check_run(fixed, "unit-tests", "completed", "success")
    clock.advance(31)
    yard.drain(seams)  # green, and auto-merge on: still the author's to merge
    assert not github.pulls[number].merged and babysat(yard).status == "pr"
    assert not [r for r in github.requests if r[0] == "PUT"]

    github.add_review(
        number, "COMMENTED", comments=[{"path": "calc.py", "line": 5, "body": "Use *."}]
    )
    clock.advance(31)
    assert yard.drain(seams).reworked == [mr.id]
    again = yard.bead(str(babysat(yard).rework_bead_id))
    assert "Use *." in again["body"] and "Where is the test?" not in again["body"]


def test_babysitting_pushes_to_the_merge_request_s_branch_and_never_merges(
    yard: Yard, gitlab: FakeGitLab
) -> None:
    yard.gt.ok("config", "set", "refinery.auto_merge_delay_minutes", "0")
    yard.gt.ok("config", "set", "refinery.pr_poll_seconds", "30")
    clock = FakeClock()
    seams = gitlab_seams(gitlab, clock)
    first = person_pushes(yard, "add-mul", {"calc.py": MUL})
    iid = gitlab.open_merge_request("add-mul", "trunk", "Add mul", by="dana")
    url = f"https://gitlab.com/acme/tools/app/-/merge_requests/{iid}"
    gitlab.set_pipeline("add-mul", {"unit-tests": "failed"})
    gitlab.add_note(iid, "Where is the test?", on="MergeRequest", author="erin")

    slung = yard.gt.json("sling", url)
    assert yard.gt.json("sling", url)["id"] == slung["id"]  # babysat once
    body = yard.bead(slung["id"])["body"]
    assert "`unit-tests` ended failure" in body and "Where is the test?" in body
    assert "`add-mul`" in body and "never merge" in body
    mr = babysat(yard)
    assert (mr.status, mr.branch, mr.head_commit, mr.rework_bead_id) == (
        "rework",
        "add-mul",
        first,
        slung["id"],
    )

    fixed = polecat_commits(yard, mr, {"test_calc.py": "import calc\nassert calc.mul(2, 3) == 6\n"})
    yard.drain(seams)
    assert run_git("rev-parse", "refs/heads/add-mul", cwd=yard.remote).strip() == fixed
    assert gitlab.merge_requests()[iid].head_sha == fixed and yard.remote_log() == ["first"]
    heads = run_git("for-each-ref", "--format=%(refname)", "refs/heads", cwd=yard.remote)
    assert heads.split() == ["refs/heads/add-mul", "refs/heads/trunk"]  # no branch of its own
    assert babysat(yard).status == "pr"

    gitlab.set_pipeline(fixed, {"unit-tests": "success"})
    clock.advance(31)
    yard.drain(seams)  # green, and auto-merge on: still the author's to merge
    assert gitlab.merge_requests()[iid].state == "opened" and babysat(yard).status == "pr"
    assert not [r for r in gitlab.requests if r.target.split("?")[0].endswith("/merge")]

    gitlab.add_note(iid, "Use * here.", on="MergeRequest", author="erin")
    clock.advance(31)
    assert yard.drain(seams).reworked == [mr.id]
    again = yard.bead(str(babysat(yard).rework_bead_id))
    assert "Use * here." in again["body"] and "Where is the test?" not in again["body"]


def test_the_push_takes_the_babysat_branch_and_nothing_else(yard: Yard) -> None:
    tip = run_git("rev-parse", "origin/trunk", cwd=yard.clone).strip()
    person_pushes(yard, "add-mul", {"calc.py": MUL})
    for spec, flags in (
        (f"{tip}:refs/heads/other", ()),
        (f"{tip}:refs/heads/add-mul-2", ()),
        (f"+{tip}:refs/heads/add-mul", ()),
        (":refs/heads/add-mul", ()),
        (f"{tip}:refs/tags/add-mul", ()),
        (f"{tip}:refs/heads/add-mul", ("--force",)),
    ):
        with pytest.raises(Refused):
            gm.push(yard.clone, "origin", [spec], *flags, target="trunk", pull_branch="add-mul")
    with pytest.raises(Refused):  # without the allowance, a person's branch is refused
        gm.push(yard.clone, "origin", [f"{tip}:refs/heads/add-mul"], target="trunk")


def test_slinging_a_closed_or_unknown_pull_request_writes_nothing(
    yard: Yard, github: FakeGitHub
) -> None:
    person_pushes(yard, "add-mul", {"calc.py": MUL})
    number = github.open_pull("add-mul", "trunk", "Add mul", user="dana")
    github.close(number)
    closed = yard.gt("sling", f"https://github.test/acme/app/pull/{number}")
    assert closed.code == 1 and "is closed" in closed.err
    missing = yard.gt("sling", "https://github.test/acme/app/pull/77")
    assert missing.code == 1 and TOKEN not in missing.err
    assert yard.gt.json("bead", "list") == []
