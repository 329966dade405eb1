"""A git server over HTTP that wants a token, as GitHub and GitLab do for a private repository.

`GitOverHttp(root, tokens={"t0ken"})` serves the bare repositories under `root` with git's own
smart-HTTP program (`git http-backend`) on 127.0.0.1. A request without HTTP basic auth whose
password is one of `tokens` gets 401 with a `WWW-Authenticate` challenge, as a forge answers
for a private repository; every `Authorization` it saw is kept in `seen` so a test can tell
how the client authenticated.

    with GitOverHttp(root, tokens={"t0ken"}) as server:
        url = server.repo_url("acme/app.git")    # http://127.0.0.1:PORT/acme/app.git
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gastown.scripted.local_http import LocalHttp


class GitOverHttp(LocalHttp):
    def __init__(self, root: Path, tokens: Collection[str]) -> None:
        """`tokens` is consulted on every request: a set that grows (the fake GitHub's
        installation tokens, say) lets in each token as it is issued."""
        self.root, self.tokens = root, tokens
        self.seen: list[str] = []
        self._listen(_Handler)

    def repo_url(self, repo: str) -> str:
        return f"{self.url}/{repo}"

    def _allowed(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            _, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return password in self.tokens

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        header = request.headers.get("Authorization", "")
        self.seen.append(header)
        if not self._allowed(header):
            request.send_response(401)
            request.send_header("WWW-Authenticate", 'Basic realm="git"')
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        path, _, query = request.path.partition("?")
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        env = {
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": request.command,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "token",
            "PATH": "/usr/bin:/bin",
        }
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        request.send_response(status)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        self.server.fake._serve(self)  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        self.server.fake._serve(self)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        pass
