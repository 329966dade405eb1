"""The fake GitLab's records and the JSON shapes GitLab's REST API v4 and webhooks give them.

Field names are GitLab's own (https://docs.gitlab.com/api/issues/, merge_requests/, notes/,
discussions/, pipelines/, jobs/, merge_request_approvals/, user/project/integrations/
webhook_events/); fields the town never reads are filled with GitLab's usual empty values
so a client that does read them finds the right type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gastown.record import Record, field

HTML_HOST = "https://gitlab.test"
"""Where the fake's web pages would be: issue and merge request `web_url`s start here."""


Answer = tuple[int, Any, dict[str, str]]
"""HTTP status, body (JSON, or text when a str, or nothing when None), extra headers."""


class GitLabAnswer(Exception):
    """An error answer, raised from inside a route and sent as GitLab would."""

    def __init__(self, status: int, message: Any, *, key: str = "message", body: Any = None):
        super().__init__(str(message))
        self.status = status
        self.body: Any = {key: message} if body is None else body


def missing(what: str) -> GitLabAnswer:
    """GitLab's 404: `{"message": "404 Issue Not Found"}`."""
    return GitLabAnswer(404, f"404 {what} Not Found")


class FakeIssue(Record):
    id: int
    """GitLab's global id."""
    iid: int
    """Its number within the project (the `#N` people write)."""
    title: str
    """Its title."""
    description: str
    """Its description."""
    author: str
    """Who opened it (a username)."""
    created_at: str
    """When it was opened (ISO 8601, milliseconds, Z)."""
    updated_at: str
    """When it last changed."""
    labels: list[str] = field(default_factory=list)
    """Its labels' names."""
    state: str = "opened"
    """`opened` or `closed`, as GitLab spells them."""
    closed_at: str | None = None
    """When it was closed, while it is."""
    closed_by: str | None = None
    """Who closed it (a username), while it is."""


class FakeMergeRequest(Record):
    id: int
    """GitLab's global id."""
    iid: int
    """Its number within the project (the `#N` people write)."""
    title: str
    """Its title."""
    description: str
    """Its description."""
    source_branch: str
    """The branch it brings in."""
    target_branch: str
    """The branch it goes into."""
    author: str
    """Who opened it (a username)."""
    created_at: str
    """When it was opened (ISO 8601, milliseconds, Z)."""
    updated_at: str
    """When it last changed."""
    state: str = "opened"
    """`opened`, `closed` or `merged`."""
    draft: bool = False
    """Whether it is marked as a draft."""
    head_sha: str = ""
    """The source branch tip when last looked at; frozen once the merge request is closed."""
    target_sha: str = ""
    """The target branch tip when last looked at."""
    base_sha: str = ""
    """The merge base of source and target (GitLab's `diff_refs.base_sha`)."""
    merged_at: str | None = None
    """When it was merged."""
    merged_by: str | None = None
    """Who merged it (a username)."""
    merge_commit_sha: str | None = None
    """The merge commit it made on the target, if any."""
    squash_commit_sha: str | None = None
    """The squashed commit it made on the target, if squashed."""
    closed_at: str | None = None
    """When it was closed, while it is."""
    closed_by: str | None = None
    """Who closed it (a username), while it is."""


class FakeProject(Record):
    id: int
    """GitLab's id of the project."""
    path: str
    """The full path, groups included: `acme/tools/app`."""
    git_dir: Path
    """The bare repository behind it."""
    default_branch: str = "main"
    """The branch new merge requests target by default."""
    issues: dict[int, FakeIssue] = field(default_factory=dict)
    """Its issues by iid."""
    merge_requests: dict[int, FakeMergeRequest] = field(default_factory=dict)
    """Its merge requests by iid."""
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Its labels by name, in GitLab's shape."""
    notes: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    """Notes by (`Issue` or `MergeRequest`, iid), oldest first; diff notes included."""
    approvals: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Approvals by merge request iid: who approved (in GitLab's shape) and when."""
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    """Each with its `jobs`, oldest first."""


def user(username: str) -> dict[str, Any]:
    """A user as GitLab embeds one (`author`, `merged_by`, ...)."""
    return {
        "id": 1 + sum(ord(c) for c in username),
        "username": username,
        "name": username.title(),
        "state": "active",
        "locked": False,
        "avatar_url": None,
        "web_url": f"{HTML_HOST}/{username}",
    }


def project(p: FakeProject, api_url: str) -> dict[str, Any]:
    """The project in GitLab's JSON shape."""
    namespace, _, name = p.path.rpartition("/")
    return {
        "id": p.id,
        "name": name,
        "path": name,
        "path_with_namespace": p.path,
        "name_with_namespace": p.path.replace("/", " / "),
        "namespace": {"full_path": namespace, "path": namespace.rpartition("/")[2]},
        "default_branch": p.default_branch,
        "web_url": f"{HTML_HOST}/{p.path}",
        "http_url_to_repo": f"{HTML_HOST}/{p.path}.git",
        "ssh_url_to_repo": f"git@gitlab.test:{p.path}.git",
        "visibility": "private",
        "_links": {"self": f"{api_url}/api/v4/projects/{p.id}"},
    }


def issue(p: FakeProject, i: FakeIssue) -> dict[str, Any]:
    """The issue in GitLab's JSON shape."""
    notes = p.notes.get(("Issue", i.iid), [])
    return {
        "id": i.id,
        "iid": i.iid,
        "project_id": p.id,
        "title": i.title,
        "description": i.description,
        "state": i.state,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_at": i.closed_at,
        "closed_by": user(i.closed_by) if i.closed_by else None,
        "labels": sorted(i.labels),
        "milestone": None,
        "assignees": [],
        "assignee": None,
        "author": user(i.author),
        "type": "ISSUE",
        "issue_type": "issue",
        "user_notes_count": sum(1 for n in notes if not n["system"]),
        "merge_requests_count": 0,
        "upvotes": 0,
        "downvotes": 0,
        "due_date": None,
        "confidential": False,
        "discussion_locked": None,
        "web_url": f"{HTML_HOST}/{p.path}/-/issues/{i.iid}",
        "references": {"short": f"#{i.iid}", "relative": f"#{i.iid}", "full": f"{p.path}#{i.iid}"},
        "task_completion_status": {"count": 0, "completed_count": 0},
    }


def merge_request(
    p: FakeProject, mr: FakeMergeRequest, status: tuple[str, str], *, full: bool
) -> dict[str, Any]:
    """A merge request; `status` is (`merge_status`, `detailed_merge_status`). The single
    view (`full`) adds `diff_refs`, `head_pipeline` and the counts GitLab adds there."""
    notes = p.notes.get(("MergeRequest", mr.iid), [])
    out: dict[str, Any] = {
        "id": mr.id,
        "iid": mr.iid,
        "project_id": p.id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "merged_by": user(mr.merged_by) if mr.merged_by else None,
        "merge_user": user(mr.merged_by) if mr.merged_by else None,
        "merged_at": mr.merged_at,
        "closed_by": user(mr.closed_by) if mr.closed_by else None,
        "closed_at": mr.closed_at,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "source_project_id": p.id,
        "target_project_id": p.id,
        "author": user(mr.author),
        "assignees": [],
        "reviewers": [],
        "labels": [],
        "draft": mr.draft,
        "work_in_progress": mr.draft,
        "milestone": None,
        "merge_when_pipeline_succeeds": False,
        "merge_status": status[0],
        "detailed_merge_status": status[1],
        "has_conflicts": status[1] == "conflict",
        "blocking_discussions_resolved": True,
        "sha": mr.head_sha,
        "merge_commit_sha": mr.merge_commit_sha,
        "squash_commit_sha": mr.squash_commit_sha,
        "squash": False,
        "user_notes_count": sum(1 for n in notes if not n["system"]),
        "upvotes": 0,
        "downvotes": 0,
        "discussion_locked": None,
        "should_remove_source_branch": None,
        "force_remove_source_branch": False,
        "reference": f"!{mr.iid}",
        "references": {
            "short": f"!{mr.iid}",
            "relative": f"!{mr.iid}",
            "full": f"{p.path}!{mr.iid}",
        },
        "web_url": f"{HTML_HOST}/{p.path}/-/merge_requests/{mr.iid}",
    }
    if full:
        head = [x for x in p.pipelines if x["sha"] == mr.head_sha]
        out |= {
            "diff_refs": {
                "base_sha": mr.base_sha,
                "head_sha": mr.head_sha,
                "start_sha": mr.target_sha,
            },
            "head_pipeline": pipeline(head[-1]) if head else None,
            "merge_error": None,
            "changes_count": None,
            "user": {"can_merge": True},
        }
    return out


def note(
    p: FakeProject,
    note_id: int,
    noteable: tuple[str, int, int],
    body: str,
    author: str,
    stamp: str,
    *,
    discussion_id: str,
    position: dict[str, Any] | None = None,
    system: bool = False,
) -> dict[str, Any]:
    """A note on (`Issue` or `MergeRequest`, its id, its iid); with a `position` a DiffNote."""
    kind, noteable_id, iid = noteable
    return {
        "id": note_id,
        "type": "DiffNote" if position else None,
        "body": body,
        "attachment": None,
        "author": user(author),
        "created_at": stamp,
        "updated_at": stamp,
        "system": system,
        "noteable_id": noteable_id,
        "noteable_type": kind,
        "noteable_iid": iid,
        "project_id": p.id,
        "resolvable": position is not None,
        "resolved": False if position else None,
        "confidential": False,
        "internal": False,
        "commands_changes": {},
        **({"position": position} if position else {}),
        "discussion_id": discussion_id,
    }


def discussions(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Notes grouped into GitLab's discussions, in order of their first note."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for n in notes:
        grouped.setdefault(n["discussion_id"], []).append(n)
    return [
        {
            "id": key,
            "individual_note": len(group) == 1 and group[0]["type"] is None,
            "notes": [public_note(n) for n in group],
        }
        for key, group in grouped.items()
    ]


def public_note(n: dict[str, Any]) -> dict[str, Any]:
    """A note without the fake's own bookkeeping."""
    return {k: v for k, v in n.items() if k != "discussion_id"}


def pipeline(x: dict[str, Any]) -> dict[str, Any]:
    """The pipeline in GitLab's JSON shape (its jobs are listed apart)."""
    return {k: v for k, v in x.items() if k != "jobs"}


def job(x: dict[str, Any], j: dict[str, Any]) -> dict[str, Any]:
    """One job of pipeline `x` in GitLab's JSON shape."""
    return {
        **j,
        "ref": x["ref"],
        "tag": False,
        "coverage": None,
        "commit": {"id": x["sha"], "short_id": x["sha"][:8]},
        "pipeline": {
            "id": x["id"],
            "project_id": x["project_id"],
            "ref": x["ref"],
            "sha": x["sha"],
            "status": x["status"],
        },
    }


def approvals(
    p: FakeProject, mr: FakeMergeRequest, status: tuple[str, str], by: list[dict[str, Any]]
) -> dict[str, Any]:
    """A merge request's approval state in GitLab's JSON shape."""
    return {
        "id": mr.id,
        "iid": mr.iid,
        "project_id": p.id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "merge_status": status[0],
        "approved": bool(by),
        "approvals_required": 0,
        "approvals_left": 0,
        "require_password_to_approve": False,
        "approved_by": by,
        "suggested_approvers": [],
        "approvers": [],
        "approver_groups": [],
        "user_has_approved": False,
        "user_can_approve": True,
        "approval_rules_left": [],
        "has_approval_rules": False,
        "merge_request_approvers_available": False,
        "multiple_approval_rules_available": False,
    }


def label(label_id: int, name: str, color: str = "#6699cc") -> dict[str, Any]:
    """A label in GitLab's JSON shape."""
    return {
        "id": label_id,
        "name": name,
        "color": color,
        "text_color": "#FFFFFF",
        "description": None,
        "description_html": "",
        "open_issues_count": 0,
        "closed_issues_count": 0,
        "open_merge_requests_count": 0,
        "subscribed": False,
        "priority": None,
        "is_project_label": True,
    }


def hook_label(p: FakeProject, name: str) -> dict[str, Any]:
    """A label as webhooks carry it: `title`, not `name`."""
    known = p.labels.get(name) or label(0, name)
    return {
        "id": known["id"],
        "title": name,
        "color": known["color"],
        "project_id": p.id,
        "description": known["description"],
        "type": "ProjectLabel",
        "group_id": None,
        "template": False,
    }


def hook_body(
    kind: str,
    p: FakeProject,
    api_url: str,
    by: str,
    attributes: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A webhook payload (`issue`, `merge_request` or `note`) as GitLab sends it."""
    proj = project(p, api_url)
    return {
        "object_kind": kind,
        "event_type": kind,
        "user": {k: v for k, v in user(by).items() if k in ("id", "name", "username")},
        "project": {
            "id": p.id,
            "name": proj["name"],
            "web_url": proj["web_url"],
            "path_with_namespace": p.path,
            "default_branch": p.default_branch,
            "git_http_url": proj["http_url_to_repo"],
            "git_ssh_url": proj["ssh_url_to_repo"],
        },
        "repository": {"name": proj["name"], "url": proj["ssh_url_to_repo"]},
        "object_attributes": attributes,
        **(extra or {}),
    }
