"""A chat tool's incoming webhook on a local port, keeping what it is posted."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from gastown.scripted.local_http import LocalHttp


class Hook(LocalHttp):
    """A chat tool's incoming webhook: keeps each JSON body it is posted."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = status
        self._listen(_Handler)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        hook: Hook = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers["Content-Length"])
        hook.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(hook.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: Any) -> None:
        pass
