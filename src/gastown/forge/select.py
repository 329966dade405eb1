"""Which forge a rig's repository lives on, and the client for it.

    1. settings      `github.repo` names a GitHub repository, `gitlab.repo` a GitLab project
    2. known host    the rig's URL on github.com or gitlab.com
    3. path shape    a self-hosted URL GitLab's way (`/-/`, or groups: more than owner/name)
    4. API host      a self-hosted host that is `github.api_url`'s or `gitlab.api_url`'s host

The adapters (`forge.github`, `forge.gitlab`) are imported only once a rig needs one, so their
client libraries stay off the CLI's start-up path. `forge_for` is None when the rig has no
forge or no credentials for it; `require` says which in one sentence.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from gastown import config
from gastown.forge.base import Forge, ForgeError, ForgeKind
from gastown.forge.urls import KNOWN_HOSTS, parse_remote
from gastown.model import Rig
from gastown.sections import sections

GITHUB_CREDENTIALS = (
    "`github.token` (or GITHUB_TOKEN) with the `repo` scope (fine-grained: Issues: read and "
    "write, Pull requests: read and write, Contents: read and write), or `github.app_id`, "
    "`github.app_private_key` and `github.app_installation_id`"
)
GITLAB_CREDENTIALS = "`gitlab.token` (or GITLAB_TOKEN) with the `api` scope"


def locate(settings: config.Resolved, rig: Rig) -> tuple[ForgeKind, str] | None:
    """The forge and repository of `rig`, or None when neither settings nor URL say."""
    read = sections(settings)
    if read.github.repo:
        return "github", read.github.repo
    if read.gitlab.repo:
        return "gitlab", read.gitlab.repo
    remote = parse_remote(rig.url)
    if remote is None:
        return None
    known = KNOWN_HOSTS.get(remote.host)
    if known is not None:
        return (known, remote.repo) if known == "gitlab" or remote.repo.count("/") == 1 else None
    if "/-/" in rig.url or remote.repo.count("/") > 1:
        return "gitlab", remote.repo
    hosts: tuple[tuple[ForgeKind, str], ...] = (
        ("github", read.github.api_url),
        ("gitlab", read.gitlab.api_url),
    )
    for kind, api in hosts:
        if api and urllib.parse.urlsplit(api).hostname == remote.host:
            return kind, remote.repo
    return None


def forge_for(settings: config.Resolved, rig: Rig, environ: Mapping[str, str]) -> Forge | None:
    """The rig's forge client, or None without a forge or without credentials for it."""
    where = locate(settings, rig)
    if where is None:
        return None
    kind, repo = where
    if kind == "github":
        from gastown.forge import github

        return github.connect(settings, repo, environ)
    from gastown.forge import gitlab

    return gitlab.connect(settings, repo, environ)


def require(settings: config.Resolved, rig: Rig, environ: Mapping[str, str]) -> Forge:
    """The rig's forge client, or a `ForgeError` saying what setting is missing."""
    where = locate(settings, rig)
    if where is None:
        raise ForgeError(
            f"Rig {rig.name} has no GitHub or GitLab repository: its URL names none; "
            "set `github.repo` or `gitlab.repo` for it."
        )
    forge = forge_for(settings, rig, environ)
    if forge is None:
        kind, repo = where
        needed = GITHUB_CREDENTIALS if kind == "github" else GITLAB_CREDENTIALS
        name = "GitHub" if kind == "github" else "GitLab"
        raise ForgeError(f"There is no {name} token for {repo} (rig {rig.name}); set {needed}.")
    return forge


class KeptForges:
    """`forge_for` that keeps each rig's client while its settings stay the same: a client
    holds the ETags of its last answers, and a poll asked again with them is answered 304,
    free of the rate limit. A fresh client each poll would pay for every read."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = dict(environ)
        self._clients: dict[tuple[object, ...], Forge | None] = {}

    def __call__(self, settings: config.Resolved, rig: Rig) -> Forge | None:
        github, gitlab = (read := sections(settings)).github, read.gitlab
        key = (
            rig.name,
            rig.url,
            github.repo,
            github.api_url,
            github.token,
            github.app_id,
            github.app_installation_id,
            gitlab.repo,
            gitlab.api_url,
            gitlab.token,
            self.environ.get("GITHUB_TOKEN", ""),
            self.environ.get("GITLAB_TOKEN", ""),
        )
        if key not in self._clients:
            for old in [k for k in self._clients if k[0] == rig.name]:
                del self._clients[old]  # settings changed: the old client is done with
            self._clients[key] = forge_for(settings, rig, self.environ)
        return self._clients[key]
