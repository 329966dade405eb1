"""The JSON the fake GitHub answers with, in GitHub's own shapes.

Every object carries the fields GitHub's published OpenAPI description marks as required (the
tests check each answer against it), so a client reading any documented field finds one. API
addresses point at the fake (`api`), web pages at `HTML_HOST`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

HTML_HOST = "https://github.test"
DOCS = "https://docs.github.com/rest"

_USER_URLS = (
    ("followers_url", "/followers"),
    ("following_url", "/following{/other_user}"),
    ("gists_url", "/gists{/gist_id}"),
    ("starred_url", "/starred{/owner}{/repo}"),
    ("subscriptions_url", "/subscriptions"),
    ("organizations_url", "/orgs"),
    ("repos_url", "/repos"),
    ("events_url", "/events{/privacy}"),
    ("received_events_url", "/received_events"),
)
_REPO_URLS = (
    "archive_url:/{archive_format}{/ref}",
    "assignees_url:/assignees{/user}",
    "blobs_url:/git/blobs{/sha}",
    "branches_url:/branches{/branch}",
    "collaborators_url:/collaborators{/collaborator}",
    "comments_url:/comments{/number}",
    "commits_url:/commits{/sha}",
    "compare_url:/compare/{base}...{head}",
    "contents_url:/contents/{+path}",
    "contributors_url:/contributors",
    "deployments_url:/deployments",
    "downloads_url:/downloads",
    "events_url:/events",
    "forks_url:/forks",
    "git_commits_url:/git/commits{/sha}",
    "git_refs_url:/git/refs{/sha}",
    "git_tags_url:/git/tags{/sha}",
    "hooks_url:/hooks",
    "issue_comment_url:/issues/comments{/number}",
    "issue_events_url:/issues/events{/number}",
    "issues_url:/issues{/number}",
    "keys_url:/keys{/key_id}",
    "labels_url:/labels{/name}",
    "languages_url:/languages",
    "merges_url:/merges",
    "milestones_url:/milestones{/number}",
    "notifications_url:/notifications{?since,all,participating}",
    "pulls_url:/pulls{/number}",
    "releases_url:/releases{/id}",
    "stargazers_url:/stargazers",
    "statuses_url:/statuses/{sha}",
    "subscribers_url:/subscribers",
    "subscription_url:/subscription",
    "tags_url:/tags",
    "teams_url:/teams",
    "trees_url:/git/trees{/sha}",
)


def number_id(text: str) -> int:
    """A stable positive id for a name (a user's login, a repository)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def node_id(kind: str, ident: int) -> str:
    return f"{kind}_{ident:x}"


def user(api: str, login: str, kind: str = "User") -> dict[str, Any]:
    """A `simple-user`."""
    ident = number_id(login)
    out: dict[str, Any] = {
        "login": login,
        "id": ident,
        "node_id": node_id("U", ident),
        "avatar_url": f"{HTML_HOST}/avatars/{login}",
        "gravatar_id": "",
        "url": f"{api}/users/{login}",
        "html_url": f"{HTML_HOST}/{login}",
        "type": kind,
        "site_admin": False,
    }
    for name, tail in _USER_URLS:
        out[name] = f"{api}/users/{login}{tail}"
    return out


def repository(api: str, repo: str, stamp: str, *, default_branch: str = "main") -> dict[str, Any]:
    """A full `repository`."""
    owner, _, name = repo.partition("/")
    ident, base = number_id(repo), f"{api}/repos/{repo}"
    out: dict[str, Any] = {
        "id": ident,
        "node_id": node_id("R", ident),
        "name": name,
        "full_name": repo,
        "license": None,
        "forks": 0,
        "owner": user(api, owner, "Organization"),
        "private": True,
        "html_url": f"{HTML_HOST}/{repo}",
        "description": None,
        "fork": False,
        "url": base,
        "git_url": f"git://github.test/{repo}.git",
        "ssh_url": f"git@github.test:{repo}.git",
        "clone_url": f"{HTML_HOST}/{repo}.git",
        "svn_url": f"{HTML_HOST}/{repo}",
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "size": 0,
        "default_branch": default_branch,
        "open_issues_count": 0,
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": False,
        "archived": False,
        "disabled": False,
        "pushed_at": stamp,
        "created_at": stamp,
        "updated_at": stamp,
        "open_issues": 0,
        "watchers": 0,
    }
    for entry in _REPO_URLS:
        name_, _, tail = entry.partition(":")
        out[name_] = base + tail
    return out


def label(api: str, repo: str, name: str, ident: int, color: str, description: str | None) -> Any:
    """A `label`."""
    return {
        "id": ident,
        "node_id": node_id("LA", ident),
        "url": f"{api}/repos/{repo}/labels/{name}",
        "name": name,
        "description": description,
        "color": color,
        "default": False,
    }


def integration(api: str, slug: str) -> dict[str, Any]:
    """A GitHub App, as `app` of a check run."""
    ident = number_id(slug)
    return {
        "id": ident,
        "slug": slug,
        "node_id": node_id("A", ident),
        "owner": user(api, slug, "Organization"),
        "name": slug,
        "description": None,
        "external_url": f"{HTML_HOST}/apps/{slug}",
        "html_url": f"{HTML_HOST}/apps/{slug}",
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "permissions": {"checks": "write"},
        "events": [],
    }


def links(**hrefs: str) -> dict[str, dict[str, str]]:
    return {name: {"href": href} for name, href in hrefs.items()}


def error(status: int, message: str, errors: list[Any] | None = None) -> Any:
    """GitHub's error body: `message`, `documentation_url`, `errors` on a validation failure
    (objects for most, plain sentences for a refused review, as GitHub sends them)."""
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS}
    if errors is not None:
        body["errors"] = errors
    body["status"] = str(status)
    return body


def etag(body: Any) -> str:
    """A weak ETag of an answer's body, as GitHub gives on every read."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
    return f'W/"{digest}"'
