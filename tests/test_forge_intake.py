"""Issues in, landings out, against the fake GitHub and the fake GitLab over real HTTP: `gt sling
<issue URL>`, intake by label through the poller, and landing closing the loop (`Fixes #N` /
`Closes #N` in a pull request, or the issue closed with the landed commit)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gastown.clock import FakeClock
from gastown.forge.base import Forge
from gastown.forge.github import GitHubForge
from gastown.forge.gitlab import GitLabForge
from gastown.model import IN_PROGRESS
from gastown.refinery.step import Seams
from gastown.scripted.github import FakeGitHub
from gastown.scripted.gitlab import FakeGitLab
from gastown.services import beads, issues, triage
from gastown.services.intake import IntakePoller, take_issue
from gastown.services.ledger import Ledger
from gastown.town import load
from tests.builders import CALC, Yard, commit_all, make_remote
from tests.conftest import Gt, run_git

TOKEN = "forge-secret-token"


class Hub:
    """One fake forge behind the same few verbs, so each story runs on GitHub and GitLab."""

    def __init__(self, kind: str, fake: FakeGitHub | FakeGitLab, repo: str) -> None:
        self.kind, self.fake, self.repo = kind, fake, repo

    @property
    def settings(self) -> dict[str, str]:
        return {
            f"{self.kind}.repo": self.repo,
            f"{self.kind}.api_url": self.fake.url,
            f"{self.kind}.token": TOKEN,
        }

    def forge(self) -> Forge:
        if isinstance(self.fake, FakeGitHub):
            return GitHubForge(repo=self.repo, token=TOKEN, api_url=self.fake.url)
        return GitLabForge(self.repo, TOKEN, api_url=self.fake.url)

    def url(self, number: int, host: str | None = None) -> str:
        if self.kind == "github":
            return f"https://{host or 'github.com'}/{self.repo}/issues/{number}"
        return f"https://{host or 'gitlab.com'}/{self.repo}/-/issues/{number}"

    def pull_url(self, number: int) -> str:
        if self.kind == "github":
            return f"https://github.com/{self.repo}/pull/{number}"
        return f"https://gitlab.com/{self.repo}/-/merge_requests/{number}"

    def open_issue(self, title: str, body: str = "", labels: tuple[str, ...] = ()) -> int:
        if isinstance(self.fake, FakeGitHub):
            return self.fake.open_issue(self.repo, title, body, labels)
        return self.fake.open_issue(title, body, labels)

    def edit_issue(self, number: int, title: str) -> None:
        if isinstance(self.fake, FakeGitHub):
            self.fake.edit_issue(number, title=title)
        else:
            self.fake.edit_issue(number, title=title)

    def close_issue(self, number: int) -> None:
        self.fake.close_issue(number)

    def state(self, number: int) -> str:
        if isinstance(self.fake, FakeGitHub):
            return self.fake.issues[number].state
        return "closed" if self.fake.issues()[number].state == "closed" else "open"

    def comments(self, number: int) -> list[str]:
        if isinstance(self.fake, FakeGitHub):
            return [str(c["body"]) for c in self.fake.comments(number)]
        return [str(n["body"]) for n in self.fake.notes(number)]

    def counted(self) -> int:
        return self.fake.counted

    def not_modified(self) -> int:
        return self.fake.not_modified

    def exhaust(self, until: int) -> None:
        self.fake.rate_limited_until = until


def bare_repo(tmp: Path, branch: str = "main") -> Path:
    seed = tmp / "seed"
    seed.mkdir()
    run_git("init", "-q", "-b", branch, cwd=seed)
    (seed / "calc.py").write_text(CALC)
    commit_all(seed, "first")
    bare = tmp / "origin.git"
    run_git("clone", "-q", "--bare", str(seed), str(bare), cwd=tmp)
    return bare


@pytest.fixture(params=["github", "gitlab"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    bare = bare_repo(tmp_path)
    if request.param == "github":
        with FakeGitHub({"acme/app": bare}, token=TOKEN) as gh:
            yield Hub("github", gh, "acme/app")
    else:
        with FakeGitLab(projects={"acme/tools/app": bare}, token=TOKEN) as gl:
            yield Hub("gitlab", gl, "acme/tools/app")


@pytest.fixture
def town(tmp_path: Path, hub: Hub) -> Gt:
    """A town with rig `app` cloned from the fake forge's repository, connected to it."""
    path = tmp_path / "town"
    assert Gt(tmp_path)("init", str(path)).code == 0
    gt = Gt(path)
    gt.ok("rig", "add", "app", str(tmp_path / "origin.git"))
    for key, value in hub.settings.items():
        gt.ok("config", "set", key, value, "--rig", "app")
    return gt


def events(gt: Gt, kind: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = gt.json("events", "--limit", "0")
    return [e for e in found if kind is None or e["kind"] == kind]


def ledger_of(gt: Gt) -> Ledger:
    return Ledger(load(gt.cwd).open_store(), prefix="gt", actor="tester")


# --- gt sling <issue URL> -----------------------------------------------------------------


def test_sling_by_url_makes_one_linked_bead_and_names_it_on_the_issue(hub: Hub, town: Gt) -> None:
    number = hub.open_issue("Login redirects to a 404", "Steps: log in.", ("bug", "P1", "gastown"))

    slung = town.json("sling", hub.url(number))
    again = town("sling", hub.url(number))
    again_json = town.json("sling", hub.url(number))

    assert slung["created"] is True
    assert (slung["title"], slung["type"], slung["priority"]) == (
        "Login redirects to a 404",
        "bug",
        1,
    )
    assert (
        sorted(slung["labels"]) == ["P1", "bug", "gastown"]
        and slung["slung"]
        and slung["rig"] == "app"
    )
    assert slung["body"].startswith("Steps: log in.")
    assert (slung["issue"]["number"], slung["issue"]["repo"]) == (number, hub.repo)
    assert hub.comments(number) == [
        f"Gas Town is on it: bead {slung['id']} (Login redirects to a 404)."
    ]
    assert again.code == 0 and again.out.strip() == (
        f"Issue #{number} of {hub.repo} is bead {slung['id']} already (open)."
    )
    assert again_json["id"] == slung["id"] and again_json["created"] is False
    assert len(town.json("bead", "list")) == 1 and len(hub.comments(number)) == 1
    shown = town.json("bead", "show", slung["id"])
    assert shown["issue"]["number"] == number and shown["issue"]["forge"] == hub.kind
    assert f"issue: {shown['issue']['url']}" in town.ok("bead", "show", slung["id"]).out


def test_a_long_body_is_cut_to_the_bead_limit_and_says_so(hub: Hub, town: Gt) -> None:
    number = hub.open_issue("Huge log", "x" * 100_000)

    bead = town.json("sling", hub.url(number))

    assert len(bead["body"].encode()) <= 64 * 1024
    assert "cut to fit a bead's 64 kB" in bead["body"]


def test_bad_issue_urls_are_refused_in_one_sentence_and_write_nothing(hub: Hub, town: Gt) -> None:
    elsewhere = (
        Hub("gitlab", hub.fake, hub.repo).url(1)
        if hub.kind == "github"
        else hub.url(1, host="gitlab.example.org")
    )
    cases = [
        ("https://example.com/nothing/here", 2, "is not a GitHub or GitLab issue URL"),
        (Hub(hub.kind, hub.fake, "someone/else").url(1), 2, "No rig of this town has"),
        (elsewhere, 2, "another host than the rig's"),
        (hub.url(99), 1, "#99"),
    ]
    for url, code, words in cases:
        got = town("sling", url)
        assert got.code == code, (url, got.err)
        assert words in got.err, (url, got.err)
        assert len(got.err.strip().splitlines()) <= 2  # the sentence, and perhaps a hint
        assert TOKEN not in got.err
    town.ok("config", "unset", f"{hub.kind}.token", "--rig", "app")
    number = hub.open_issue("Crash")
    no_token = town("sling", hub.url(number))
    assert no_token.code == 1 and f"`{hub.kind}.token`" in no_token.err
    assert town.json("bead", "list") == [] and events(town, "bead.created") == []


def test_a_forge_that_is_down_leaves_nothing_behind(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    with FakeGitLab(projects={"acme/tools/app": bare}, token=TOKEN) as gl:
        hub = Hub("gitlab", gl, "acme/tools/app")
        path = tmp_path / "town"
        Gt(tmp_path).ok("init", str(path))
        gt = Gt(path)
        gt.ok("rig", "add", "app", str(bare))
        for key, value in hub.settings.items():
            gt.ok("config", "set", key, value, "--rig", "app")
        number = hub.open_issue("Crash")
        gl.failing_with = 502

        got = gt("sling", hub.url(number))

        assert got.code == 1 and "502" in got.err
        failure = gt("sling", hub.url(number), "--json")
        assert failure.code == 1 and json.loads(failure.err)["error"]["code"] == "forge_down"
        assert gt.json("bead", "list") == []


def test_a_failed_comment_is_an_event_and_the_bead_stands(hub: Hub, town: Gt) -> None:
    number = hub.open_issue("Crash")
    ledger = ledger_of(town)
    try:
        with ledger.store.reader() as tx:
            rig = tx.get_rig("app")
        assert rig is not None
        forge = hub.forge()
        issue = forge.get_issue(number)
        bead, link, created = issues.link_issue(ledger, rig, forge, issue)
        hub.exhaust(2_000_000_000)  # the forge refuses everything from now on
        assert created and not issues.announce(ledger, forge, bead, link)
    finally:
        ledger.store.close()
    assert [e["bead_id"] for e in events(town, "issue.comment_failed")] == [bead.id]


def test_priorities_and_types_come_from_labels() -> None:
    assert issues.priority_of(["P0"]) == 0
    assert issues.priority_of(["priority: high"]) == 1
    assert issues.priority_of(["priority::low", "p2"]) == 2
    assert issues.priority_of(["critical"]) == 0
    assert issues.priority_of(["high"]) == 2  # a bare word is no priority
    assert issues.priority_of(["bug"]) == 2
    assert issues.type_of(["bug"]) == "bug" and issues.type_of(["enhancement"]) == "feature"
    assert issues.type_of(["docs"]) == "task"


# --- intake through the poller ------------------------------------------------------------


def poller(town: Gt, now: list[float]) -> IntakePoller:
    return IntakePoller(load(town.cwd), {}, now=lambda: now[0])


def test_intake_takes_labelled_issues_and_follows_them_upstream(hub: Hub, town: Gt) -> None:
    clock = [1_000.0]
    intake = poller(town, clock)
    labelled = hub.open_issue("Crash on start", "Boom.", ("gastown", "P0"))
    hub.open_issue("Just a question")

    assert intake.poll_once() == {"app": "took 2"}  # both listed, the labelled one taken
    (bead,) = town.json("bead", "list")
    assert (bead["title"], bead["priority"], bead["slung"]) == ("Crash on start", 0, True)
    assert hub.comments(labelled) == [f"Gas Town is on it: bead {bead['id']} (Crash on start)."]

    clock[0] += 30  # not due yet: nothing is asked
    asked = hub.counted() + hub.not_modified()
    assert intake.poll_once() == {}
    assert hub.counted() + hub.not_modified() == asked

    written = len(events(town))
    polls = []
    for _ in range(3):  # from the last update seen (our comment is one) until it settles
        clock[0] += 60
        polls.append(intake.poll_once()["app"])
        if polls[-1] == "unchanged":
            break
    assert polls[-1] == "unchanged" and len(events(town)) == written  # nothing new, no event
    before = hub.not_modified()
    clock[0] += 60
    assert intake.poll_once() == {"app": "unchanged"} and hub.not_modified() == before + 1
    assert len(events(town)) == written

    # A new issue nobody labelled is news for the mayor's triage, told once; the one that
    # was there at the first look is backlog, not news.
    asked_later = hub.open_issue("Is there a dark mode?")
    for _ in range(2):
        clock[0] += 60
        intake.poll_once()
    seen = [e for e in events(town) if e["kind"] == "forge.issue_seen"]
    assert [e["after"]["number"] for e in seen] == [asked_later]
    # `gt triage` goes through the backlog too, once.
    ledger = ledger_of(town)
    try:
        told = [i.title for _, i in triage.look(ledger, load(town.cwd), {})]
        assert told == ["Just a question"] and triage.look(ledger, load(town.cwd), {}) == []
    finally:
        ledger.store.close()

    hub.edit_issue(labelled, "Crash on start (Linux only)")
    clock[0] += 60
    intake.poll_once()
    assert town.json("bead", "show", bead["id"])["title"] == "Crash on start (Linux only)"

    hub.close_issue(labelled)
    clock[0] += 60
    intake.poll_once()
    closed = town.json("bead", "show", bead["id"])
    assert closed["status"] == "closed" and "closed upstream" in closed["close_reason"]
    assert len(town.json("bead", "list")) == 1  # never a second bead for one issue


def test_an_issue_closed_upstream_while_its_bead_is_worked_holds_it(hub: Hub, town: Gt) -> None:
    number = hub.open_issue("Crash", labels=("gastown",))
    forge = hub.forge()
    town_record = load(town.cwd)
    ledger = ledger_of(town)
    try:
        with ledger.store.reader() as tx:
            rig = tx.get_rig("app")
        assert rig is not None
        bead = take_issue(ledger, town_record, rig, forge, forge.get_issue(number))
        assert bead is not None
        beads.update(ledger, bead.id, {"status": IN_PROGRESS})
        hub.close_issue(number)
        after = take_issue(ledger, town_record, rig, forge, forge.get_issue(number))
    finally:
        ledger.store.close()
    assert after is not None and after.status == IN_PROGRESS and after.held
    (note,) = events(town, "bead.issue_closed")
    assert "its work kept" in note["reason"]


def test_intake_off_with_an_empty_label_list(hub: Hub, town: Gt) -> None:
    town.ok("config", "set", "intake.labels", "[]")
    hub.open_issue("Crash", labels=("gastown",))
    assert poller(town, [1_000.0]).poll_once() == {}
    assert town.json("bead", "list") == []


def test_a_rate_limit_waits_for_its_reset_and_a_long_one_is_escalated(hub: Hub, town: Gt) -> None:
    clock = [1_000.0]
    intake = poller(town, clock)
    hub.open_issue("Crash", labels=("gastown",))
    reset = int(clock[0]) + 3600
    hub.exhaust(reset)

    assert intake.poll_once() == {"app": "rate limited"}
    assert intake.rigs["app"].due >= reset
    clock[0] += 600
    assert intake.poll_once() == {}  # waiting: the forge is not asked
    assert intake.poll_once() == {}
    (escalation,) = _escalations(town)
    assert "rate limit" in escalation["message"]

    hub.fake.rate_limited_until = None
    clock[0] = reset + 1
    assert intake.poll_once() == {"app": "took 1"}  # nothing was lost
    assert len(town.json("bead", "list")) == 1


def _escalations(gt: Gt) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = gt.json("escalations")
    return found


def test_a_forge_that_is_down_is_polled_again_with_backoff(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    with FakeGitLab(projects={"acme/tools/app": bare}, token=TOKEN) as gl:
        hub = Hub("gitlab", gl, "acme/tools/app")
        path = tmp_path / "town"
        Gt(tmp_path).ok("init", str(path))
        gt = Gt(path)
        gt.ok("rig", "add", "app", str(bare))
        for key, value in hub.settings.items():
            gt.ok("config", "set", key, value, "--rig", "app")
        clock = [1_000.0]
        intake = poller(gt, clock)
        hub.open_issue("Crash", labels=("gastown",))
        gl.failing_with = 503

        assert intake.poll_once() == {"app": "forge down"}
        first = intake.rigs["app"].due - clock[0]
        clock[0] += first
        assert intake.poll_once() == {"app": "forge down"}
        assert intake.rigs["app"].due - clock[0] == 2 * first

        gl.failing_with = None
        clock[0] = intake.rigs["app"].due
        assert intake.poll_once() == {"app": "took 1"}


# --- landing closes the loop --------------------------------------------------------------


@pytest.fixture
def trunk_hub(request: pytest.FixtureRequest, yard: Yard) -> Iterator[Hub]:
    kind = getattr(request, "param", "github")
    if kind == "github":
        with FakeGitHub({"acme/app": yard.remote}, token=TOKEN) as gh:
            yield Hub("github", gh, "acme/app")
    else:
        with FakeGitLab(projects={"acme/tools/app": yard.remote}, token=TOKEN) as gl:
            yield Hub("gitlab", gl, "acme/tools/app")


@pytest.fixture
def yard(tmp_path: Path) -> Yard:
    return Yard(tmp_path, make_remote(tmp_path))


def linked_submit(yard: Yard, hub: Hub, title: str) -> tuple[int, str, str]:
    """An issue, its bead (taken as `gt sling URL` takes it), and that bead's merge request."""
    number = hub.open_issue(title)
    ledger = yard.ledger()
    try:
        with ledger.store.reader() as tx:
            rig = tx.get_rig("app")
        assert rig is not None
        forge = hub.forge()
        bead, _, _ = issues.link_issue(ledger, rig, forge, forge.get_issue(number))
    finally:
        ledger.store.close()
    _, mr = yard.submit(title, {"NOTES.md": f"{title}\n"}, bead_id=bead.id)
    return number, bead.id, mr


@pytest.mark.parametrize("trunk_hub", ["github", "gitlab"], indirect=True)
def test_a_pull_request_names_the_issue_it_fixes(yard: Yard, trunk_hub: Hub) -> None:
    yard.gt.ok("config", "set", "merge_strategy", "pr")
    clock = FakeClock()
    seams = Seams(forge=lambda settings, rig: trunk_hub.forge(), clock=clock)
    number, _, mr = linked_submit(yard, trunk_hub, "Add notes")

    yard.drain(seams)

    got = yard.mr(mr)
    assert got.status == "pr" and got.pr_number is not None
    if isinstance(trunk_hub.fake, FakeGitHub):
        body = trunk_hub.fake.pulls[got.pr_number].body
        assert f"Fixes #{number}" in body
    else:
        body = trunk_hub.fake.merge_requests()[got.pr_number].description
        assert f"Closes #{number}" in body

    checked = len(events(yard.gt, "mr.pr_checked"))
    for _ in range(3):  # looking again at a pull request where nothing changed writes nothing
        clock.advance(120)
        yard.drain(seams)
    assert len(events(yard.gt, "mr.pr_checked")) == checked


@pytest.mark.parametrize("trunk_hub", ["github", "gitlab"], indirect=True)
def test_a_direct_landing_closes_the_issue_naming_the_commit(yard: Yard, trunk_hub: Hub) -> None:
    seams = Seams(forge=lambda settings, rig: trunk_hub.forge())
    number, bead, mr = linked_submit(yard, trunk_hub, "Add notes")

    assert yard.drain(seams).landed == [mr]

    commit = str(yard.mr(mr).merged_commit)
    assert trunk_hub.state(number) == "closed"
    assert any(commit in c for c in trunk_hub.comments(number))
    assert [e["bead_id"] for e in events(yard.gt, "issue.closed")] == [bead]


def test_a_forge_failing_after_a_landing_never_undoes_it(yard: Yard) -> None:
    with FakeGitHub({"acme/app": yard.remote}, token=TOKEN) as gh:
        hub = Hub("github", gh, "acme/app")
        seams = Seams(forge=lambda settings, rig: hub.forge())
        number, bead, mr = linked_submit(yard, hub, "Add notes")
        gh.exhaust_rate_limit(2_000_000_000)

        assert yard.drain(seams).landed == [mr]

        assert yard.bead(bead)["status"] == "closed" and yard.mr(mr).status == "merged"
        assert hub.state(number) == "open"
        assert len(events(yard.gt, "issue.close_failed")) == 1
        (escalation,) = _escalations(yard.gt)
        assert "Close the issue by hand" in escalation["message"]


def test_the_api_and_the_dashboard_link_the_issue(yard: Yard) -> None:
    from starlette.testclient import TestClient

    from gastown.web.api import create_app
    from tests.builders.web import Browser

    with FakeGitHub({"acme/app": yard.remote}, token=TOKEN) as gh:
        hub = Hub("github", gh, "acme/app")
        yard.gt.ok("config", "set", "merge_strategy", "pr")
        seams = Seams(forge=lambda settings, rig: hub.forge(), clock=FakeClock())
        number, bead, mr = linked_submit(yard, hub, "Add notes")
        yard.drain(seams)
        pull = yard.mr(mr).pr_url
        app = create_app(yard.town, "tok", "2026-01-01T00:00:00Z", environ={})
        with TestClient(app, follow_redirects=False) as client:
            api = client.get(f"/api/beads/{bead}", headers={"Authorization": "Bearer tok"})
            browser = Browser(client, yard.path)
            page = browser.get(f"/beads/{bead}").text
            merges = browser.get("/merges").text
    issue_url = f"https://github.test/acme/app/issues/{number}"
    assert api.json()["issue"]["url"] == issue_url
    assert f'href="{issue_url}"' in page and f'href="{pull}"' in page
    assert f'href="{issue_url}"' in merges and f'href="{pull}"' in merges
