"""The fake GitLab's project routes: `/api/v4/projects/:id/...`, one small function each.

issues                      GET list (labels, state, updated_after, order_by, sort), POST
issues/:iid                 GET, PUT (title, description, labels, add_labels,
                            remove_labels, state_event)
issues/:iid/notes           GET, POST
labels                      GET, POST
merge_requests              GET list (state, source_branch, target_branch), POST
merge_requests/:iid         GET, PUT (title, description, state_event)
merge_requests/:iid/merge   PUT (sha, squash, merge_commit_message)
merge_requests/:iid/notes   GET, POST
merge_requests/:iid/discussions   GET, POST (a `position` makes it a diff discussion)
merge_requests/:iid/approvals     GET;  .../approve POST (sha)
pipelines                   GET (sha, ref);  pipelines/:id GET;  pipelines/:id/jobs GET
"""

from __future__ import annotations

import re
import urllib.parse
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gastown.scripted import gitlab_json as shape
from gastown.scripted.gitlab_json import Answer, FakeMergeRequest, FakeProject, GitLabAnswer

if TYPE_CHECKING:
    from gastown.scripted.gitlab import FakeGitLab

Params = dict[str, Any]


def route(fake: FakeGitLab, p: FakeProject, method: str, rest: str, q: Params, path: str) -> Answer:
    """Answer `method` on `rest` (the path after the project) of project `p`."""
    if rest == "/issues":
        if method == "POST":
            return 201, shape.issue(p, _create_issue(fake, p, q)), {}
        return _list_issues(fake, p, q, path)
    if rest == "/labels":
        if method == "POST":
            return 201, _create_label(fake, p, q), {}
        return _page(fake, [p.labels[n] for n in sorted(p.labels)], q, path)
    if rest == "/merge_requests":
        if method == "POST":
            return 201, _create_mr(fake, p, q), {}
        return _list_mrs(fake, p, q, path)
    if rest == "/pipelines":
        found = [
            shape.pipeline(x)
            for x in reversed(p.pipelines)
            if q.get("sha") in (None, x["sha"]) and q.get("ref") in (None, x["ref"])
        ]
        return _page(fake, found, q, path)
    if m := re.fullmatch(r"/pipelines/(\d+)(/jobs)?", rest):
        run = next((x for x in p.pipelines if x["id"] == int(m[1])), None)
        if run is None:
            raise shape.missing("Pipeline")
        if m[2] is None:
            return 200, shape.pipeline(run), {}
        return _page(fake, [shape.job(run, j) for j in run["jobs"]], q, path)
    if m := re.fullmatch(r"/issues/(\d+)(/notes)?", rest):
        issue = fake._issue(p, int(m[1]))
        if m[2]:
            return _notes(fake, p, "Issue", issue.iid, method, q, path)
        if method == "PUT":
            issue = fake._update_issue(p, issue, q, fake.username)
        return 200, shape.issue(p, issue), {}
    if m := re.fullmatch(r"/merge_requests/(\d+)(/[a-z_]+)?", rest):
        mr = fake._refresh(p, fake._mr(p, int(m[1])))
        return _mr_route(fake, p, mr, method, m[2] or "", q, path)
    raise GitLabAnswer(404, "404 Not Found", key="error")


def _mr_route(
    fake: FakeGitLab,
    p: FakeProject,
    mr: FakeMergeRequest,
    method: str,
    what: str,
    q: Params,
    path: str,
) -> Answer:
    if what == "" and method == "PUT":
        _update_mr(fake, p, mr, q)
    if what == "":
        return 200, shape.merge_request(p, mr, fake._status(p, mr), full=True), {}
    if what == "/merge" and method == "PUT":
        return 200, _merge(fake, p, mr, q), {}
    if what == "/notes":
        return _notes(fake, p, "MergeRequest", mr.iid, method, q, path)
    if what == "/discussions" and method == "POST":
        return 201, _discuss(fake, p, mr, q), {}
    if what == "/discussions":
        found = shape.discussions(p.notes.get(("MergeRequest", mr.iid), []))
        return _page(fake, found, q, path)
    if what == "/approvals":
        by = p.approvals.get(mr.iid, [])
        return 200, shape.approvals(p, mr, fake._status(p, mr), by), {}
    if what == "/approve" and method == "POST":
        fake._approve(p, mr, fake.username, q.get("sha"))
        by = p.approvals.get(mr.iid, [])
        return 201, shape.approvals(p, mr, fake._status(p, mr), by), {}
    raise GitLabAnswer(404, "404 Not Found", key="error")


# --- issues and labels ------------------------------------------------------------------


def _create_issue(fake: FakeGitLab, p: FakeProject, q: Params) -> Any:
    title = q.get("title")
    if not isinstance(title, str) or not title.strip():
        raise GitLabAnswer(400, "title is missing", key="error")
    labels = shape_names(q.get("labels"))
    return fake._create_issue(p, title, str(q.get("description") or ""), labels, fake.username)


def _list_issues(fake: FakeGitLab, p: FakeProject, q: Params, path: str) -> Answer:
    state = q.get("state", "all")
    if state not in ("opened", "closed", "all"):
        raise GitLabAnswer(400, "state does not have a valid value", key="error")
    wanted = set(shape_names(q.get("labels")))
    after = _when(q["updated_after"]) if q.get("updated_after") else None
    order = q.get("order_by", "created_at")
    if order not in ("created_at", "updated_at"):
        raise GitLabAnswer(400, "order_by does not have a valid value", key="error")
    found = [
        i
        for i in p.issues.values()
        if state in ("all", i.state)
        and wanted <= set(i.labels)
        and (after is None or _when(i.updated_at) >= after)
    ]
    found.sort(key=lambda i: (getattr(i, order), i.iid), reverse=q.get("sort", "desc") == "desc")
    return _page(fake, [shape.issue(p, i) for i in found], q, path)


def _create_label(fake: FakeGitLab, p: FakeProject, q: Params) -> dict[str, Any]:
    name = str(q.get("name") or "").strip()
    if not name:
        raise GitLabAnswer(400, "name is missing", key="error")
    if name in p.labels:
        raise GitLabAnswer(409, "Label already exists")
    return fake._ensure_label(p, name) | {"color": str(q.get("color") or "#6699cc")}


def _notes(
    fake: FakeGitLab, p: FakeProject, on: str, iid: int, method: str, q: Params, path: str
) -> Answer:
    if method == "POST":
        body = q.get("body")
        if not isinstance(body, str) or not body.strip():
            raise GitLabAnswer(400, "body is missing", key="error")
        return 201, shape.public_note(fake._add_note(p, on, iid, body, fake.username)), {}
    notes = [shape.public_note(n) for n in p.notes.get((on, iid), [])]
    if q.get("sort", "desc") == "desc":
        notes.reverse()
    return _page(fake, notes, q, path)


# --- merge requests ---------------------------------------------------------------------


def _create_mr(fake: FakeGitLab, p: FakeProject, q: Params) -> dict[str, Any]:
    source, target, title = q.get("source_branch"), q.get("target_branch"), q.get("title")
    for name, value in (("source_branch", source), ("target_branch", target), ("title", title)):
        if not isinstance(value, str) or not value:
            raise GitLabAnswer(400, f"{name} is missing", key="error")
    assert isinstance(source, str) and isinstance(target, str) and isinstance(title, str)
    for branch, kind in ((source, "Source"), (target, "Target")):
        if fake._resolve(p, f"refs/heads/{branch}") is None:
            raise GitLabAnswer(422, [f'{kind} branch "{branch}" does not exist'])
    for other in p.merge_requests.values():
        if (other.state, other.source_branch, other.target_branch) == ("opened", source, target):
            message = (
                f"Another open merge request already exists for this source branch: !{other.iid}"
            )
            raise GitLabAnswer(409, [message])
    stamp = fake._stamp()
    draft = title.lower().startswith(("draft:", "[draft]", "(draft)"))
    mr = FakeMergeRequest(
        id=fake._new_id(),
        iid=max(p.merge_requests, default=0) + 1,
        title=title,
        description=str(q.get("description") or ""),
        source_branch=source,
        target_branch=target,
        author=fake.username,
        created_at=stamp,
        updated_at=stamp,
        draft=draft,
    )
    p.merge_requests[mr.iid] = fake._refresh(p, mr)
    fake._mr_hook(p, mr, "open", fake.username)
    # GitLab works mergeability out after answering; a fresh merge request does not know it.
    return shape.merge_request(p, mr, ("checking", "checking"), full=True)


def _list_mrs(fake: FakeGitLab, p: FakeProject, q: Params, path: str) -> Answer:
    state = q.get("state", "all")
    found = [
        shape.merge_request(p, fake._refresh(p, mr), fake._status(p, mr), full=False)
        for mr in sorted(p.merge_requests.values(), key=lambda mr: -mr.iid)
        if state in ("all", mr.state)
        and q.get("source_branch") in (None, mr.source_branch)
        and q.get("target_branch") in (None, mr.target_branch)
    ]
    return _page(fake, found, q, path)


def _update_mr(fake: FakeGitLab, p: FakeProject, mr: FakeMergeRequest, q: Params) -> None:
    if q.get("title") is not None:
        mr.title = str(q["title"])
    if q.get("description") is not None:
        mr.description = str(q["description"])
    action = "update"
    if q.get("state_event") == "close" and mr.state == "opened":
        mr.state, mr.closed_at, mr.closed_by, action = (
            "closed",
            fake._stamp(),
            fake.username,
            "close",
        )
    elif q.get("state_event") == "reopen" and mr.state == "closed":
        mr.state, mr.closed_at, mr.closed_by, action = "opened", None, None, "reopen"
        fake._refresh(p, mr)
    mr.updated_at = fake._stamp()
    fake._mr_hook(p, mr, action, fake.username)


def _merge(fake: FakeGitLab, p: FakeProject, mr: FakeMergeRequest, q: Params) -> dict[str, Any]:
    if mr.state != "opened" or mr.draft:
        raise GitLabAnswer(405, "405 Method Not Allowed")
    if q.get("sha") not in (None, mr.head_sha):
        raise GitLabAnswer(409, f"SHA does not match HEAD of source branch: {mr.head_sha}")
    status = fake._status(p, mr)[1]
    if status == "conflict":
        raise GitLabAnswer(406, "Branch cannot be merged")
    if status != "mergeable":
        raise GitLabAnswer(405, "405 Method Not Allowed")
    squash = q.get("squash") in (True, "true")
    fake._merge(p, mr, squash, str(q.get("merge_commit_message") or ""))
    return shape.merge_request(p, mr, fake._status(p, mr), full=True)


def _discuss(fake: FakeGitLab, p: FakeProject, mr: FakeMergeRequest, q: Params) -> dict[str, Any]:
    body = q.get("body")
    if not isinstance(body, str) or not body.strip():
        raise GitLabAnswer(400, "body is missing", key="error")
    position = q.get("position")
    if position is not None:
        position = _position(fake, p, mr, position)
    made = fake._add_note(p, "MergeRequest", mr.iid, body, fake.username, position)
    return shape.discussions([made])[0]


def _position(fake: FakeGitLab, p: FakeProject, mr: FakeMergeRequest, given: Any) -> Params:
    """A diff position GitLab would take: the current diff refs, a changed file, a line of it."""
    bad = GitLabAnswer(
        400,
        '400 Bad request - Note {:line_code=>["can\'t be blank", "must be a valid line code"]}',
    )
    if not isinstance(given, dict) or given.get("position_type", "text") != "text":
        raise bad
    refs = {"base_sha": mr.base_sha, "start_sha": mr.target_sha, "head_sha": mr.head_sha}
    if any(given.get(k) != v for k, v in refs.items()):
        raise bad
    new_path, new_line = given.get("new_path"), given.get("new_line")
    changed = fake._run(p, "diff", "--name-only", mr.base_sha, mr.head_sha).stdout.split("\n")
    if new_path not in changed:
        raise bad
    shown = fake._run(p, "show", f"{mr.head_sha}:{new_path}")
    try:
        line = int(new_line) if new_line is not None else None
    except (TypeError, ValueError):
        raise bad from None
    if shown.returncode != 0 or line is None or not 1 <= line <= len(shown.stdout.splitlines()):
        raise bad
    return {
        **refs,
        "position_type": "text",
        "old_path": str(given.get("old_path") or new_path),
        "new_path": new_path,
        "old_line": given.get("old_line"),
        "new_line": line,
        "line_range": None,
    }


# --- shared -----------------------------------------------------------------------------


def shape_names(value: Any) -> list[str]:
    """Labels as the API takes them: a comma-separated string or a list."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(i).strip() for i in items if str(i).strip()]


def _when(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GitLabAnswer(400, "updated_after is invalid", key="error") from None


def _page(fake: FakeGitLab, items: list[Any], q: Params, path: str) -> Answer:
    """One page and GitLab's offset-pagination headers (20 a page unless asked)."""
    try:
        per_page = min(max(int(q.get("per_page", 20)), 1), 100)
        page = max(int(q.get("page", 1)), 1)
    except ValueError:
        raise GitLabAnswer(400, "page is invalid", key="error") from None
    pages = max((len(items) + per_page - 1) // per_page, 1)

    def link(n: int, rel: str) -> str:
        query = urllib.parse.urlencode({**q, "page": n, "per_page": per_page})
        return f'<{fake.url}{path}?{query}>; rel="{rel}"'

    links = [link(page - 1, "prev")] if page > 1 else []
    links += [link(page + 1, "next")] if page < pages else []
    links += [link(1, "first"), link(pages, "last")]
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "X-Total": str(len(items)),
        "X-Total-Pages": str(pages),
        "Link": ", ".join(links),
    }
    return 200, items[(page - 1) * per_page : page * per_page], headers
