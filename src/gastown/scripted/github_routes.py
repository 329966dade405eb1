"""The fake GitHub's repository endpoints: one function per route, each answering as GitHub
does (shapes, status codes, error bodies), over the state `FakeGitHub` keeps."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from gastown.scripted import github_shapes as shapes
from gastown.scripted.github_records import Answer, FakeIssue, FakePull, GitHubAnswer, _validation

if TYPE_CHECKING:
    from gastown.scripted.github import FakeGitHub

REVIEW_STATES = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def route(
    fake: FakeGitHub,
    method: str,
    repo: str,
    rest: str,
    path: str,
    query: dict[str, str],
    body: dict[str, Any],
) -> Answer:
    """Answer `method` on `/repos/{repo}{rest}`."""
    key = (method, rest)
    if key == ("GET", ""):
        return 200, shapes.repository(fake.url, repo, fake._stamp()), {}
    if key == ("GET", "/issues"):
        return _list_issues(fake, repo, path, query)
    if key == ("POST", "/issues"):
        return 201, _create_issue(fake, repo, body), {}
    if key == ("GET", "/labels"):
        page, links = fake.page(list(fake._labels[repo].values()), path, query)
        return 200, page, links
    if key == ("POST", "/labels"):
        return 201, _create_label(fake, repo, body), {}
    if key == ("GET", "/hooks"):
        return 200, [_hook_json(fake, h) for h in fake.hooks.hooks if h.repo == repo], {}
    if key == ("POST", "/hooks"):
        return 201, _create_hook(fake, repo, body), {}
    if key == ("GET", "/pulls"):
        return _list_pulls(fake, repo, path, query)
    if key == ("POST", "/pulls"):
        return 201, _create_pull(fake, repo, body), {}
    if m := re.fullmatch(r"/commits/([^/]+)/check-runs", rest):
        sha = fake.resolve(repo, m[1])
        if sha is None or method != "GET":
            raise GitHubAnswer(422, f"No commit found for SHA: {m[1]}")
        runs = fake._check_runs.get(sha, [])
        page, links = fake.page(runs, path, query)
        return 200, {"total_count": len(runs), "check_runs": page}, links
    m = re.fullmatch(r"/(pulls|issues)/(\d+)(/[a-z_]+)?", rest)
    if m is None:
        raise GitHubAnswer(404, "Not Found")
    number, tail = int(m[2]), m[3]
    target: FakeIssue | FakePull | None = fake._pulls.get(number) or fake._issues.get(number)
    if target is None or target.repo != repo or (m[1] == "pulls" and number not in fake._pulls):
        raise GitHubAnswer(404, "Not Found")
    if m[1] == "issues":
        return _issue_route(fake, method, target, tail, path, query, body)
    pull = fake._refresh(fake._pulls[number])
    route_ = (method, tail)
    if route_ == ("GET", None):
        return 200, fake.pull_json(pull, full=True), {}
    if route_ == ("PATCH", None):
        return 200, _update_pull(fake, pull, body), {}
    if route_ == ("PUT", "/merge"):
        return 200, _merge(fake, pull, body), {}
    if route_ == ("POST", "/reviews"):
        return 200, _post_review(fake, pull, body), {}
    listing = {
        ("GET", "/reviews"): fake._reviews,
        ("GET", "/comments"): fake._review_comments,
    }.get(route_)
    if listing is None:
        raise GitHubAnswer(404, "Not Found")
    page, links = fake.page(listing.get(number, []), path, query)
    return 200, page, links


# --- issues ------------------------------------------------------------------------------


def _list_issues(fake: FakeGitHub, repo: str, path: str, query: dict[str, str]) -> Answer:
    """Issues and pull requests, as GitHub lists them: newest first by default."""
    state = query.get("state", "open")
    wanted = {n.strip().lower() for n in query.get("labels", "").split(",") if n.strip()}
    since = query.get("since")
    sort, direction = query.get("sort", "created"), query.get("direction", "desc")
    every: list[FakeIssue | FakePull] = [*fake._issues.values(), *fake._pulls.values()]
    found = [
        t
        for t in every
        if t.repo == repo
        and state in ("all", t.state)
        and wanted <= {n.lower() for n in t.labels}
        and (since is None or (t.updated_at or t.created_at) >= _stamp(since))
    ]
    order = {
        "created": lambda t: (t.created_at, t.number),
        "updated": lambda t: (t.updated_at or t.created_at, t.number),
        "comments": lambda t: (len(fake._issue_comments.get(t.number, [])), t.number),
    }.get(sort, lambda t: (t.created_at, t.number))
    found.sort(key=order, reverse=direction != "asc")
    page, links = fake.page([fake.issue_json(t) for t in found], path, query)
    return 200, page, links


def _create_issue(fake: FakeGitHub, repo: str, body: dict[str, Any]) -> dict[str, Any]:
    title = body.get("title")
    if not isinstance(title, (str, int)) or not str(title):
        raise _validation("Issue", {"field": "title", "code": "missing_field"})
    labels = [str(n if isinstance(n, str) else n.get("name")) for n in body.get("labels") or []]
    issue = fake._new_issue(repo, str(title), str(body.get("body") or ""), labels, fake.login)
    fake.queue(repo, "issues", "opened", issue.number)
    return fake.issue_json(issue)


def _issue_route(
    fake: FakeGitHub,
    method: str,
    target: FakeIssue | FakePull,
    tail: str | None,
    path: str,
    query: dict[str, str],
    body: dict[str, Any],
) -> Answer:
    kind = "pull_request" if target.number in fake._pulls else "issues"
    if (method, tail) == ("GET", None):
        return 200, fake.issue_json(target), {}
    if (method, tail) == ("PATCH", None):
        if "title" in body:
            target.title = str(body["title"])
        if "body" in body:
            target.body = str(body["body"] or "")
        state = body.get("state")
        if state not in (None, "open", "closed"):
            raise _validation("Issue", {"field": "state", "code": "invalid"})
        changed = state is not None and state != target.state
        if changed:
            fake._set_issue_state(target, str(state), str(body.get("state_reason") or "completed"))
        else:
            target.updated_at = fake._stamp()
        action = ("closed" if state == "closed" else "reopened") if changed else "edited"
        fake.queue(target.repo, kind, action, target.number)
        return 200, fake.issue_json(target), {}
    if (method, tail) == ("GET", "/comments"):
        page, links = fake.page(fake._issue_comments.get(target.number, []), path, query)
        return 200, page, links
    if (method, tail) == ("POST", "/comments"):
        text = body.get("body")
        if not isinstance(text, str) or not text:
            raise _validation("IssueComment", {"field": "body", "code": "missing_field"})
        ident = fake._store_comment(target, text, fake.login)
        return 201, fake._issue_comments[target.number][-1] | {"id": ident}, {}
    if (method, tail) == ("GET", "/labels"):
        return 200, [fake._label(target.repo, n) for n in target.labels], {}
    if (method, tail) == ("POST", "/labels"):
        names = body.get("labels")
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise _validation("Label", {"field": "labels", "code": "invalid"})
        new = [n for n in names if n.lower() not in {x.lower() for x in target.labels}]
        fake._add_labels(target, names)
        for name in new:
            fake.queue(target.repo, kind, "labeled", target.number, label=name)
        return 200, [fake._label(target.repo, n) for n in target.labels], {}
    raise GitHubAnswer(404, "Not Found")


def _create_label(fake: FakeGitHub, repo: str, body: dict[str, Any]) -> dict[str, Any]:
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise _validation("Label", {"field": "name", "code": "missing_field"})
    if any(n.lower() == name.lower() for n in fake._labels[repo]):
        raise _validation("Label", {"field": "name", "code": "already_exists"})
    color = str(body.get("color") or "ededed").lstrip("#")
    return fake._label(repo, name, color, body.get("description"))


# --- hooks -------------------------------------------------------------------------------


def _create_hook(fake: FakeGitHub, repo: str, body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("config") or {}
    url = config.get("url") if isinstance(config, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise _validation("Hook", {"field": "config.url", "code": "invalid"})
    events = body.get("events") or ["push"]
    ident = fake.add_hook(repo, url, str(config.get("secret") or ""), events)
    return _hook_json(fake, fake.hooks.hooks[-1]) | {"id": ident}


def _hook_json(fake: FakeGitHub, hook: Any) -> dict[str, Any]:
    api, stamp = f"{fake.url}/repos/{hook.repo}/hooks/{hook.id}", fake._stamp()
    return {
        "type": "Repository",
        "id": hook.id,
        "name": "web",
        "active": True,
        "events": list(hook.events),
        "config": {"url": hook.url, "content_type": "json", "insecure_ssl": "0"},
        "updated_at": stamp,
        "created_at": stamp,
        "url": api,
        "test_url": f"{api}/test",
        "ping_url": f"{api}/pings",
        "deliveries_url": f"{api}/deliveries",
        "last_response": {"code": None, "status": "unused", "message": None},
    }


# --- pull requests -----------------------------------------------------------------------


def _list_pulls(fake: FakeGitHub, repo: str, path: str, query: dict[str, str]) -> Answer:
    state = query.get("state", "open")
    head, base = query.get("head"), query.get("base")
    owner = repo.partition("/")[0]
    found = [
        fake.pull_json(fake._refresh(p), full=False)
        for p in sorted(fake._pulls.values(), key=lambda p: -p.number)
        if p.repo == repo
        and state in ("all", p.state)
        and (head is None or head in (f"{owner}:{p.head}", p.head))
        and (base is None or base == p.base)
    ]
    page, links = fake.page(found, path, query)
    return 200, page, links


def _create_pull(fake: FakeGitHub, repo: str, body: dict[str, Any]) -> dict[str, Any]:
    owner = repo.partition("/")[0]
    title, head, base = body.get("title"), body.get("head"), body.get("base")
    if not isinstance(title, str) or not title:
        raise _validation("PullRequest", {"field": "title", "code": "missing_field"})
    for name, value in (("head", head), ("base", base)):
        if not isinstance(value, str) or not value:
            raise _validation("PullRequest", {"field": name, "code": "missing_field"})
    assert isinstance(head, str) and isinstance(base, str)
    head = head.removeprefix(f"{owner}:")
    head_sha, base_sha = fake.resolve(repo, head), fake.resolve(repo, base)
    if base_sha is None:
        raise _validation("PullRequest", {"field": "base", "code": "invalid"})
    if head_sha is None:
        raise _validation("PullRequest", {"field": "head", "code": "invalid"})
    for other in fake._pulls.values():
        if (other.repo, other.state, other.head, other.base) == (repo, "open", head, base):
            message = f"A pull request already exists for {owner}:{head}."
            raise _validation("PullRequest", {"code": "custom", "message": message})
    if fake.git(repo, "merge-base", "--is-ancestor", head_sha, base_sha).returncode == 0:
        raise _validation(
            "PullRequest", {"code": "custom", "message": f"No commits between {base} and {head}"}
        )
    stamp = fake._stamp()
    pull = FakePull(
        number=fake._next_number(),
        repo=repo,
        title=title,
        body=str(body.get("body") or ""),
        head=head,
        base=base,
        user=fake.login,
        created_at=stamp,
        updated_at=stamp,
        head_sha=head_sha,
        base_sha=base_sha,
    )
    fake._pulls[pull.number] = fake._refresh(pull)
    fake.queue(repo, "pull_request", "opened", pull.number)
    # GitHub works mergeability out after answering; a fresh pull request does not know it.
    return {**fake.pull_json(pull, full=True), "mergeable": None, "mergeable_state": "unknown"}


def _update_pull(fake: FakeGitHub, pull: FakePull, body: dict[str, Any]) -> dict[str, Any]:
    if "title" in body:
        pull.title = str(body["title"])
    if "body" in body:
        pull.body = str(body["body"] or "")
    state = body.get("state")
    if state == "closed" and pull.state == "open":
        pull.state, pull.closed_at = "closed", fake._stamp()
        fake.queue(pull.repo, "pull_request", "closed", pull.number)
    elif state == "open" and pull.state == "closed" and not pull.merged:
        pull.state, pull.closed_at = "open", None
        fake._refresh(pull)
        fake.queue(pull.repo, "pull_request", "reopened", pull.number)
    elif state not in (None, "open", "closed"):
        raise _validation("PullRequest", {"field": "state", "code": "invalid"})
    pull.updated_at = fake._stamp()
    return fake.pull_json(pull, full=True)


def _merge(fake: FakeGitHub, pull: FakePull, body: dict[str, Any]) -> dict[str, Any]:
    method = body.get("merge_method", "merge")
    if method not in ("merge", "squash", "rebase"):
        raise _validation("PullRequest", {"field": "merge_method", "code": "invalid"})
    if method == "rebase":
        raise GitHubAnswer(405, "Rebase merges are not allowed on this repository.")
    if pull.state != "open":
        raise GitHubAnswer(405, "Pull Request is not mergeable")
    if body.get("sha") not in (None, pull.head_sha):
        raise GitHubAnswer(409, "Head branch was modified. Review and try the merge again.")
    blocker = fake._blocker(pull)
    if blocker is not None:
        raise GitHubAnswer(405, blocker)
    sha, fixed = fake._merge(pull, fake._merge_tree(pull) or "", method, by=fake.login)
    fake.queue(pull.repo, "pull_request", "closed", pull.number)
    for number in fixed:
        fake.queue(pull.repo, "issues", "closed", number)
    return {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}


def _post_review(fake: FakeGitHub, pull: FakePull, body: dict[str, Any]) -> dict[str, Any]:
    """A submitted review with comments on lines of the diff, refused as GitHub refuses: a
    line outside the diff, a path the diff does not touch, approving one's own change."""
    event = body.get("event")
    if event not in REVIEW_STATES:
        raise GitHubAnswer(422, "Unprocessable Entity", ["Event is invalid"])
    if event != "COMMENT" and pull.user == fake.login:
        verb = "approve" if event == "APPROVE" else "request changes on"
        raise GitHubAnswer(
            422,
            "Unprocessable Entity",
            [f"Can not {verb} your own pull request"],
        )
    if event != "APPROVE" and not body.get("body") and not body.get("comments"):
        raise GitHubAnswer(422, "Unprocessable Entity", ["Review body is required"])
    commit = str(body.get("commit_id") or pull.head_sha)
    comments = body.get("comments") or []
    for comment in comments:
        problem = _line_problem(fake, pull, commit, comment)
        if problem is not None:
            raise GitHubAnswer(422, "Unprocessable Entity", [problem])
    review_id = fake._store_review(
        pull, REVIEW_STATES[event], str(body.get("body") or ""), comments, fake.login, commit
    )
    fake.queue(pull.repo, "pull_request", "review_submitted", pull.number)
    return next(r for r in fake._reviews[pull.number] if r["id"] == review_id)


def _line_problem(
    fake: FakeGitHub, pull: FakePull, commit: str, comment: dict[str, Any]
) -> str | None:
    """Why GitHub would refuse a line comment, or None: the path must be in the pull
    request's diff and the line inside one of its hunks on the new side."""
    path, line = comment.get("path"), comment.get("line")
    if not isinstance(path, str) or not isinstance(line, int) or not comment.get("body"):
        return "Path, line and body are required for each comment"
    if comment.get("side", "RIGHT") != "RIGHT":
        return None
    diff = fake.git(pull.repo, "diff", "--unified=3", f"{pull.base_sha}...{commit}", "--", path)
    if diff.returncode != 0 or not diff.stdout:
        return "Path could not be resolved"
    for start, count in _HUNK.findall(diff.stdout):
        first = int(start)
        if first <= line < first + int(count or 1):
            return None
    return "Pull request review thread line must be part of the diff"


def _stamp(since: str) -> str:
    """`since` as the fake's own stamps are written, so they compare as text."""
    return since.replace("+00:00", "Z").split(".")[0].rstrip("Z") + "Z"
