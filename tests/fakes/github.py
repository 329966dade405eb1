"""A fake GitHub REST API for pull requests, backed by real bare git repositories.

`FakeGitHub(repos={"owner/name": bare_repo_path}, token="...")` serves the endpoints the
refinery's client uses on 127.0.0.1, in GitHub's JSON shapes, with GitHub's error bodies and
`Link` pagination. What git can answer comes from git at request time: a pull request's head
commit is the branch tip now (a later push shows up), `mergeable_state` is `dirty` when
`git merge-tree` finds conflicts, and merging writes a real merge commit onto the base branch.
What only people and CI can say (reviews, comments, check runs, a merge or close done by hand)
is set through plain methods:

    with FakeGitHub(repos={"acme/app": bare}, token="t") as github:
        pr = client.create_pull("feature", "main", "Add it", "")
        github.add_review(pr.number, "CHANGES_REQUESTED", comments=[{"path": "a.py", ...}])
        github.set_check_run("feature", "ci", "completed", "failure")

Pull-request numbers are unique across the whole fake, so the controls need no repository.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gastown.record import Record, replace

HTML_HOST = "https://github.test"
DOCS = "https://docs.github.com/rest"
CHECKS_OK = ("success", "neutral", "skipped")
MERGER = {
    "GIT_AUTHOR_NAME": "GitHub",
    "GIT_AUTHOR_EMAIL": "noreply@github.test",
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.test",
}

Answer = tuple[int, Any, dict[str, str]]
"""HTTP status, JSON body, extra headers."""


class FakePull(Record):
    """One pull request as the fake keeps it; the git-derived fields are filled in on view."""

    number: int
    repo: str
    title: str
    body: str
    head: str
    """The head branch name (without `owner:`)."""
    base: str
    user: str
    created_at: str
    state: str = "open"
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_at: str | None = None
    head_sha: str = ""
    """The head branch tip when last looked at; frozen once the pull request is closed."""
    base_sha: str = ""


class GitHubAnswer(Exception):
    """An error answer, raised from deep inside a route and sent as GitHub would."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "documentation_url": DOCS}
        if errors is not None:
            self.body["errors"] = errors
        self.body["status"] = str(status)


def _validation(*errors: dict[str, Any]) -> GitHubAnswer:
    return GitHubAnswer(
        422, "Validation Failed", [{"resource": "PullRequest", **e} for e in errors]
    )


class FakeGitHub:
    """The fake API in a background thread; a context manager exposing `.url`."""

    def __init__(
        self,
        repos: dict[str, Path],
        token: str,
        *,
        login: str = "gastown",
        now: Callable[[], float] = time.time,
    ) -> None:
        self.repos = dict(repos)
        self.token = token
        self.login = login
        """Who the token belongs to: the author of pull requests opened through the API."""
        self.now = now
        self.requests: list[tuple[str, str]] = []
        """Every request received, in order: (method, path with its query string)."""
        self.rate_limited_until: int | None = None
        """While set, every request is refused as rate limited until this Unix time."""
        self._lock = threading.RLock()
        self._pulls: dict[int, FakePull] = {}
        self._reviews: dict[int, list[dict[str, Any]]] = {}
        self._review_comments: dict[int, list[dict[str, Any]]] = {}
        self._issue_comments: dict[int, list[dict[str, Any]]] = {}
        self._check_runs: dict[str, list[dict[str, Any]]] = {}
        self._next_id = 1000
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        """The API base URL, as `api_url` for the client."""
        # A short poll interval: shutdown waits for the serving loop to look up.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wait for the thread, and close the listening socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test controls --------------------------------------------------------------------

    @property
    def pulls(self) -> dict[int, FakePull]:
        """A copy of every pull request by number, with head and base as git has them now."""
        with self._lock:
            return {n: replace(self._refresh(p)) for n, p in self._pulls.items()}

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
            review_id, stamp = self._new_id(), self._stamp()
            self._reviews.setdefault(number, []).append(
                {
                    "id": review_id,
                    "user": _user(user),
                    "body": body,
                    "state": state,
                    "html_url": f"{_html(pull)}#pullrequestreview-{review_id}",
                    "submitted_at": stamp,
                    "commit_id": pull.head_sha,
                }
            )
            for comment in comments or []:
                comment_id = self._new_id()
                self._review_comments.setdefault(number, []).append(
                    {
                        "id": comment_id,
                        "pull_request_review_id": review_id,
                        "path": comment["path"],
                        "line": comment.get("line"),
                        "side": "RIGHT",
                        "body": comment["body"],
                        "user": _user(user),
                        "commit_id": pull.head_sha,
                        "created_at": stamp,
                        "updated_at": stamp,
                        "html_url": f"{_html(pull)}#discussion_r{comment_id}",
                    }
                )
            return review_id

    def add_issue_comment(self, number: int, body: str, user: str = "reviewer") -> int:
        """Comment on the conversation of pull request `number`. The comment's id."""
        with self._lock:
            pull = self._pull(number)
            comment_id, stamp = self._new_id(), self._stamp()
            self._issue_comments.setdefault(number, []).append(
                {
                    "id": comment_id,
                    "body": body,
                    "user": _user(user),
                    "created_at": stamp,
                    "updated_at": stamp,
                    "html_url": f"{_html(pull)}#issuecomment-{comment_id}",
                }
            )
            return comment_id

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
            sha = self._resolve(self._repo_for(repo), sha_or_branch) or sha_or_branch
            runs = self._check_runs.setdefault(sha, [])
            old = next((r for r in runs if r["name"] == name), None)
            run = {
                "id": old["id"] if old else self._new_id(),
                "name": name,
                "head_sha": sha,
                "status": status,
                "conclusion": conclusion if status == "completed" else None,
                "started_at": self._stamp(),
                "completed_at": self._stamp() if status == "completed" else None,
                "app": {"slug": "fake-ci"},
            }
            if old is None:
                runs.append(run)
            else:
                runs[runs.index(old)] = run
            return sha

    def close(self, number: int) -> None:
        """Close pull request `number` unmerged, as a person would on the web."""
        with self._lock:
            pull = self._refresh(self._pull(number))
            pull.state, pull.closed_at = "closed", self._stamp()

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
            return self._merge(pull, tree, method, by="maintainer")

    # --- HTTP routes ----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        """Answer one request; called from the server's threads."""
        with self._lock:
            self.requests.append((method, target))
            try:
                return self._route(method, target, headers, raw)
            except GitHubAnswer as answer:
                extra = {}
                if answer.status == 403 and self.rate_limited_until is not None:
                    extra = {
                        "X-RateLimit-Limit": "5000",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(self.rate_limited_until),
                    }
                return answer.status, answer.body, extra

    def _route(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        auth = headers.get("authorization", "")
        if auth not in (f"Bearer {self.token}", f"token {self.token}"):
            raise GitHubAnswer(401, "Bad credentials")
        if self.rate_limited_until is not None:
            raise GitHubAnswer(403, "API rate limit exceeded for user ID 1.")
        parts = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parts.query))
        match = _ROUTE.match(parts.path)
        if match is None or match["repo"] not in self.repos:
            raise GitHubAnswer(404, "Not Found")
        repo, rest = match["repo"], match["rest"]
        body = _json_body(raw) if method in ("POST", "PUT", "PATCH") else {}
        if rest == "/pulls" and method == "GET":
            return self._list_pulls(repo, parts.path, query)
        if rest == "/pulls" and method == "POST":
            return 201, self._create_pull(repo, body), {}
        if m := re.fullmatch(r"/commits/([^/]+)/check-runs", rest):
            sha = self._resolve(repo, m[1])
            if sha is None:
                raise GitHubAnswer(422, f"No commit found for SHA: {m[1]}")
            page, links = self._page(self._check_runs.get(sha, []), parts.path, query)
            total = len(self._check_runs.get(sha, []))
            return 200, {"total_count": total, "check_runs": page}, links
        m = re.fullmatch(r"/(pulls|issues)/(\d+)(/[a-z]+)?", rest)
        if m is None:
            raise GitHubAnswer(404, "Not Found")
        pull = self._pulls.get(int(m[2]))
        if pull is None or pull.repo != repo:
            raise GitHubAnswer(404, "Not Found")
        pull = self._refresh(pull)
        route = (method, m[1], m[3])
        if route == ("GET", "pulls", None):
            return 200, self._pull_json(pull, full=True), {}
        if route == ("PATCH", "pulls", None):
            return 200, self._update_pull(pull, body), {}
        if route == ("PUT", "pulls", "/merge"):
            return 200, self._merge_api(pull, body), {}
        listing = {
            ("GET", "pulls", "/reviews"): self._reviews,
            ("GET", "pulls", "/comments"): self._review_comments,
            ("GET", "issues", "/comments"): self._issue_comments,
        }.get(route)
        if listing is None:
            raise GitHubAnswer(404, "Not Found")
        page, links = self._page(listing.get(pull.number, []), parts.path, query)
        return 200, page, links

    def _list_pulls(self, repo: str, path: str, query: dict[str, str]) -> Answer:
        state = query.get("state", "open")
        head, base = query.get("head"), query.get("base")
        owner = _owner(repo)
        found = [
            self._pull_json(self._refresh(p), full=False)
            for p in sorted(self._pulls.values(), key=lambda p: -p.number)
            if p.repo == repo
            and state in ("all", p.state)
            and (head is None or head in (f"{owner}:{p.head}", p.head))
            and (base is None or base == p.base)
        ]
        page, links = self._page(found, path, query)
        return 200, page, links

    def _create_pull(self, repo: str, body: dict[str, Any]) -> dict[str, Any]:
        owner = _owner(repo)
        title, head, base = body.get("title"), body.get("head"), body.get("base")
        if not isinstance(title, str) or not title:
            raise _validation({"field": "title", "code": "missing_field"})
        for name, value in (("head", head), ("base", base)):
            if not isinstance(value, str) or not value:
                raise _validation({"field": name, "code": "missing_field"})
        assert isinstance(head, str) and isinstance(base, str)
        head = head.removeprefix(f"{owner}:")
        head_sha, base_sha = self._resolve(repo, head), self._resolve(repo, base)
        if base_sha is None:
            raise _validation({"field": "base", "code": "invalid"})
        if head_sha is None:
            raise _validation({"field": "head", "code": "invalid"})
        for other in self._pulls.values():
            if (other.repo, other.state, other.head, other.base) == (repo, "open", head, base):
                message = f"A pull request already exists for {owner}:{head}."
                raise _validation({"code": "custom", "message": message})
        if self._git(repo, "merge-base", "--is-ancestor", head_sha, base_sha).returncode == 0:
            raise _validation(
                {"code": "custom", "message": f"No commits between {base} and {head}"}
            )
        number = max(self._pulls, default=0) + 1
        pull = FakePull(
            number=number,
            repo=repo,
            title=title,
            body=str(body.get("body") or ""),
            head=head,
            base=base,
            user=self.login,
            created_at=self._stamp(),
            head_sha=head_sha,
            base_sha=base_sha,
        )
        self._pulls[number] = pull
        # GitHub works mergeability out after answering; a fresh pull request does not know it.
        return {**self._pull_json(pull, full=True), "mergeable": None, "mergeable_state": "unknown"}

    def _update_pull(self, pull: FakePull, body: dict[str, Any]) -> dict[str, Any]:
        if "title" in body:
            pull.title = str(body["title"])
        if "body" in body:
            pull.body = str(body["body"] or "")
        state = body.get("state")
        if state == "closed" and pull.state == "open":
            pull.state, pull.closed_at = "closed", self._stamp()
        elif state == "open" and pull.state == "closed" and not pull.merged:
            pull.state, pull.closed_at = "open", None
            self._refresh(pull)
        elif state not in (None, "open", "closed"):
            raise _validation({"field": "state", "code": "invalid"})
        return self._pull_json(pull, full=True)

    def _merge_api(self, pull: FakePull, body: dict[str, Any]) -> dict[str, Any]:
        method = body.get("merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise _validation({"field": "merge_method", "code": "invalid"})
        if method == "rebase":
            raise GitHubAnswer(405, "Rebase merges are not allowed on this repository.")
        if pull.state != "open":
            raise GitHubAnswer(405, "Pull Request is not mergeable")
        if body.get("sha") not in (None, pull.head_sha):
            raise GitHubAnswer(409, "Head branch was modified. Review and try the merge again.")
        blocker = self._blocker(pull)
        if blocker is not None:
            raise GitHubAnswer(405, blocker)
        sha = self._merge(pull, self._merge_tree(pull) or "", method, by=self.login)
        return {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}

    # --- state from git -------------------------------------------------------------------

    def _merge(self, pull: FakePull, tree: str, method: str, by: str) -> str:
        """Write the merge commit of `tree` on the base branch without a worktree."""
        if method == "squash":
            message = f"{pull.title} (#{pull.number})\n\n{pull.body}".rstrip() + "\n"
            parents = ["-p", pull.base_sha]
        else:
            owner = _owner(pull.repo)
            message = (
                f"Merge pull request #{pull.number} from {owner}/{pull.head}\n\n{pull.title}\n"
            )
            parents = ["-p", pull.base_sha, "-p", pull.head_sha]
        made = self._git(pull.repo, "commit-tree", tree, *parents, "-m", message, env=MERGER)
        if made.returncode != 0:
            raise RuntimeError(f"git commit-tree failed: {made.stderr.strip()}")
        sha = made.stdout.strip()
        moved = self._git(pull.repo, "update-ref", f"refs/heads/{pull.base}", sha, pull.base_sha)
        if moved.returncode != 0:
            raise GitHubAnswer(409, "Base branch was modified. Review and try the merge again.")
        stamp = self._stamp()
        pull.state, pull.merged, pull.merged_at, pull.closed_at = "closed", True, stamp, stamp
        pull.merged_by, pull.merge_commit_sha = by, sha
        return sha

    def _merge_tree(self, pull: FakePull) -> str | None:
        """The merged tree of base and head, or None when they conflict."""
        done = self._git(pull.repo, "merge-tree", "--write-tree", pull.base_sha, pull.head_sha)
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
        """Read head and base tips from git while the pull request is open."""
        if pull.state == "open":
            pull.head_sha = self._resolve(pull.repo, pull.head) or pull.head_sha
            pull.base_sha = self._resolve(pull.repo, pull.base) or pull.base_sha
        return pull

    def _resolve(self, repo: str, ref: str) -> str | None:
        """The commit a branch (or sha) names in `repo` now, or None."""
        for name in (f"refs/heads/{ref}", ref):
            done = self._git(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
            if done.returncode == 0:
                return done.stdout.strip()
        return None

    def _git(
        self, repo: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=self.repos[repo],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", **(env or {})},
            check=False,
        )

    # --- shapes ---------------------------------------------------------------------------

    def _pull_json(self, pull: FakePull, *, full: bool) -> dict[str, Any]:
        """A pull request in GitHub's shape; listings leave out the mergeability fields."""
        owner = _owner(pull.repo)
        out: dict[str, Any] = {
            "url": f"{self.url}/repos/{pull.repo}/pulls/{pull.number}",
            "id": 500000 + pull.number,
            "html_url": _html(pull),
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "body": pull.body,
            "user": _user(pull.user),
            "created_at": pull.created_at,
            "updated_at": pull.closed_at or pull.created_at,
            "closed_at": pull.closed_at,
            "merged_at": pull.merged_at,
            "merge_commit_sha": pull.merge_commit_sha,
            "draft": False,
            "head": _branch(owner, pull.repo, pull.head, pull.head_sha),
            "base": _branch(owner, pull.repo, pull.base, pull.base_sha),
        }
        if full:
            mergeable, state = self._mergeability(pull)
            out |= {
                "merged": pull.merged,
                "mergeable": mergeable,
                "mergeable_state": state,
                "merged_by": _user(pull.merged_by) if pull.merged_by else None,
                "comments": len(self._issue_comments.get(pull.number, [])),
                "review_comments": len(self._review_comments.get(pull.number, [])),
            }
        return out

    def _page(
        self, items: list[dict[str, Any]], path: str, query: dict[str, str]
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
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

    # --- bookkeeping ----------------------------------------------------------------------

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

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _stamp(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now()))


_ROUTE = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)(?P<rest>/.*)$")


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise GitHubAnswer(400, "Problems parsing JSON") from None
    if not isinstance(body, dict):
        raise GitHubAnswer(400, "Problems parsing JSON")
    return body


def _owner(repo: str) -> str:
    return repo.partition("/")[0]


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "type": "User", "html_url": f"{HTML_HOST}/{login}"}


def _html(pull: FakePull) -> str:
    return f"{HTML_HOST}/{pull.repo}/pull/{pull.number}"


def _branch(owner: str, repo: str, ref: str, sha: str) -> dict[str, Any]:
    return {"label": f"{owner}:{ref}", "ref": ref, "sha": sha, "repo": {"full_name": repo}}


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to the `FakeGitHub` that owns the server."""

    server_version = "FakeGitHub/1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake: FakeGitHub = self.server.fake  # type: ignore[attr-defined]
        status, body, extra = fake.handle(self.command, self.path, headers, raw)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `FakeGitHub.requests` is the log."""
