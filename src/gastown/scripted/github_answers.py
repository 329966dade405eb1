"""How the fake GitHub's state reads in GitHub's JSON (issues, pull requests, pages of a
listing), and the webhook events sent as it changes."""

from __future__ import annotations

import urllib.parse
from typing import Any

from gastown.scripted import github_shapes as shapes
from gastown.scripted.github_records import (
    HTML_HOST,
    FakeIssue,
    FakePull,
    _html,
    _kind_path,
    _owner,
)
from gastown.scripted.github_state import GitHubState


class GitHubAnswers(GitHubState):
    """The fake's state in GitHub's shapes, and its webhook events."""

    def _emit(
        self,
        repo: str,
        event: str,
        action: str,
        number: int,
        sender: str,
        *,
        label: str | None = None,
    ) -> None:
        """Send `event` to the hooks of `repo`; called with the lock let go, so a receiver may
        call the fake back. (A route queues its events with `queue`.)"""
        with self._lock:
            hooks = [h for h in self.hooks.hooks if h.repo == repo and event in h.events]
            if not hooks:
                return
            target = self._target(number)
            payload: dict[str, Any] = {"action": action}
            if event == "issues":
                payload["issue"] = self.issue_json(target)
            else:
                payload |= {"number": number, "pull_request": self.pull_json(target, full=True)}  # type: ignore[arg-type]
            if label is not None:
                payload["label"] = self._label(repo, label)
            payload |= {
                "repository": shapes.repository(self.url, repo, self._stamp()),
                "sender": shapes.user(self.url, sender),
            }
        for hook in hooks:
            self.hooks.send(hook, event, payload)

    def queue(
        self, repo: str, event: str, action: str, number: int, *, label: str | None = None
    ) -> None:
        """Send `event` once the request being answered is answered (a route's events)."""
        self._pending.append((repo, event, action, number, self.login, label))

    # --- shapes -----------------------------------------------------------------------------

    def issue_json(self, target: FakeIssue | FakePull) -> dict[str, Any]:
        """An issue in GitHub's shape; a pull request's issue side has `pull_request`."""
        api = f"{self.url}/repos/{target.repo}/issues/{target.number}"
        html = f"{HTML_HOST}/{target.repo}/{_kind_path(target)}/{target.number}"
        out: dict[str, Any] = {
            "id": 700000 + target.number,
            "node_id": shapes.node_id("I", target.number),
            "url": api,
            "repository_url": f"{self.url}/repos/{target.repo}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": html,
            "number": target.number,
            "state": target.state,
            "state_reason": getattr(target, "state_reason", None),
            "title": target.title,
            "body": target.body,
            "user": shapes.user(self.url, target.user),
            "labels": [self._label(target.repo, n) for n in target.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "comments": len(self._issue_comments.get(target.number, [])),
            "closed_at": target.closed_at,
            "created_at": target.created_at,
            "updated_at": target.updated_at or target.created_at,
            "author_association": "MEMBER",
        }
        if isinstance(target, FakePull):
            out["pull_request"] = {
                "url": f"{self.url}/repos/{target.repo}/pulls/{target.number}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": target.merged_at,
            }
        return out

    def pull_json(self, pull: FakePull, *, full: bool) -> dict[str, Any]:
        """A pull request in GitHub's shape; listings leave out the mergeability fields."""
        owner, stamp = _owner(pull.repo), pull.created_at
        api, html = f"{self.url}/repos/{pull.repo}", _html(pull)
        out: dict[str, Any] = {
            "url": f"{api}/pulls/{pull.number}",
            "id": 500000 + pull.number,
            "node_id": shapes.node_id("PR", pull.number),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{pull.number}",
            "commits_url": f"{api}/pulls/{pull.number}/commits",
            "review_comments_url": f"{api}/pulls/{pull.number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pull.number}/comments",
            "statuses_url": f"{api}/statuses/{pull.head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "body": pull.body,
            "user": shapes.user(self.url, pull.user),
            "labels": [self._label(pull.repo, n) for n in pull.labels],
            "milestone": None,
            "assignee": None,
            "created_at": stamp,
            "updated_at": pull.updated_at or pull.closed_at or stamp,
            "closed_at": pull.closed_at,
            "merged_at": pull.merged_at,
            "merge_commit_sha": pull.merge_commit_sha,
            "draft": pull.draft,
            "head": self._branch(owner, pull.repo, pull.head, pull.head_sha, stamp),
            "base": self._branch(owner, pull.repo, pull.base, pull.base_sha, stamp),
            "_links": shapes.links(
                self=f"{api}/pulls/{pull.number}",
                html=html,
                issue=f"{api}/issues/{pull.number}",
                comments=f"{api}/issues/{pull.number}/comments",
                review_comments=f"{api}/pulls/{pull.number}/comments",
                review_comment=f"{api}/pulls/comments{{/number}}",
                commits=f"{api}/pulls/{pull.number}/commits",
                statuses=f"{api}/statuses/{pull.head_sha}",
            ),
            "author_association": "MEMBER",
            "auto_merge": None,
        }
        if full:
            mergeable, state = self._mergeability(pull)
            out |= {
                "merged": pull.merged,
                "mergeable": mergeable,
                "mergeable_state": state,
                "merged_by": shapes.user(self.url, pull.merged_by) if pull.merged_by else None,
                "comments": len(self._issue_comments.get(pull.number, [])),
                "review_comments": len(self._review_comments.get(pull.number, [])),
                "maintainer_can_modify": False,
                "commits": 1,
                "additions": 0,
                "deletions": 0,
                "changed_files": 0,
            }
        return out

    def _branch(self, owner: str, repo: str, ref: str, sha: str, stamp: str) -> dict[str, Any]:
        return {
            "label": f"{owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": shapes.user(self.url, owner, "Organization"),
            "repo": shapes.repository(self.url, repo, stamp),
        }

    def page(
        self, items: list[Any], path: str, query: dict[str, str]
    ) -> tuple[list[Any], dict[str, str]]:
        """One page of a listing and its `Link` header, as GitHub pages (30 by default)."""
        per_page = min(max(int(query.get("per_page", "30")), 1), 100)
        page = max(int(query.get("page", "1")), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)

        def link(n: int, rel: str) -> str:
            url = f"{self.url}{path}?{urllib.parse.urlencode({**query, 'page': n})}"
            return f'<{url}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"Link": ", ".join(links)} if links else {}
        return items[(page - 1) * per_page : page * per_page], headers
