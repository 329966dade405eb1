"""Git over HTTPS with the rig's forge token, never written down.

A rig on GitHub or GitLab reached over https is cloned, fetched and pushed with the forge
token its settings hold (`github.token` / GITHUB_TOKEN, else a GitHub App installation's
token minted for the purpose; `gitlab.token` / GITLAB_TOKEN): the
token travels as an HTTP basic `Authorization` header that git is given through its
environment for that one repository URL (`git.repo.authorize`). The remote URL in the clone
stays the plain one; no config file, argument list or log ever holds the token. SSH remotes
and local paths use what the machine already has.
"""

from __future__ import annotations

import base64
import time
import urllib.parse
from collections.abc import Mapping

from gastown import config
from gastown.forge.select import locate
from gastown.git.repo import authorize
from gastown.model import Rig
from gastown.sections import sections

USERS = {"github": "x-access-token", "gitlab": "oauth2"}
"""The user name each forge expects beside a token in basic auth."""


_minted: dict[tuple[str, int, int], tuple[str, float]] = {}
"""Installation tokens made for git, by (API, app, installation), with when they expire."""
FRESH_FOR = 300.0
"""A minted token is made again when it has less than this many seconds left."""


def token_for(kind: str, settings: config.Resolved, environ: Mapping[str, str]) -> str:
    """The token git sends to the forge: the setting, else the environment's, else (GitHub)
    an installation token of the App in the settings, minted and kept until near its end."""
    read = sections(settings)
    if kind != "github":
        return read.gitlab.token or environ.get("GITLAB_TOKEN", "")
    token = read.github.token or environ.get("GITHUB_TOKEN", "")
    if token:
        return token
    from gastown.forge.github import app_credentials, installation_token

    app = app_credentials(settings)
    if app is None:
        return ""
    key = (read.github.api_url, app.app_id, app.installation_id)
    kept = _minted.get(key)
    if kept is None or kept[1] - time.time() < FRESH_FOR:
        kept = _minted[key] = installation_token(app, key[0])
    return kept[0]


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
