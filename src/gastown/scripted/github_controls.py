"""What people and CI do on the fake GitHub, as plain methods a test calls: the rate limit
and webhooks, issues, pull requests, reviews, comments and check runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gastown.record import replace
from gastown.scripted import github_shapes as shapes
from gastown.scripted.github_answers import GitHubAnswers
from gastown.scripted.github_hooks import Hook
from gastown.scripted.github_records import HTML_HOST, FakeIssue, FakePull, _kind


class GitHubControls(GitHubAnswers):
    """The test controls over the fake's state."""

    # --- test controls: the rate limit and webhooks ---------------------------------------

    @property
    def rate_limited_until(self) -> int | None:
        """The reset time while the rate limit is used up, else None."""
        return self.rate_reset if self.rate_remaining <= 0 else None

    @rate_limited_until.setter
    def rate_limited_until(self, until: int | None) -> None:
        self.exhaust_rate_limit(until) if until is not None else self.reset_rate_limit()

    def exhaust_rate_limit(self, until: int) -> None:
        """Use the rate limit up until Unix time `until`: every request is refused with 403."""
        with self._lock:
            self.rate_remaining, self.rate_reset = 0, until

    def reset_rate_limit(self) -> None:
        """Give the rate limit back in full."""
        with self._lock:
            self.rate_remaining = self.rate_limit

    def add_hook(
        self, repo: str, url: str, secret: str, events: Sequence[str] = ("issues", "pull_request")
    ) -> int:
        """Send `events` on `repo` to `url` from now on, signed with `secret`. The hook's id."""
        with self._lock:
            hook = Hook(id=self._new_id(), repo=repo, url=url, secret=secret, events=list(events))
            self.hooks.hooks.append(hook)
            return hook.id

    # --- test controls: issues ------------------------------------------------------------

    @property
    def issues(self) -> dict[int, FakeIssue]:
        """A copy of every issue (not pull request) by number."""
        with self._lock:
            return {n: replace(i) for n, i in self._issues.items()}

    def open_issue(
        self,
        repo: str,
        title: str,
        body: str = "",
        labels: Sequence[str] = (),
        user: str = "someone",
    ) -> int:
        """Open an issue as `user` would on the web. Its number."""
        with self._lock:
            issue = self._new_issue(repo, title, body, list(labels), user)
        self._emit(repo, "issues", "opened", issue.number, user)
        return issue.number

    def edit_issue(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        user: str = "someone",
    ) -> None:
        """Change issue `number`'s title or body as `user` would on the web."""
        with self._lock:
            issue = self._issue(number)
            issue.title = title if title is not None else issue.title
            issue.body = body if body is not None else issue.body
            issue.updated_at = self._stamp()
        self._emit(issue.repo, "issues", "edited", number, user)

    def close_issue(self, number: int, reason: str = "completed", user: str = "someone") -> None:
        """Close issue `number` as `user` would on the web, for `reason`."""
        with self._lock:
            issue = self._issue(number)
            self._set_issue_state(issue, "closed", reason)
        self._emit(issue.repo, "issues", "closed", number, user)

    def label_issue(self, number: int, *labels: str, user: str = "someone") -> None:
        """Add labels to issue or pull request `number` (made in the repository if new)."""
        with self._lock:
            target = self._target(number)
            self._add_labels(target, labels)
        for name in labels:
            self._emit(target.repo, _kind(target), "labeled", number, user, label=name)

    def add_label(self, repo: str, name: str, color: str = "ededed", description: str = "") -> None:
        """Create label `name` in `repo`."""
        with self._lock:
            self._label(repo, name, color, description or None)

    # --- test controls: pull requests -----------------------------------------------------

    @property
    def pulls(self) -> dict[int, FakePull]:
        """A copy of every pull request by number, with head and base as git has them now."""
        with self._lock:
            return {n: replace(self._refresh(p)) for n, p in self._pulls.items()}

    def reviews(self, number: int) -> list[dict[str, Any]]:
        """The reviews of pull request `number` in GitHub's shape, oldest first."""
        with self._lock:
            return [dict(r) for r in self._reviews.get(number, [])]

    def review_comments(self, number: int) -> list[dict[str, Any]]:
        """The comments on lines of pull request `number`, in GitHub's shape, oldest first."""
        with self._lock:
            return [dict(c) for c in self._review_comments.get(number, [])]

    def comments(self, number: int) -> list[dict[str, Any]]:
        """The conversation comments on issue or pull request `number`."""
        with self._lock:
            return [dict(c) for c in self._issue_comments.get(number, [])]

    def add_review(
        self,
        number: int,
        state: str,
        body: str = "",
        comments: list[dict[str, Any]] | None = None,
        user: str = "reviewer",
    ) -> int:
        """Submit a review (APPROVED, CHANGES_REQUESTED or COMMENTED) on the current head;
        each of `comments` ({"path", "line", "body"}) becomes a review comment. Its id."""
        if state not in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED"):
            raise ValueError(f"unknown review state {state!r}")
        with self._lock:
            pull = self._refresh(self._pull(number))
            return self._store_review(pull, state, body, comments or [], user, pull.head_sha)

    def add_issue_comment(self, number: int, body: str, user: str = "reviewer") -> int:
        """Comment on the conversation of issue or pull request `number`. The comment's id."""
        with self._lock:
            return self._store_comment(self._target(number), body, user)

    def set_check_run(
        self,
        sha_or_branch: str,
        name: str,
        status: str = "completed",
        conclusion: str | None = "success",
        *,
        repo: str | None = None,
    ) -> str:
        """Report check `name` on a commit (a branch name means its tip now), replacing an
        earlier report of the same name. The commit's sha."""
        with self._lock:
            repo = self._repo_for(repo)
            sha = self._resolve(repo, sha_or_branch) or sha_or_branch
            runs = self._check_runs.setdefault(sha, [])
            old = next((r for r in runs if r["name"] == name), None)
            ident = old["id"] if old else self._new_id()
            run: dict[str, Any] = {
                "id": ident,
                "node_id": shapes.node_id("CR", ident),
                "external_id": None,
                "name": name,
                "head_sha": sha,
                "url": f"{self.url}/repos/{repo}/check-runs/{ident}",
                "html_url": f"{HTML_HOST}/{repo}/runs/{ident}",
                "details_url": None,
                "status": status,
                "conclusion": conclusion if status == "completed" else None,
                "started_at": self._stamp(),
                "completed_at": self._stamp() if status == "completed" else None,
                "output": {
                    "title": None,
                    "summary": None,
                    "text": None,
                    "annotations_count": 0,
                    "annotations_url": f"{self.url}/repos/{repo}/check-runs/{ident}/annotations",
                },
                "check_suite": {"id": ident + 1},
                "app": shapes.integration(self.url, "fake-ci"),
                "pull_requests": [],
            }
            if old is None:
                runs.append(run)
            else:
                runs[runs.index(old)] = run
            return sha

    def open_pull(
        self,
        head: str,
        base: str,
        title: str,
        body: str = "",
        *,
        user: str = "someone",
        draft: bool = False,
        repo: str | None = None,
    ) -> int:
        """Open a pull request of branch `head` into `base` as `user` would on the web (a
        person, unless `user` is the token's login). Its number."""
        with self._lock:
            repo = self._repo_for(repo)
            head_sha, base_sha = self.resolve(repo, head), self.resolve(repo, base)
            if head_sha is None or base_sha is None:
                raise ValueError(f"no branch {head!r} or {base!r} in {repo}")
            stamp = self._stamp()
            pull = FakePull(
                number=self._next_number(),
                repo=repo,
                title=title,
                body=body,
                head=head,
                base=base,
                user=user,
                created_at=stamp,
                updated_at=stamp,
                head_sha=head_sha,
                base_sha=base_sha,
                draft=draft,
            )
            self._pulls[pull.number] = self._refresh(pull)
        self._emit(repo, "pull_request", "opened", pull.number, user)
        return pull.number

    def close(self, number: int) -> None:
        """Close pull request `number` unmerged, as a person would on the web."""
        with self._lock:
            pull = self._refresh(self._pull(number))
            pull.state, pull.closed_at = "closed", self._stamp()
            pull.updated_at = pull.closed_at
        self._emit(pull.repo, "pull_request", "closed", number, "someone")

    def merge_outside(self, number: int, method: str = "merge") -> str:
        """Merge pull request `number` as a person with admin rights would on the web: reviews
        and checks are not consulted, conflicts still are. The merge commit's sha."""
        with self._lock:
            pull = self._refresh(self._pull(number))
            if pull.state != "open":
                raise ValueError(f"pull request #{number} is {pull.state}")
            tree = self._merge_tree(pull)
            if tree is None:
                raise ValueError(f"pull request #{number} has conflicts with {pull.base}")
            sha, fixed = self._merge(pull, tree, method, by="maintainer")
        self._emit(pull.repo, "pull_request", "closed", number, "maintainer")
        for issue in fixed:
            self._emit(pull.repo, "issues", "closed", issue, "maintainer")
        return sha
