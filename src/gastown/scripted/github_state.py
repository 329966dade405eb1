"""The state the fake GitHub keeps, and the changes to it every route and test control
shares: issues, pull requests, labels, comments, reviews and check runs, with what git says
of a pull request's branches (its head, whether it merges, the merge commit itself)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

from gastown.scripted import github_shapes as shapes
from gastown.scripted.github_hooks import Exchange, HookDeliveries
from gastown.scripted.github_records import (
    CHECKS_OK,
    CLOSING,
    HTML_HOST,
    MERGER,
    RATE_LIMIT,
    FakeIssue,
    FakePull,
    GitHubAnswer,
    _html,
    _kind_path,
    _owner,
)
from gastown.scripted.local_http import LocalHttp


class GitHubState(LocalHttp):
    """The fake's state and its bookkeeping; `FakeGitHub` adds the HTTP side."""

    _handler: ClassVar[type[BaseHTTPRequestHandler]]
    """The request handler the server is started with."""

    def __init__(
        self,
        repos: dict[str, Path],
        token: str,
        *,
        login: str = "gastown",
        now: Callable[[], float] = time.time,
        apps: dict[int, str] | None = None,
        installations: dict[int, int] | None = None,
        observe: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.repos = dict(repos)
        self.token = token
        self.login = login
        """Who the token belongs to: the author of what is made through the API."""
        self.now = now
        self.apps = dict(apps or {})
        """GitHub Apps by id: the PEM public key their JWTs are signed for."""
        self.installations = dict(installations or {})
        """Installation id → the app installed; its tokens act as `login` too."""
        self.observe = observe
        self.requests: list[tuple[str, str]] = []
        """Every request received, in order: (method, path with its query string)."""
        self.counted = 0
        """Requests that counted against the rate limit (every answer but a 304)."""
        self.not_modified = 0
        """Conditional requests answered 304 Not Modified, which GitHub does not count."""
        self.rate_limit = RATE_LIMIT
        self.rate_remaining = RATE_LIMIT
        self.rate_reset = int(now()) + 3600
        self.hooks = HookDeliveries()
        self._lock = threading.RLock()
        self._issues: dict[int, FakeIssue] = {}
        self._pulls: dict[int, FakePull] = {}
        self._labels: dict[str, dict[str, dict[str, Any]]] = {r: {} for r in self.repos}
        self._reviews: dict[int, list[dict[str, Any]]] = {}
        self._review_comments: dict[int, list[dict[str, Any]]] = {}
        self._issue_comments: dict[int, list[dict[str, Any]]] = {}
        self._check_runs: dict[str, list[dict[str, Any]]] = {}
        self._tokens: set[str] = set()
        self._pending: list[tuple[str, str, str, int, str, str | None]] = []
        self._next_id = 1000
        self._listen(self._handler)

    # --- state ------------------------------------------------------------------------------

    def _new_issue(
        self, repo: str, title: str, body: str, labels: list[str], user: str
    ) -> FakeIssue:
        if repo not in self.repos:
            raise KeyError(f"the fake serves no repository {repo}")
        stamp = self._stamp()
        issue = FakeIssue(
            number=self._next_number(),
            repo=repo,
            title=title,
            body=body,
            user=user,
            created_at=stamp,
            updated_at=stamp,
        )
        self._add_labels(issue, labels)
        self._issues[issue.number] = issue
        return issue

    def _set_issue_state(
        self, target: FakeIssue | FakePull, state: str, reason: str | None
    ) -> None:
        stamp = self._stamp()
        if isinstance(target, FakeIssue):
            target.state_reason = reason if state == "closed" else "reopened"
        target.state, target.updated_at = state, stamp
        target.closed_at = stamp if state == "closed" else None

    def _add_labels(self, target: FakeIssue | FakePull, names: Sequence[str]) -> None:
        for name in names:
            self._label(target.repo, name)
            if name not in target.labels:
                target.labels.append(name)
        target.updated_at = self._stamp()

    def _label(
        self, repo: str, name: str, color: str = "ededed", description: str | None = None
    ) -> dict[str, Any]:
        """Label `name` of `repo`, made if new (GitHub makes a label added to an issue)."""
        known = self._labels[repo]
        for existing in known.values():
            if existing["name"].lower() == name.lower():
                return existing
        known[name] = shapes.label(self.url, repo, name, self._new_id(), color, description)
        return known[name]

    def _store_comment(self, target: FakeIssue | FakePull, body: str, user: str) -> int:
        comment_id, stamp = self._new_id(), self._stamp()
        html = f"{HTML_HOST}/{target.repo}/{_kind_path(target)}/{target.number}"
        self._issue_comments.setdefault(target.number, []).append(
            {
                "id": comment_id,
                "node_id": shapes.node_id("IC", comment_id),
                "url": f"{self.url}/repos/{target.repo}/issues/comments/{comment_id}",
                "html_url": f"{html}#issuecomment-{comment_id}",
                "issue_url": f"{self.url}/repos/{target.repo}/issues/{target.number}",
                "body": body,
                "user": shapes.user(self.url, user),
                "author_association": "MEMBER",
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        target.updated_at = stamp
        return comment_id

    def _store_review(
        self,
        pull: FakePull,
        state: str,
        body: str,
        comments: list[dict[str, Any]],
        user: str,
        commit: str,
    ) -> int:
        review_id, stamp = self._new_id(), self._stamp()
        html, api = _html(pull), f"{self.url}/repos/{pull.repo}/pulls/{pull.number}"
        self._reviews.setdefault(pull.number, []).append(
            {
                "id": review_id,
                "node_id": shapes.node_id("PRR", review_id),
                "user": shapes.user(self.url, user),
                "body": body,
                "state": state,
                "html_url": f"{html}#pullrequestreview-{review_id}",
                "pull_request_url": api,
                "_links": shapes.links(
                    html=f"{html}#pullrequestreview-{review_id}", pull_request=api
                ),
                "submitted_at": stamp,
                "commit_id": commit,
                "author_association": "MEMBER",
            }
        )
        for comment in comments:
            comment_id = self._new_id()
            url = f"{self.url}/repos/{pull.repo}/pulls/comments/{comment_id}"
            self._review_comments.setdefault(pull.number, []).append(
                {
                    "url": url,
                    "id": comment_id,
                    "node_id": shapes.node_id("PRRC", comment_id),
                    "pull_request_review_id": review_id,
                    "diff_hunk": comment.get("diff_hunk", "@@"),
                    "path": comment["path"],
                    "line": comment.get("line"),
                    "side": comment.get("side", "RIGHT"),
                    "body": comment["body"],
                    "user": shapes.user(self.url, user),
                    "commit_id": commit,
                    "original_commit_id": commit,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "html_url": f"{html}#discussion_r{comment_id}",
                    "pull_request_url": api,
                    "author_association": "MEMBER",
                    "_links": shapes.links(
                        self=url, html=f"{html}#discussion_r{comment_id}", pull_request=api
                    ),
                }
            )
        pull.updated_at = stamp
        return review_id

    # --- state from git -------------------------------------------------------------------

    def _merge(self, pull: FakePull, tree: str, method: str, by: str) -> tuple[str, list[int]]:
        """Write the merge commit of `tree` on the base branch without a worktree. The merge
        commit's sha, and the issues its closing keywords closed."""
        if method == "squash":
            message = f"{pull.title} (#{pull.number})\n\n{pull.body}".rstrip() + "\n"
            parents = ["-p", pull.base_sha]
        else:
            owner = _owner(pull.repo)
            message = (
                f"Merge pull request #{pull.number} from {owner}/{pull.head}\n\n{pull.title}\n"
            )
            parents = ["-p", pull.base_sha, "-p", pull.head_sha]
        made = self.git(pull.repo, "commit-tree", tree, *parents, "-m", message, env=MERGER)
        if made.returncode != 0:
            raise RuntimeError(f"git commit-tree failed: {made.stderr.strip()}")
        sha = made.stdout.strip()
        moved = self.git(pull.repo, "update-ref", f"refs/heads/{pull.base}", sha, pull.base_sha)
        if moved.returncode != 0:
            raise GitHubAnswer(409, "Base branch was modified. Review and try the merge again.")
        stamp = self._stamp()
        pull.state, pull.merged, pull.merged_at, pull.closed_at = "closed", True, stamp, stamp
        pull.merged_by, pull.merge_commit_sha, pull.updated_at = by, sha, stamp
        return sha, self._close_fixed(pull)

    def _close_fixed(self, pull: FakePull) -> list[int]:
        """Close the open issues a merged pull request's description names with a closing
        keyword (`Fixes #1`, `closes acme/app#2`, `Resolves: https://…/issues/3`), as GitHub
        does when it merges into the repository's default branch. Their numbers."""
        if pull.base != self.default_branch(pull.repo):
            return []
        closed = []
        for match in CLOSING.finditer(pull.body or ""):
            repo = match["repo"] or match["url_repo"] or pull.repo
            number = int(match["number"] or match["url_number"])
            issue = self._issues.get(number)
            if issue is None or issue.repo.lower() != repo.lower() or issue.state != "open":
                continue
            self._set_issue_state(issue, "closed", "completed")
            closed.append(number)
        return closed

    def default_branch(self, repo: str) -> str:
        """The branch the bare repository's HEAD names (GitHub's default branch)."""
        done = self.git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
        return done.stdout.strip() if done.returncode == 0 else "main"

    def _merge_tree(self, pull: FakePull) -> str | None:
        """The merged tree of base and head, or None when they conflict."""
        done = self.git(pull.repo, "merge-tree", "--write-tree", pull.base_sha, pull.head_sha)
        if done.returncode == 1:
            return None
        if done.returncode != 0:
            raise RuntimeError(f"git merge-tree failed: {done.stderr.strip()}")
        return done.stdout.splitlines()[0]

    def _blocker(self, pull: FakePull) -> str | None:
        """GitHub's reason an open pull request cannot be merged now, or None."""
        if self._merge_tree(pull) is None:
            return "Pull Request is not mergeable"
        latest: dict[str, str] = {}
        for review in self._reviews.get(pull.number, []):
            if review["state"] in ("APPROVED", "CHANGES_REQUESTED"):
                latest[review["user"]["login"]] = review["state"]
        if "CHANGES_REQUESTED" in latest.values():
            return "Changes have been requested on this pull request."
        for run in self._check_runs.get(pull.head_sha, []):
            if run["status"] != "completed":
                return f'Required status check "{run["name"]}" is expected.'
            if run["conclusion"] not in CHECKS_OK:
                return f'Required status check "{run["name"]}" is failing.'
        return None

    def _mergeability(self, pull: FakePull) -> tuple[bool | None, str]:
        if pull.state != "open":
            return None, "unknown"
        blocker = self._blocker(pull)
        if blocker == "Pull Request is not mergeable":
            return False, "dirty"
        return True, "clean" if blocker is None else "blocked"

    def _refresh(self, pull: FakePull) -> FakePull:
        """Read head and base tips from git while the pull request is open, and keep
        `refs/pull/N/head` at the head, as GitHub serves it to `git fetch`."""
        if pull.state == "open":
            pull.head_sha = self.resolve(pull.repo, pull.head) or pull.head_sha
            pull.base_sha = self.resolve(pull.repo, pull.base) or pull.base_sha
        if pull.head_sha:
            self.git(pull.repo, "update-ref", f"refs/pull/{pull.number}/head", pull.head_sha)
        return pull

    def resolve(self, repo: str, ref: str) -> str | None:
        """The commit a branch (or sha) names in `repo` now, or None."""
        for name in (f"refs/heads/{ref}", ref):
            done = self.git(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
            if done.returncode == 0:
                return done.stdout.strip()
        return None

    _resolve = resolve

    def git(
        self, repo: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run git in the bare repository behind `repo`."""
        return subprocess.run(
            ["git", *args],
            cwd=self.repos[repo],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", **(env or {})},
            check=False,
        )

    # --- bookkeeping ----------------------------------------------------------------------

    def _target(self, number: int) -> FakeIssue | FakePull:
        if number in self._pulls:
            return self._pulls[number]
        return self._issue(number)

    def _issue(self, number: int) -> FakeIssue:
        if number not in self._issues:
            raise KeyError(f"no issue #{number}")
        return self._issues[number]

    def _pull(self, number: int) -> FakePull:
        if number not in self._pulls:
            raise KeyError(f"no pull request #{number}")
        return self._pulls[number]

    def _repo_for(self, repo: str | None) -> str:
        if repo is not None:
            return repo
        if len(self.repos) != 1:
            raise ValueError("name the repository: the fake serves more than one")
        return next(iter(self.repos))

    def _next_number(self) -> int:
        return max([*self._pulls, *self._issues], default=0) + 1

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _stamp(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now()))
