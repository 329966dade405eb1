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

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from gastown import config
from gastown.forge.base import (
    CheckRun,
    Comment,
    ForgeError,
    ForgeKind,
    Issue,
    LineComment,
    PullRequest,
    Review,
    ReviewComment,
    ReviewEvent,
)
from gastown.forge.github_http import (
    APP_SETTINGS,
    PER_PAGE,
    USER_AGENT,
    AppCredentials,
    GitHubClient,
    _tls,
)
from gastown.sections import sections

__all__ = ["AppCredentials", "GitHubForge", "app_credentials", "connect", "installation_token"]


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


class GitHubForge(GitHubClient):
    """One GitHub repository (`repo` is "owner/name") through the REST API."""

    kind: ForgeKind = "github"

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
