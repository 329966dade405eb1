"""How the town's GitLab client talks to the API, under the issue and merge request calls
of `forge.gitlab`: python-gitlab on a session whose hook turns a 429 into `RateLimited` at
once, conditional GETs, and every failure as one sentence naming what to do, never the token.

python-gitlab is imported when a client is made, never on the CLI's start-up path.
"""

from __future__ import annotations

import time
import urllib.parse
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self

from gastown import config
from gastown.forge.base import ForgeDown, ForgeError, RateLimited

if TYPE_CHECKING:
    import gitlab
    import requests
    from gitlab.v4.objects import Project

SCOPE = "api"
"""The token scope the town needs: it writes notes, labels and merges, not only reads."""
TIMEOUT = 30.0


class GitLabClient:
    """python-gitlab on one project (`repo`, its full path), and what every call shares."""

    def __init__(self, repo: str, token: str, *, api_url: str = "https://gitlab.com") -> None:
        import gitlab
        import requests

        self.repo = repo
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._etags: dict[str, str] = {}
        """The ETag of the first page of each issue listing last asked for."""
        session = requests.Session()
        session.hooks["response"].append(_refuse_rate_limited)
        self._gl: gitlab.Gitlab = gitlab.Gitlab(
            self.api_url,
            private_token=token,
            session=session,
            timeout=TIMEOUT,
            retry_transient_errors=False,
            per_page=100,
        )
        self._project: Project = self._gl.projects.get(repo, lazy=True)
        self._path = "/projects/" + urllib.parse.quote(repo, safe="")
        # Kept-alive connections are closed when the forge is closed or dropped.
        self._closer = weakref.finalize(self, session.close)

    def close(self) -> None:
        """Close the connections kept open to GitLab."""
        self._closer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------

    def _mr(self, number: int) -> Any:
        return self._project.mergerequests.get(number, lazy=True)

    def _get(
        self, url: str, query: dict[str, Any] | None, etag: str | None
    ) -> requests.Response | None:
        """One GET, conditional when `etag` is given; None when GitLab answers 304."""
        import gitlab

        headers = {"If-None-Match": etag} if etag else None
        try:
            return self._gl.http_request("get", url, query_data=query, extra_headers=headers)
        except gitlab.GitlabHttpError as exc:
            if exc.response_code == 304:
                return None
            raise

    @contextmanager
    def _call(self, doing: str, what: str) -> Iterator[None]:
        """Turn python-gitlab's and requests' failures into one sentence each."""
        import gitlab
        import requests

        try:
            yield
        except RateLimited:
            raise
        except gitlab.GitlabError as exc:
            raise self._refused(doing, what, exc) from exc
        except requests.RequestException as exc:
            raise ForgeError(
                self._clean(
                    f"Could not reach GitLab at {self.api_url} to {doing} "
                    f"({type(exc).__name__}); check `gitlab.api_url` and the network."
                )
            ) from None

    def _refused(self, doing: str, what: str, exc: Any) -> ForgeError | ForgeDown:
        status: int | None = exc.response_code
        detail = self._clean(str(exc.error_message or "").strip())
        if status == 401:
            message = (
                f"GitLab did not accept the token to {doing} on {self.repo}; set `gitlab.token` "
                f"(or GITLAB_TOKEN) to a token with the `{SCOPE}` scope."
            )
        elif status == 403:
            message = (
                f"The GitLab token may not {doing} on {self.repo}; give `gitlab.token` the "
                f"`{SCOPE}` scope and at least Developer access to the project."
            )
        elif status == 404:
            message = (
                f"GitLab found no {what} in {self.repo}; check the number, `gitlab.repo`, "
                "and that the token can see the project."
            )
        elif status == 409 and "SHA does not match" in detail:
            message = f"The {what} on {self.repo} has a new head; look at it again before merging."
        elif status in (405, 406, 422) and doing.startswith("merge "):
            message = (
                f"GitLab would not {doing} on {self.repo} ({status}: {detail}); it may have "
                "conflicts, a failing pipeline or be a draft."
            )
        elif status is not None and status >= 500:  # GitLab's failure, not the asker's
            return ForgeDown(
                self._clean(
                    f"GitLab failed to {doing} on {self.repo} ({status}); it may be down, try "
                    "again later."
                ),
                status=status,
                detail=detail,
            )
        else:
            message = f"GitLab refused to {doing} on {self.repo} ({status}: {detail})."
        return ForgeError(self._clean(message), status=status, detail=detail)

    def _clean(self, text: str) -> str:
        """Never let the token through, whatever an answer echoed."""
        return text.replace(self._token, config.MASK) if self._token else text


def _refuse_rate_limited(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A response hook: a 429 is `RateLimited` until GitLab's reset, raised before the
    client's own retry loop would sleep on it."""
    if response.status_code != 429:
        return
    headers = response.headers
    reset = headers.get("RateLimit-Reset", "")
    if reset.isdigit():
        until = float(reset)
    else:
        after = headers.get("Retry-After", "")
        until = time.time() + (float(after) if after.isdigit() else 60.0)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(until))
    response.close()  # nobody reads it now: give its connection back
    raise RateLimited(
        f"GitLab is rate limiting this token until {stamp}; wait until then or use another token.",
        reset_at=until,
    )
