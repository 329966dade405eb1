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

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from gastown import config
from gastown.forge.base import (
    CheckRun,
    Comment,
    ForgeError,
    Issue,
    LineComment,
    PullRequest,
    Review,
    ReviewComment,
    ReviewEvent,
)
from gastown.forge.gitlab_http import GitLabClient
from gastown.sections import sections

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


class GitLabForge(GitLabClient):
    """One GitLab project, addressed by its full path."""

    kind: Literal["gitlab"] = "gitlab"

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
