"""What people and CI do on the fake GitLab, as plain methods a test calls: tokens and
webhooks, issues, merge requests, notes, approvals and pipelines; and what it has counted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gastown.scripted import gitlab_json as shape
from gastown.scripted.gitlab_json import FakeIssue, FakeMergeRequest
from gastown.scripted.gitlab_state import Delivery, GitLabState, _post

JOB_STATUSES = frozenset(
    {"created", "pending", "running", "success", "failed", "canceled", "skipped", "manual"}
)


class GitLabControls(GitLabState):
    """The test controls over the fake's state."""

    # --- counting -------------------------------------------------------------------------

    @property
    def counted(self) -> int:
        """Requests that count against a rate limit: all but those answered 304."""
        return sum(1 for r in self.requests if r.status != 304)

    @property
    def not_modified(self) -> int:
        return sum(1 for r in self.requests if r.status == 304)

    # --- test controls --------------------------------------------------------------------

    def add_token(self, value: str, scopes: Sequence[str] = ("read_api",)) -> None:
        self.tokens[value] = tuple(scopes)

    def add_webhook(self, url: str, secret: str) -> None:
        """Deliver issue, merge request and note events to `url`, with `secret` as the
        `X-Gitlab-Token` header."""
        with self._lock:
            self._hooks.append((url, secret))

    def redeliver(self, delivery_uuid: str) -> Delivery:
        """Send a past delivery again, with the same UUID, as "Resend request" does."""
        with self._lock:
            old = next(d for d in self.deliveries if d.uuid == delivery_uuid)
            again = Delivery(old.uuid, old.event, old.url, old.body)
            self.deliveries.append(again)
        _post(again, self._secret(again.url))
        return again

    def open_issue(
        self,
        title: str,
        description: str = "",
        labels: Sequence[str] = (),
        *,
        author: str = "reporter",
        project: str | None = None,
    ) -> int:
        """A person opens an issue; its iid."""
        with self._writing():
            p = self._project_for(project)
            return self._create_issue(p, title, description, list(labels), author).iid

    def edit_issue(
        self,
        iid: int,
        *,
        title: str | None = None,
        description: str | None = None,
        labels: Sequence[str] | None = None,
        author: str = "reporter",
        project: str | None = None,
    ) -> None:
        with self._writing():
            p = self._project_for(project)
            changes: dict[str, Any] = {"title": title, "description": description}
            if labels is not None:
                changes["labels"] = ",".join(labels)
            self._update_issue(p, self._issue(p, iid), changes, author)

    def close_issue(self, iid: int, *, by: str = "reporter", project: str | None = None) -> None:
        with self._writing():
            p = self._project_for(project)
            self._update_issue(p, self._issue(p, iid), {"state_event": "close"}, by)

    def add_note(
        self,
        iid: int,
        body: str,
        *,
        on: str = "Issue",
        author: str = "reviewer",
        project: str | None = None,
    ) -> int:
        """A person comments on issue (`on="Issue"`) or merge request (`"MergeRequest"`)
        `iid`; the note's id."""
        with self._writing():
            p = self._project_for(project)
            return int(self._add_note(p, on, iid, body, author)["id"])

    def open_merge_request(
        self,
        source: str,
        target: str,
        title: str,
        description: str = "",
        *,
        by: str = "someone",
        draft: bool = False,
        project: str | None = None,
    ) -> int:
        """Open a merge request of branch `source` into `target` as `by` would on the web (a
        person, unless `by` is the token's user). Its iid."""
        with self._writing():
            p = self._project_for(project)
            stamp = self._stamp()
            mr = FakeMergeRequest(
                id=self._new_id(),
                iid=max(p.merge_requests, default=0) + 1,
                title=f"Draft: {title}" if draft else title,
                description=description,
                source_branch=source,
                target_branch=target,
                author=by,
                created_at=stamp,
                updated_at=stamp,
                draft=draft,
            )
            p.merge_requests[mr.iid] = self._refresh(p, mr)
            self._mr_hook(p, mr, "open", by)
            return mr.iid

    def approve(self, iid: int, *, by: str = "reviewer", project: str | None = None) -> None:
        with self._writing():
            p = self._project_for(project)
            self._approve(p, self._refresh(p, self._mr(p, iid)), by, None)

    def set_pipeline(
        self,
        ref_or_sha: str,
        jobs: Mapping[str, str],
        *,
        allow_failure: Sequence[str] = (),
        project: str | None = None,
    ) -> int:
        """A pipeline ran (or runs) on a commit (a branch means its tip now) with these jobs
        and statuses (`success`, `failed`, `running`, `pending`, `canceled`, `skipped`,
        `manual`, `created`); it supersedes earlier pipelines of that commit. Its id."""
        with self._writing():
            p = self._project_for(project)
            sha = self._resolve(p, ref_or_sha)
            if sha is None:
                raise ValueError(f"no commit {ref_or_sha!r} in {p.path}")
            if unknown := set(jobs.values()) - JOB_STATUSES:
                raise ValueError(f"unknown job status {sorted(unknown)}")
            stamp, pid = self._stamp(), self._new_id()
            ref = ref_or_sha if sha != ref_or_sha else p.default_branch
            runs = [
                {
                    "id": self._new_id(),
                    "name": name,
                    "stage": "test",
                    "status": status,
                    "allow_failure": name in allow_failure,
                    "created_at": stamp,
                    "started_at": None if status in ("created", "pending") else stamp,
                    "finished_at": stamp if status in ("success", "failed", "canceled") else None,
                    "duration": None,
                    "web_url": f"{shape.HTML_HOST}/{p.path}/-/jobs/{pid}",
                    "user": shape.user(self.username),
                }
                for name, status in jobs.items()
            ]
            p.pipelines.append(
                {
                    "id": pid,
                    "iid": len(p.pipelines) + 1,
                    "project_id": p.id,
                    "sha": sha,
                    "ref": ref,
                    "status": _pipeline_status(runs),
                    "source": "push",
                    "created_at": stamp,
                    "updated_at": stamp,
                    "web_url": f"{shape.HTML_HOST}/{p.path}/-/pipelines/{pid}",
                    "jobs": runs,
                }
            )
            return pid

    def merge_requests(self, project: str | None = None) -> dict[int, FakeMergeRequest]:
        """Every merge request by iid, with its head as git has it now."""
        with self._lock:
            p = self._project_for(project)
            return {n: self._refresh(p, mr) for n, mr in p.merge_requests.items()}

    def issues(self, project: str | None = None) -> dict[int, FakeIssue]:
        with self._lock:
            return dict(self._project_for(project).issues)

    def notes(
        self, iid: int, on: str = "Issue", project: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._project_for(project).notes.get((on, iid), []))


def _pipeline_status(jobs: list[dict[str, Any]]) -> str:
    statuses = {j["status"] for j in jobs if not (j["allow_failure"] and j["status"] == "failed")}
    for status in ("running", "pending", "created", "failed", "canceled"):
        if status in statuses:
            return status
    return "success" if "success" in statuses or not statuses else "skipped"
