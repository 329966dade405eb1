"""Git over HTTPS with the rig's forge token, never written down.

A rig on GitHub or GitLab reached over https is cloned, fetched and pushed with the forge
token its settings hold (`github.token` / GITHUB_TOKEN, `gitlab.token` / GITLAB_TOKEN): the
token travels as an HTTP basic `Authorization` header that git is given through its
environment for that one repository URL (`git.repo.authorize`). The remote URL in the clone
stays the plain one; no config file, argument list or log ever holds the token. SSH remotes
and local paths use what the machine already has.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Mapping

from gastown import config
from gastown.forge.select import locate
from gastown.git.repo import authorize
from gastown.model import Rig

USERS = {"github": "x-access-token", "gitlab": "oauth2"}
"""The user name each forge expects beside a token in basic auth."""


def token_for(kind: str, settings: config.Resolved, environ: Mapping[str, str]) -> str:
    if kind == "github":
        return str(settings["github.token"] or environ.get("GITHUB_TOKEN", ""))
    return str(settings["gitlab.token"] or environ.get("GITLAB_TOKEN", ""))


def authorize_url(url: str, settings: config.Resolved, environ: Mapping[str, str]) -> str | None:
    """Let git reach `url` with its forge's token, if it is an http(s) URL on a forge the
    settings hold a token for; the forge's kind when so, else None."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return None
    where = locate(settings, Rig(name="", url=url, branch="", path=""))
    if where is None:
        return None
    kind = where[0]
    token = token_for(kind, settings, environ)
    if not token:
        return None
    basic = base64.b64encode(f"{USERS[kind]}:{token}".encode()).decode()
    authorize(url.rstrip("/"), f"Authorization: Basic {basic}")
    return kind
