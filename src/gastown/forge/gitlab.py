"""GitLab behind the `Forge` protocol, on python-gitlab.

    connect(settings, repo, environ)   the rig's project, or None without a token
    GitLabForge                        issues, merge requests (as `PullRequest`), notes (as
                                       comments), diff discussions (as review comments),
                                       approvals (as reviews), pipeline jobs (as check runs)

python-gitlab is imported when a forge is made, never on the CLI's start-up path. It is told
not to wait out rate limits itself: a 429 becomes `RateLimited` at once (a hook on the HTTP
session sees it before the client's retry loop), so the caller decides how long to back off.
Every error is one sentence naming what failed and what to do; none carries the token.

GitLab's issue and merge request numbers are separate sequences: `comment` and
`list_comments` reach an issue unless `pull=True` says the number is a merge request's.
"""

from __future__ import annotations

import time
import urllib.parse
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from gastown import config
from gastown.forge.base import (
    CheckRun,
    Comment,
    ForgeDown,
    ForgeError,
    Issue,
    LineComment,
    PullRequest,
    RateLimited,
    Review,
    ReviewComment,
    ReviewEvent,
)
from gastown.sections import sections

if TYPE_CHECKING:
    import gitlab
    import requests
    from gitlab.v4.objects import Project

SCOPE = "api"
"""The token scope the town needs: it writes notes, labels and merges, not only reads."""
TIMEOUT = 30.0

# GitLab job status → (check status, conclusion). A manual job waits for a person and does
# not hold a pipeline up, so it reads as skipped.
JOB_CHECKS: dict[str, tuple[str, str | None]] = {
    "created": ("queued", None),
    "waiting_for_resource": ("queued", None),
    "preparing": ("queued", None),
    "pending": ("queued", None),
    "scheduled": ("queued", None),
    "running": ("in_progress", None),
    "canceling": ("in_progress", None),
    "success": ("completed", "success"),
    "failed": ("completed", "failure"),
    "canceled": ("completed", "cancelled"),
    "skipped": ("completed", "skipped"),
    "manual": ("completed", "skipped"),
}

# detailed_merge_status → (mergeable, mergeable_state) in GitHub's words.
MERGE_STATES: dict[str, tuple[bool | None, str]] = {
    "mergeable": (True, "clean"),
    "conflict": (False, "dirty"),
    "broken_status": (False, "dirty"),
    "need_rebase": (False, "behind"),
    "draft_status": (True, "draft"),
    "checking": (None, "unknown"),
    "unchecked": (None, "unknown"),
    "preparing": (None, "unknown"),
    "approvals_syncing": (None, "unknown"),
    "not_open": (None, "unknown"),
    "ci_still_running": (True, "unstable"),
}
"""Any other detailed status (ci_must_pass, not_approved, discussions_not_resolved, ...) is a
rule of the project holding the merge back: mergeable, `blocked`."""


def connect(settings: config.Resolved, repo: str, environ: Mapping[str, str]) -> GitLabForge | None:
    """The project `repo` (`gitlab.repo` when set) on `gitlab.api_url`; None when there is no
    token (`gitlab.token`, else GITLAB_TOKEN)."""
    gitlab = sections(settings).gitlab
    token = gitlab.token or environ.get("GITLAB_TOKEN", "")
    if not token:
        return None
    return GitLabForge(gitlab.repo or repo, token, api_url=gitlab.api_url)


class GitLabForge:
    """One GitLab project, addressed by its full path."""

    kind: Literal["gitlab"] = "gitlab"

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

    def __enter__(self) -> GitLabForge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- issues -------------------------------------------------------------------------

    def get_issue(self, number: int) -> Issue:
        with self._call(f"read issue #{number}", f"issue #{number}"):
            return _issue(self._project.issues.get(number).attributes)

    def list_issues(
        self, *, labels: Sequence[str] = (), state: str = "open", since: str | None = None
    ) -> list[Issue] | None:
        """Newest-updated first. The first page is asked for with the ETag of the last
        identical call: any change to a matching issue changes that page, so a 304 means
        nothing changed and costs no rate limit."""
        query: dict[str, Any] = {
            "state": {"open": "opened", "closed": "closed", "all": "all"}[state],
            "order_by": "updated_at",
            "sort": "desc",
            "per_page": 100,
        }
        if labels:
            query["labels"] = ",".join(labels)
        if since:
            query["updated_after"] = since
        key = repr(sorted(query.items()))
        known = self._etags.get(key)
        with self._call("list issues", "issues"):
            first = self._get(f"{self._path}/issues", query, known)
            if first is None:
                return None
            found = [_issue(item) for item in first.json()]
            answer = first
            while url := answer.links.get("next", {}).get("url"):
                # The next link carries the query; a later page is asked for plainly.
                answer = self._get(url, None, None) or answer
                found += [_issue(item) for item in answer.json()]
        if tag := first.headers.get("ETag"):
            self._etags[key] = tag
        return found

    def comment(self, number: int, body: str, *, pull: bool = False) -> int:
        """A note on issue `number` (merge request `number` with `pull`); its id."""
        owner = self._project.mergerequests if pull else self._project.issues
        what = f"merge request !{number}" if pull else f"issue #{number}"
        with self._call(f"comment on {what}", what):
            return int(owner.get(number, lazy=True).notes.create({"body": body}).id)

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        """GitLab makes a label the project lacks when an issue is given it."""
        with self._call(f"label issue #{number}", f"issue #{number}"):
            self._project.issues.update(number, {"add_labels": ",".join(labels)})

    def list_labels(self) -> list[str]:
        with self._call("list labels", "labels"):
            return [str(x.name) for x in self._project.labels.list(get_all=True)]

    def close_issue(self, number: int, comment: str | None = None) -> None:
        if comment:
            self.comment(number, comment)
        with self._call(f"close issue #{number}", f"issue #{number}"):
            self._project.issues.update(number, {"state_event": "close"})

    # --- merge requests -----------------------------------------------------------------

    def create_pull(self, head: str, base: str, title: str, body: str = "") -> PullRequest:
        import gitlab

        data = {"source_branch": head, "target_branch": base, "title": title, "description": body}
        try:
            with self._call(f"open a merge request of {head} into {base}", f"branch {head}"):
                return _pull(self._project.mergerequests.create(data).attributes)
        except ForgeError as exc:
            # 409: one is open for this branch already; that is the one asked for.
            if exc.status != 409 or not isinstance(exc.__cause__, gitlab.GitlabError):
                raise
        found = self.find_open_pull(head, base)
        if found is None:
            raise ForgeError(
                f"GitLab says a merge request of {head} is open on {self.repo}, but none into "
                f"{base}; close or retarget it and try again.",
                status=409,
            )
        return found

    def find_open_pull(self, head: str, base: str | None = None) -> PullRequest | None:
        query: dict[str, Any] = {"state": "opened", "source_branch": head}
        if base is not None:
            query["target_branch"] = base
        with self._call(f"look for a merge request of {head}", "merge requests"):
            found = self._project.mergerequests.list(get_all=True, **query)
        return _pull(found[0].attributes) if found else None

    def get_pull(self, number: int) -> PullRequest:
        with self._call(f"read merge request !{number}", f"merge request !{number}"):
            return _pull(self._project.mergerequests.get(number).attributes)

    def list_pulls(self, state: str = "open") -> list[PullRequest]:
        """`closed` includes the merged ones, as on GitHub."""
        wanted = {"open": "opened", "closed": "all", "all": "all"}[state]
        with self._call("list merge requests", "merge requests"):
            found = self._project.mergerequests.list(get_all=True, state=wanted)
        pulls = [_pull(x.attributes) for x in found]
        return [p for p in pulls if state != "closed" or p.state == "closed"]

    def merge_pull(self, number: int, sha: str, method: str = "merge") -> str:
        """Merge if the head is still `sha` (GitLab answers 409 otherwise); the merge commit.
        `squash` squashes first; GitLab's project settings decide the rest of the method."""
        if method not in ("merge", "squash"):
            raise ForgeError(
                f"GitLab merges by the project's own merge method; ask for merge or squash, "
                f"not {method}."
            )
        what = f"merge request !{number}"
        with self._call(f"merge {what}", what):
            done = self._gl.http_put(
                f"{self._path}/merge_requests/{number}/merge",
                post_data={"sha": sha, "squash": method == "squash"},
            )
        assert isinstance(done, dict)
        return str(done.get("merge_commit_sha") or done.get("squash_commit_sha") or "")

    def close_pull(self, number: int) -> PullRequest:
        what = f"merge request !{number}"
        with self._call(f"close {what}", what):
            mr = self._project.mergerequests.update(number, {"state_event": "close"})
        return _pull(mr)

    def list_reviews(self, number: int) -> list[Review]:
        """Approvals: GitLab keeps no other kind of submitted review."""
        what = f"merge request !{number}"
        with self._call(f"read the approvals of {what}", what):
            given = self._project.mergerequests.get(number, lazy=True).approvals.get()
        return [
            Review(
                id=int(a["user"]["id"]),
                state="APPROVED",
                body="",
                user=str(a["user"]["username"]),
                submitted_at=a.get("approved_at"),
                commit_id=None,
            )
            for a in given.attributes.get("approved_by") or []
        ]

    def list_review_comments(self, number: int) -> list[ReviewComment]:
        what = f"merge request !{number}"
        with self._call(f"read the discussions of {what}", what):
            threads = self._mr(number).discussions.list(get_all=True)
        return [
            ReviewComment(
                id=int(n["id"]),
                path=str(n["position"].get("new_path") or n["position"].get("old_path") or ""),
                line=n["position"].get("new_line"),
                body=str(n["body"]),
                user=str(n["author"]["username"]),
                created_at=str(n["created_at"]),
            )
            for thread in threads
            for n in thread.attributes["notes"]
            if n.get("position") and not n.get("system")
        ]

    def list_comments(self, number: int, *, pull: bool = False) -> list[Comment]:
        """Notes people wrote (not GitLab's system notes), oldest first."""
        owner = self._project.mergerequests if pull else self._project.issues
        what = f"merge request !{number}" if pull else f"issue #{number}"
        with self._call(f"read the comments of {what}", what):
            notes = owner.get(number, lazy=True).notes.list(
                get_all=True, sort="asc", order_by="created_at"
            )
        return [
            Comment(
                id=int(n.id),
                body=str(n.body),
                user=str(n.author["username"]),
                created_at=str(n.created_at),
            )
            for n in notes
            if not n.system and not n.attributes.get("position")
        ]

    def list_check_runs(self, sha: str) -> list[CheckRun]:
        """The jobs of the newest pipeline of `sha`: a rerun pipeline supersedes older ones."""
        with self._call(f"read the pipelines of {sha[:12]}", f"commit {sha[:12]}"):
            runs = self._project.pipelines.list(
                sha=sha, order_by="id", sort="desc", per_page=1, get_all=False
            )
            jobs = runs[0].jobs.list(get_all=True) if runs else []
        checks = []
        for job in jobs:
            status, conclusion = JOB_CHECKS.get(str(job.status), ("queued", None))
            if conclusion == "failure" and job.attributes.get("allow_failure"):
                conclusion = "neutral"
            checks.append(
                CheckRun(
                    id=int(job.id),
                    name=str(job.name),
                    status=status,
                    conclusion=conclusion,
                    head_sha=sha,
                )
            )
        return checks

    def post_review(
        self,
        number: int,
        sha: str,
        body: str,
        comments: Sequence[LineComment] = (),
        event: ReviewEvent = "COMMENT",
    ) -> int:
        """A note with `body`, one diff discussion per line comment, and an approval for
        `APPROVE`; the note's id (the first discussion's when there is no body). GitLab has no
        "request changes" to send: that review is its words."""
        what = f"merge request !{number}"
        with self._call(f"review {what}", what):
            mr = self._project.mergerequests.get(number)
            refs = mr.attributes.get("diff_refs") or {}
            if refs.get("head_sha") != sha:
                raise ForgeError(
                    f"Merge request !{number} on {self.repo} has moved past {sha[:12]}; "
                    "review its new head instead."
                )
            first: int | None = None
            if body or not comments:
                first = int(mr.notes.create({"body": body}).id)
            for line in comments:
                position = {
                    "position_type": "text",
                    "base_sha": refs["base_sha"],
                    "start_sha": refs["start_sha"],
                    "head_sha": refs["head_sha"],
                    "old_path": line.path,
                    "new_path": line.path,
                    "new_line": line.line,
                }
                made = mr.discussions.create({"body": line.body, "position": position})
                first = first or int(made.attributes["notes"][0]["id"])
            if event == "APPROVE":
                mr.approve(sha=sha)
        assert first is not None
        return first

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


def _name(user: Any) -> str:
    return str(user.get("username") or "") if isinstance(user, dict) else ""


def _issue(data: dict[str, Any]) -> Issue:
    return Issue(
        number=int(data["iid"]),
        title=str(data.get("title") or ""),
        body=str(data.get("description") or ""),
        state="open" if data.get("state") == "opened" else "closed",
        url=str(data.get("web_url") or ""),
        labels=[str(x) for x in data.get("labels") or []],
        author=_name(data.get("author")),
        updated_at=str(data.get("updated_at") or ""),
    )


def _pull(data: dict[str, Any]) -> PullRequest:
    state = str(data.get("state") or "")
    detailed = data.get("detailed_merge_status")
    if detailed is None:
        old = data.get("merge_status")
        detailed = {"can_be_merged": "mergeable", "cannot_be_merged": "conflict"}.get(str(old))
    mergeable, mergeable_state = MERGE_STATES.get(str(detailed), (True, "blocked"))
    if state != "opened":
        mergeable, mergeable_state = None, "unknown"
    return PullRequest(
        number=int(data["iid"]),
        url=str(data.get("web_url") or ""),
        state="open" if state == "opened" else "closed",
        merged=state == "merged",
        mergeable=mergeable,
        mergeable_state=mergeable_state,
        head_ref=str(data.get("source_branch") or ""),
        head_sha=str(data.get("sha") or ""),
        base_ref=str(data.get("target_branch") or ""),
        title=str(data.get("title") or ""),
        body=str(data.get("description") or ""),
        author=_name(data.get("author")),
        draft=bool(data.get("draft") or data.get("work_in_progress")),
    )
