"""Forge addresses: the issue or pull request a URL names, and the repository a rig's URL is.

    https://github.com/acme/app/issues/42              GitHub issue 42 of acme/app
    https://github.com/acme/app/pull/7                 GitHub pull request 7
    https://gitlab.com/acme/tools/app/-/issues/42      GitLab issue 42 of acme/tools/app
    https://gitlab.com/acme/app/-/merge_requests/7     GitLab merge request 7
    git@github.com:acme/app.git, ssh://…, https://…    a rig's remote: host and repository

Pure string work, no network: which forge a host is comes from the host itself (github.com,
gitlab.com) or from the shape of the path (`/-/` is GitLab's), and for self-hosted instances
from the rig's settings (see `forge.select`).
"""

from __future__ import annotations

import re
from typing import Literal

from gastown.forge.base import ForgeKind
from gastown.record import Record

KNOWN_HOSTS: dict[str, ForgeKind] = {"github.com": "github", "gitlab.com": "gitlab"}

_WORK = re.compile(
    r"""^https?://(?P<host>[^/\s]+)/(?P<repo>[^\s?#]+?)
    (?:/-)?/(?P<what>issues|pull|pulls|merge_requests)/(?P<number>[0-9]{1,9})/?(?:[?#].*)?$""",
    re.VERBOSE,
)
_SCP = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/\s][^\s]*)$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*$")


class WorkRef(Record):
    """An issue or a pull (merge) request named by its web address."""

    host: str
    """The web host (github.com, gitlab.com, a self-hosted one)."""
    repo: str
    """`owner/name`, or GitLab's full project path."""
    number: int
    """The issue's or pull request's number (GitLab: its iid)."""
    kind: Literal["issue", "pull"]
    """`issue` or `pull`."""
    forge: ForgeKind | None
    """Which forge the address itself shows; None for a host that could be either."""
    url: str
    """Its web address."""


class RepoRef(Record):
    """The repository a remote URL points at."""

    host: str
    """The web host."""
    repo: str
    """`owner/name`, or GitLab's full project path."""


def parse_work(url: str) -> WorkRef | None:
    """The issue or pull request `url` names, or None if it is not such an address."""
    text = url.strip()
    match = _WORK.match(text)
    if match is None:
        return None
    repo = match["repo"].strip("/")
    if not _valid_repo(repo):
        return None
    what = match["what"]
    gitlab_path = "/-/" in text or what == "merge_requests"
    forge: ForgeKind | None = KNOWN_HOSTS.get(match["host"].lower())
    if forge is None:
        forge = "gitlab" if gitlab_path else "github" if what in ("pull", "pulls") else None
    if forge == "github" and (gitlab_path or repo.count("/") != 1):
        return None
    return WorkRef(
        host=match["host"].lower(),
        repo=repo,
        number=int(match["number"]),
        kind="issue" if what == "issues" else "pull",
        forge=forge,
        url=text,
    )


def parse_remote(url: str) -> RepoRef | None:
    """Host and repository of a remote URL (https, ssh or scp-style), or None (a path)."""
    text = url.strip()
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if scheme not in ("https", "http", "ssh", "git"):
            return None
        host, _, path = rest.partition("/")
        host = host.rsplit("@", 1)[-1].split(":", 1)[0]
    else:
        match = _SCP.match(text)
        if match is None:
            return None
        host, path = match["host"], match["path"]
    repo = path.strip("/").removesuffix(".git")
    if not host or not _valid_repo(repo):
        return None
    return RepoRef(host=host.lower(), repo=repo)


def _valid_repo(repo: str) -> bool:
    parts = repo.split("/")
    return len(parts) >= 2 and all(_SEGMENT.match(p) and p not in (".", "..") for p in parts)
