"""How the town's GitHub client talks to the REST API, under the issue and pull request
calls of `forge.github`: githubkit made with the token or a GitHub App installation, every
page of a listing, conditional GETs answered from the kept answer on a 304 (free of the rate
limit), and each failure turned into one `ForgeError` sentence naming what to do.

githubkit is imported when the first client is made, never on the CLI's start-up path.
"""

from __future__ import annotations

import functools
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gastown.forge.base import ForgeDown, ForgeError, RateLimited
from gastown.record import Record

if TYPE_CHECKING:
    import ssl

    import httpx
    from githubkit import GitHub

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TIMEOUT = 30.0
PER_PAGE = 100
USER_AGENT = "gastown"
SCOPES = (
    "the `repo` scope (fine-grained: Issues: read and write, Pull requests: read and write, "
    "Contents: read and write)"
)
APP_SETTINGS = "`github.app_id`, `github.app_private_key` and `github.app_installation_id`"
KEPT = 4096
"""Answers kept for conditional GETs, per client: ~six per followed pull request, with room."""


class AppCredentials(Record):
    """A GitHub App installation the town acts as."""

    app_id: int
    """The GitHub App's id."""
    private_key: str
    """The app's PEM private key; it signs the JWTs traded for installation tokens."""
    installation_id: int
    """The id of its installation on the rig's account."""


class GitHubClient:
    """githubkit on one repository (`repo` is "owner/name"), and the HTTP every call shares."""

    def __init__(
        self,
        *,
        repo: str,
        token: str = "",
        app: AppCredentials | None = None,
        api_url: str = DEFAULT_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        from githubkit import AppInstallationAuthStrategy, GitHub
        from githubkit.cache import MemCacheStrategy

        self.repo = repo
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.owner, _, self.name = repo.partition("/")
        self._app = app is not None and not token
        auth: Any = token
        if not token and app is not None:
            auth = AppInstallationAuthStrategy(app.app_id, app.private_key, app.installation_id)
        self._gh: GitHub[Any] = GitHub(
            auth,
            base_url=self.api_url,
            timeout=timeout,
            user_agent=USER_AGENT,
            http_cache=False,  # conditional requests are made by hand, where they are wanted
            auto_retry=False,  # the refinery polls again; a sleeping retry would hold its step
            cache_strategy=MemCacheStrategy(),  # installation tokens kept per forge
            ssl_verify=_tls(),
        )
        self._etags: dict[tuple[object, ...], str] = {}
        self._kept: OrderedDict[tuple[object, ...], _Kept] = OrderedDict()

    # --- HTTP -------------------------------------------------------------------------------

    @property
    def _at(self) -> tuple[str, str]:
        return self.owner, self.name

    def _json(
        self, method: str, what: str | None, call: Callable[..., Any], *args: Any, **data: Any
    ) -> Any:
        """One call of a githubkit REST method on this repository; the JSON answered."""
        body = {"data": data} if data else {}
        response = self._send(method, what, lambda: call(*self._at, *args, **body))
        return self._decode(method, response)

    def _pages(
        self,
        call: Callable[..., Any],
        arg: object,
        what: str | None,
        *,
        key: str | None = None,
        **query: Any,
    ) -> list[Any]:
        """Every item of a listing, following `Link: <...>; rel="next"`, each page asked for
        conditionally (a new comment may change only the last page)."""
        args = () if arg is None else (arg,)
        name = getattr(call, "__qualname__", repr(call))
        answer = self._get(
            (name, args, tuple(sorted(query.items()))),
            what,
            lambda h: call(*self._at, *args, **query, per_page=PER_PAGE, headers=h),
        )
        items: list[Any] = []
        while True:
            page = answer.data[key] if key is not None else answer.data
            items.extend(page)
            url = answer.next
            if url is None and len(page) == PER_PAGE:
                # A full page answered 304 comes with the `Link` it had when kept: a page may
                # have been added behind it since, so that one is asked for too.
                url = _page_after(answer.url)
            if not url:
                return items
            answer = self._get(("page", url), what, _get(self._gh, url))

    def _get(
        self,
        key: tuple[object, ...],
        what: str | None,
        call: Callable[[dict[str, str] | None], Any],
    ) -> _Kept:
        """One conditional GET: its JSON, the next page's URL and its own, the kept ones when
        GitHub answers 304 Not Modified (free of the rate limit)."""
        kept = self._kept.get(key)
        headers = {"If-None-Match": kept.etag} if kept is not None else None
        response = self._send("GET", what, lambda: call(headers))
        if response.status_code == 304 and kept is not None:
            self._kept.move_to_end(key)
            return kept
        answer = _Kept(
            etag=response.headers.get("ETag", ""),
            data=self._decode("GET", response),
            next=response.links.get("next", {}).get("url"),
            url=str(response.request.url),
        )
        if answer.etag:
            self._kept[key] = answer
            self._kept.move_to_end(key)
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        else:
            self._kept.pop(key, None)
        return answer

    def _rest_of(self, first: httpx.Response, key: str | None, what: str | None) -> list[Any]:
        items: list[Any] = []
        response: httpx.Response | None = first
        while response is not None:
            data = self._decode("GET", response)
            items.extend(data[key] if key is not None else data)
            url: str | None = response.links.get("next", {}).get("url")
            response = None
            if url:
                response = self._send("GET", what, functools.partial(_get(self._gh, url), None))
        return items

    def _send(self, method: str, what: str | None, call: Callable[[], Any]) -> httpx.Response:
        from githubkit.exception import GitHubException, RequestError, RequestFailed, RequestTimeout

        where = f"{what} in {self.repo}" if what else f"repository {self.repo}"
        try:
            return call().raw_response  # type: ignore[no-any-return]
        except RequestFailed as exc:
            raise self._refused(method, exc.response.raw_response, where) from None
        except RequestTimeout:
            raise self._unreachable(f"no answer within {self.timeout:g} s") from None
        except RequestError as exc:
            inner = exc.exc
            if isinstance(inner, RequestFailed):  # refused while trading the app's JWT
                raise self._refused(method, inner.response.raw_response, where) from None
            raise self._unreachable(_reason(inner)) from None
        except GitHubException as exc:
            raise ForgeError(
                f"GitHub could not be asked about {where} ({type(exc).__name__}); "
                f"check {APP_SETTINGS}."
            ) from None

    def _decode(self, method: str, response: httpx.Response) -> Any:
        try:
            return response.json() if response.content.strip() else None
        except ValueError:
            raise ForgeError(
                f"{self.api_url} answered {method} with something that is not JSON; "
                "check that `github.api_url` points at the GitHub REST API."
            ) from None

    def _unreachable(self, reason: object) -> ForgeError:
        return ForgeError(
            f"Cannot reach {self.api_url} ({reason}); check `github.api_url` and the network."
        )

    def _refused(self, method: str, response: httpx.Response, what: str) -> ForgeError | ForgeDown:
        status, detail = response.status_code, _message(response)
        headers = response.headers
        if status in (403, 429) and (
            headers.get("X-RateLimit-Remaining") == "0" or "retry-after" in headers
        ):
            reset = _reset_at(headers)
            return RateLimited(
                f"GitHub is rate limiting this token until {_clock(reset)}; "
                "wait until then or use another token.",
                reset_at=reset,
                status=status,
            )
        if status == 401 and self._app:
            message = (
                f"GitHub refused the app's credentials for {self.repo} ({detail}); "
                f"check {APP_SETTINGS}."
            )
        elif status == 401:
            message = (
                f"GitHub refused the token for {self.repo} ({detail}); set `github.token` or "
                f"GITHUB_TOKEN to a valid token with {SCOPES}."
            )
        elif status == 403:
            grant = "the app" if self._app else "the token"
            message = f"GitHub forbade {method} on {what} ({detail}); give {grant} {SCOPES}."
        elif status == 404:
            message = (
                f"GitHub found no {what}; check the repository name and that the token can see it."
            )
        elif status >= 500:  # GitHub's failure, not the asker's
            return ForgeDown(
                f"GitHub failed on {method} on {what} ({status}: {detail}); "
                "it is retried on the next poll.",
                status=status,
                detail=detail,
            )
        else:
            message = f"GitHub answered {status} to {method} on {what}: {detail}."
        return ForgeError(message, status=status, detail=detail)


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's own TLS context, made once: githubkit opens a client per request, and making
    the context (reading the CA bundle) would cost tens of milliseconds each time."""
    import httpx

    return httpx.create_ssl_context()


class _Kept(Record):
    """The last answer to one GET, for asking again with `If-None-Match`."""

    etag: str
    data: Any
    next: str | None
    """The next page's URL, from the answer's `Link` header."""
    url: str
    """The URL asked for."""


def _page_after(url: str) -> str:
    """`url` with its `page` one further on."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["page"] = str(int(query.get("page") or 1) + 1)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _get(gh: GitHub[Any], url: str) -> Callable[[dict[str, str] | None], Any]:
    return lambda headers: gh.request("GET", url, headers=headers)


def _message(response: httpx.Response) -> str:
    """GitHub's own words from an error body: `message`, then any `errors[].message`."""
    fallback = response.reason_phrase or f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return fallback
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    parts = [str(body.get("message") or fallback).rstrip(".")]
    for item in body.get("errors") or []:
        if isinstance(item, str):
            parts.append(item.rstrip("."))
        elif isinstance(item, dict) and item.get("message"):
            parts.append(str(item["message"]).rstrip("."))
        elif isinstance(item, dict) and item.get("field"):
            parts.append(f"{item['field']} {item.get('code') or 'invalid'}")
    return ": ".join(parts)


def _reset_at(headers: httpx.Headers) -> float:
    retry = headers.get("retry-after", "")
    if retry.isdigit():
        return time.time() + int(retry)
    reset = headers.get("X-RateLimit-Reset", "")
    return float(reset) if reset.isdigit() else time.time() + 60


def _clock(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def _reason(exc: BaseException) -> str:
    """The plainest words for why a connection failed: the OS's, when there are any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__
