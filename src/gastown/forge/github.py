"""GitHub behind the `Forge` protocol, on githubkit: one repository's issues, pull requests,
reviews, comments, labels and checks.

`GitHubForge(repo="owner/name", token=...)` (or `app=AppCredentials(...)`, a GitHub App
installation: githubkit trades the app's JWT for installation tokens and renews them) talks to
`api_url` (GitHub Enterprise, or the fake in `gastown.scripted.github`). githubkit is imported
when the first forge is made, never on the CLI's start-up path. Calls block; the refinery makes
them from a worker thread.

    listings      every page, following `Link: rel="next"`, 100 at a time
    reads         conditional: every GET of a pull request, and every page of a listing, is
                  sent with the ETag of the last answer to the same request (`If-None-Match`);
                  GitHub answers 304, which does not count against the rate limit, while
                  nothing changed, and the kept answer is used. So following an idle pull
                  request (the pull request, its reviews, comments and the head's check runs)
                  costs nothing of the rate limit, yet a new check run is seen on the next
                  look. The last `KEPT` answers are kept, per client: keep the client.
    list_issues   the same, but a 304 is None (nothing changed since the last identical call).
                  Issues are asked for most recently updated first, so any change shows on the
                  first page.
    failures      `ForgeError`, one sentence naming what failed and what to do, never the token;
                  a used-up rate limit is `RateLimited` with its reset time. Nothing is retried
                  here: the caller polls again later.
"""

from __future__ import annotations

import functools
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from gastown import config
from gastown.forge.base import (
    CheckRun,
    Comment,
    ForgeDown,
    ForgeError,
    ForgeKind,
    Issue,
    LineComment,
    PullRequest,
    RateLimited,
    Review,
    ReviewComment,
    ReviewEvent,
)
from gastown.record import Record
from gastown.sections import sections

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


def app_credentials(settings: config.Resolved) -> AppCredentials | None:
    """The GitHub App installation the settings name, if they name one."""
    github = sections(settings).github
    if not (github.app_id and github.app_private_key):
        return None
    return AppCredentials(
        app_id=github.app_id,
        private_key=github.app_private_key,
        installation_id=github.app_installation_id,
    )


def connect(settings: config.Resolved, repo: str, environ: Mapping[str, str]) -> GitHubForge | None:
    """The forge for `repo` with the rig's credentials: `github.token` (else GITHUB_TOKEN),
    else a GitHub App's; None when there are none."""
    github = sections(settings).github
    token = github.token or environ.get("GITHUB_TOKEN", "")
    app = None if token else app_credentials(settings)
    if not token and app is None:
        return None
    return GitHubForge(repo=repo, token=token, app=app, api_url=github.api_url)


def installation_token(app: AppCredentials, api_url: str) -> tuple[str, float]:
    """A fresh installation token of `app` (for git over https, which takes a token, not a
    JWT) and when it expires, in Unix seconds."""
    import calendar

    from githubkit import AppAuthStrategy, GitHub

    gh: GitHub[Any] = GitHub(
        AppAuthStrategy(app.app_id, app.private_key),
        base_url=api_url.rstrip("/"),
        user_agent=USER_AGENT,
        auto_retry=False,
        ssl_verify=_tls(),
    )
    try:
        data = gh.rest.apps.create_installation_access_token(app.installation_id).json()
    except Exception as exc:  # githubkit's errors, or the network's: one sentence either way
        status = getattr(getattr(exc, "response", None), "status_code", None)
        raise ForgeError(
            f"GitHub would not give the App installation {app.installation_id} a token for "
            f"git ({status or type(exc).__name__}); check {APP_SETTINGS}.",
            status=status,
        ) from None
    expires = calendar.timegm(time.strptime(str(data["expires_at"]), "%Y-%m-%dT%H:%M:%SZ"))
    return str(data["token"]), float(expires)


class GitHubForge:
    """One GitHub repository (`repo` is "owner/name") through the REST API."""

    kind: ForgeKind = "github"

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

    # --- issues -----------------------------------------------------------------------------

    def get_issue(self, number: int) -> Issue:
        call = self._gh.rest.issues.get
        answer = self._get(
            ("issue", number), f"issue #{number}", lambda h: call(*self._at, number, headers=h)
        )
        return issue_from(answer.data)

    def list_issues(
        self, *, labels: Sequence[str] = (), state: str = "open", since: str | None = None
    ) -> list[Issue] | None:
        key: tuple[object, ...] = (tuple(labels), state, since)
        query: dict[str, Any] = {"state": state, "sort": "updated", "direction": "desc"}
        if labels:
            query["labels"] = ",".join(labels)
        if since:
            query["since"] = datetime.fromisoformat(since.replace("Z", "+00:00"))
        etag = self._etags.get(key)
        headers = {"If-None-Match": etag} if etag else None
        call = self._gh.rest.issues.list_for_repo
        first = self._send(
            "GET", "issues", lambda: call(*self._at, **query, per_page=PER_PAGE, headers=headers)
        )
        if first.status_code == 304:
            return None
        items = self._rest_of(first, None, "issues")
        if first.headers.get("ETag"):
            self._etags[key] = first.headers["ETag"]
        return [issue_from(i) for i in items if "pull_request" not in i]

    def comment(self, number: int, body: str, *, pull: bool = False) -> int:
        """One comment on the conversation (GitHub numbers issues and pulls alike)."""
        data = self._json(
            "POST", f"issue #{number}", self._gh.rest.issues.create_comment, number, body=body
        )
        return int(data["id"])

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        """Add `labels` to issue or pull request `number`; GitHub makes a label the repository
        does not have yet (grey, no description) rather than refuse it."""
        self._json(
            "POST", f"issue #{number}", self._gh.rest.issues.add_labels, number, labels=list(labels)
        )

    def list_labels(self) -> list[str]:
        return [
            str(label["name"])
            for label in self._pages(self._gh.rest.issues.list_labels_for_repo, None, None)
        ]

    def close_issue(self, number: int, comment: str | None = None) -> None:
        if comment:
            self.comment(number, comment)
        self._json(
            "PATCH",
            f"issue #{number}",
            self._gh.rest.issues.update,
            number,
            state="closed",
            state_reason="completed",
        )

    # --- pull requests ----------------------------------------------------------------------

    def create_pull(self, head: str, base: str, title: str, body: str = "") -> PullRequest:
        """Open a pull request of branch `head` into `base`; if one is already open for the
        two, that one is returned instead, so asking twice opens one."""
        try:
            data = self._json(
                "POST",
                None,
                self._gh.rest.pulls.create,
                title=title,
                head=head,
                base=base,
                body=body,
            )
        except ForgeError as exc:
            if exc.status != 422:
                raise
            existing = self.find_open_pull(head, base) if "already exists" in exc.detail else None
            if existing is not None:
                return existing
            raise ForgeError(
                f"GitHub would not open a pull request of {head} into {base} in {self.repo}: "
                f"{exc.detail}; check that both branches are pushed and differ.",
                status=422,
                detail=exc.detail,
            ) from None
        return _pull(data)

    def find_open_pull(self, head: str, base: str | None = None) -> PullRequest | None:
        """The open pull request of branch `head` (into `base`, if given), or None."""
        query: dict[str, Any] = {"state": "open", "head": f"{self.owner}:{head}"}
        if base is not None:
            query["base"] = base
        found = self._pages(self._gh.rest.pulls.list, None, None, **query)
        return _pull(found[0]) if found else None

    def get_pull(self, number: int) -> PullRequest:
        """Pull request `number` as it is now (state, mergeability, head commit)."""
        call = self._gh.rest.pulls.get
        answer = self._get(
            ("pull", number), _pr(number), lambda h: call(*self._at, number, headers=h)
        )
        return _pull(answer.data)

    def list_pulls(self, state: str = "open") -> list[PullRequest]:
        return [_pull(p) for p in self._pages(self._gh.rest.pulls.list, None, None, state=state)]

    def merge_pull(self, number: int, sha: str, method: str = "merge") -> str:
        """Merge pull request `number` if its head is still `sha`; the merge commit's sha."""
        try:
            data = self._json(
                "PUT", _pr(number), self._gh.rest.pulls.merge, number, sha=sha, merge_method=method
            )
        except ForgeError as exc:
            if exc.status == 405:
                raise ForgeError(
                    f"GitHub will not merge pull request #{number} in {self.repo}: "
                    f"{exc.detail}; resolve that and poll again.",
                    status=405,
                    detail=exc.detail,
                ) from None
            if exc.status == 409:
                raise ForgeError(
                    f"Pull request #{number} in {self.repo} was not merged because its head "
                    f"moved past {sha[:12]} ({exc.detail}); poll it again before merging.",
                    status=409,
                    detail=exc.detail,
                ) from None
            raise
        return str(data["sha"])

    def close_pull(self, number: int) -> PullRequest:
        """Close pull request `number` without merging it."""
        data = self._json("PATCH", _pr(number), self._gh.rest.pulls.update, number, state="closed")
        return _pull(data)

    def list_reviews(self, number: int) -> list[Review]:
        """Every review submitted on pull request `number`, oldest first."""
        return [
            Review(
                id=int(r["id"]),
                state=str(r.get("state") or ""),
                body=str(r.get("body") or ""),
                user=_login(r),
                submitted_at=r.get("submitted_at"),
                commit_id=r.get("commit_id"),
            )
            for r in self._pages(self._gh.rest.pulls.list_reviews, number, _pr(number))
        ]

    def list_review_comments(self, number: int) -> list[ReviewComment]:
        """Every comment on the diff of pull request `number`, oldest first."""
        return [
            ReviewComment(
                id=int(c["id"]),
                path=str(c.get("path") or ""),
                line=c.get("line"),
                body=str(c.get("body") or ""),
                user=_login(c),
                created_at=str(c.get("created_at") or ""),
            )
            for c in self._pages(self._gh.rest.pulls.list_review_comments, number, _pr(number))
        ]

    def list_comments(self, number: int, *, pull: bool = False) -> list[Comment]:
        """Every conversation comment on issue or pull request `number`, oldest first."""
        return [
            Comment(
                id=int(c["id"]),
                body=str(c.get("body") or ""),
                user=_login(c),
                created_at=str(c.get("created_at") or ""),
            )
            for c in self._pages(self._gh.rest.issues.list_comments, number, f"#{number}")
        ]

    def list_check_runs(self, sha: str) -> list[CheckRun]:
        """Every check run reported on commit `sha`."""
        return [
            CheckRun(
                id=int(c["id"]),
                name=str(c.get("name") or ""),
                status=str(c.get("status") or ""),
                conclusion=c.get("conclusion"),
                head_sha=str(c.get("head_sha") or sha),
            )
            for c in self._pages(
                self._gh.rest.checks.list_for_ref, sha, f"commit {sha}", key="check_runs"
            )
        ]

    def post_review(
        self,
        number: int,
        sha: str,
        body: str,
        comments: Sequence[LineComment] = (),
        event: ReviewEvent = "COMMENT",
    ) -> int:
        """A review of pull request `number` at head `sha`, with comments on lines; its id."""
        lines = [
            {"path": c.path, "line": c.line, "side": "RIGHT", "body": c.body} for c in comments
        ]
        try:
            data = self._json(
                "POST",
                _pr(number),
                self._gh.rest.pulls.create_review,
                number,
                commit_id=sha,
                body=body,
                event=event,
                comments=lines,
            )
        except ForgeError as exc:
            if exc.status != 422:
                raise
            raise ForgeError(
                f"GitHub would not take the review of pull request #{number} in {self.repo}: "
                f"{exc.detail}; comment only on lines the pull request changes.",
                status=422,
                detail=exc.detail,
            ) from None
        return int(data["id"])

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


def _pr(number: int) -> str:
    return f"pull request #{number}"


def _login(item: Mapping[str, Any]) -> str:
    user = item.get("user") or {}
    return str(user.get("login") or "")


def issue_from(data: Mapping[str, Any]) -> Issue:
    """An issue in the REST API's shape (an answer, or a webhook's `issue`) as a record."""
    state: Literal["open", "closed"] = "closed" if data.get("state") == "closed" else "open"
    return Issue(
        number=int(data["number"]),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        state=state,
        url=str(data.get("html_url") or ""),
        labels=[str(n.get("name") if isinstance(n, dict) else n) for n in data.get("labels") or []],
        author=_login(data),
        updated_at=str(data.get("updated_at") or ""),
    )


def _pull(data: dict[str, Any]) -> PullRequest:
    head, base = data.get("head") or {}, data.get("base") or {}
    state: Literal["open", "closed"] = "closed" if data.get("state") == "closed" else "open"
    return PullRequest(
        number=int(data["number"]),
        url=str(data.get("html_url") or ""),
        state=state,
        # Listings carry `merged_at` but not `merged`.
        merged=bool(data.get("merged") or data.get("merged_at")),
        mergeable=data.get("mergeable"),
        mergeable_state=str(data.get("mergeable_state") or "unknown"),
        head_ref=str(head.get("ref") or ""),
        head_sha=str(head.get("sha") or ""),
        base_ref=str(base.get("ref") or ""),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        author=_login(data),
        draft=bool(data.get("draft")),
    )


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
