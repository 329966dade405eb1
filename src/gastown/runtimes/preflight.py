"""What a runtime must pass before a run starts, so a runtime that cannot work is refused once,
naming the setting to fix, instead of failing one dispatch attempt after another.

    program   found on PATH                                    (registry.runtime)
    version   `PROGRAM --version`, read once per program file  (check_version)
              and compared with the adapter's `min_version`
    settings  a model where the adapter needs one, and         (check_settings)
              `model_base_url` answering one TCP connect

An adapter says what it needs with class attributes, all optional: `min_version` (a tuple, the
oldest release it was proven against), `model_needed` (why it cannot run on a base URL without
a model; empty when the CLI's own default works) and `model_api` (False for a runtime that never
talks to a model API, such as `scripted`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
from urllib.parse import urlsplit

from gastown.errors import UserError
from gastown.runtimes.base import AgentRuntime, LaunchRequest

VERSION_SECONDS = 30.0
"""How long `--version` may take: a Node CLI's cold start on a busy machine is slow."""
CONNECT_SECONDS = 3.0
"""How long one TCP connect to the model API may take before it counts as unreachable."""

_NUMBER = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
_seen: dict[tuple[str, int, int], tuple[int, ...] | None] = {}
_seen_lock = threading.Lock()


def parse_version(text: str) -> tuple[int, ...] | None:
    """The first `X.Y[.Z]` in a program's `--version` output (`codex-cli 0.171.0`, `7.7.7`)."""
    found = _NUMBER.search(text)
    if found is None:
        return None
    return tuple(int(part) for part in found.groups(default="0"))


def installed_version(program: str) -> tuple[int, ...] | None:
    """The version `program` (a path) reports, asked once per process for each program file:
    the cache is keyed by its size and time, so a program upgraded in place is asked again."""
    info = os.stat(program)
    key = (os.path.realpath(program), info.st_mtime_ns, info.st_size)
    with _seen_lock:
        if key in _seen:
            return _seen[key]
    try:
        done = subprocess.run(
            [program, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=VERSION_SECONDS,
            check=False,
        )
        version = parse_version(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        version = None
    with _seen_lock:
        _seen[key] = version
    return version


def shown(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def check_version(agent: AgentRuntime, program: str) -> None:
    """Refuse a program older than the adapter's `min_version`, or one that gives no version."""
    minimum: tuple[int, ...] | None = getattr(agent, "min_version", None)
    if not minimum:
        return
    version = installed_version(program)
    hint = (
        f"Install {agent.binary} {shown(minimum)} or newer (`make install` puts the tested "
        "versions in .tools/), or choose another runtime with `gt config set runtime NAME`."
    )
    if version is None:
        raise UserError(
            f"The runtime setting is '{agent.name}', but `{program} --version` gave no version "
            "number, so it cannot be told apart from a release without the flags Gas Town uses.",
            hint=hint,
        )
    if version < minimum:
        raise UserError(
            f"The runtime setting is '{agent.name}', but `{program}` is version {shown(version)}, "
            f"older than {shown(minimum)}, the oldest that has the flags Gas Town uses.",
            hint=hint,
        )


def check_settings(agent: AgentRuntime, request: LaunchRequest) -> None:
    """Refuse settings the runtime cannot run with: no model where it needs one, or a
    `model_base_url` nothing answers at. Blocking (one TCP connect): call it from a thread."""
    if not request.base_url or not getattr(agent, "model_api", True):
        return
    needed: str = getattr(agent, "model_needed", "")
    if needed and not request.model:
        raise UserError(
            f"The runtime setting is '{agent.name}' and model_base_url is set, but "
            f"default_model (or role_models.{request.role}) is empty: {needed}",
            hint=f"Name a model that server serves with `gt config set default_model NAME` "
            f"(or `role_models.{request.role}`).",
        )
    problem = unreachable(request.base_url)
    if problem:
        raise UserError(
            f"The model_base_url setting is {request.base_url}, but {problem}.",
            hint="Start the model server, or correct the address with "
            "`gt config set model_base_url URL`.",
        )


def unreachable(url: str, timeout: float = CONNECT_SECONDS) -> str:
    """Why nothing answers at `url` after one TCP connect; empty when something does."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is not an http:// or https:// address"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "its port is not a number"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return ""
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return f"nothing answers at {parts.hostname}:{port} ({reason})"
