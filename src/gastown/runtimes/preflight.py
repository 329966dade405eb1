"""What a runtime must pass before a run starts, so a runtime that cannot work is refused once,
naming the setting to fix, instead of failing one dispatch attempt after another.

    program   found on PATH                                    (registry.runtime)
    version   `PROGRAM --version`, read once per program file  (check_version; `gt doctor`
              and compared with the adapter's `min_version`     applies the same rule)
    settings  a key where the CLI stops without one, a model    (check_settings)
              where the adapter needs one, and `model_base_url`
              answering one TCP connect

An adapter says what it needs with class attributes, all optional: `min_version` (a tuple, the
oldest release it was proven against), `model_needed` (why it cannot run on a base URL without
a model; empty when the CLI's own default works), `key_vars` (the environment variables the CLI
reads its key from, when it cannot run without one) and `model_api` (False for a runtime that
never talks to a model API, such as `scripted`).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from gastown.errors import UserError
from gastown.runtimes.base import AgentRuntime, LaunchRequest

VERSION_SECONDS = 30.0
"""How long `--version` may take: a Node CLI's cold start on a busy machine is slow."""
CONNECT_SECONDS = 3.0
"""How long one TCP connect to the model API may take before it counts as unreachable."""

_NUMBER = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, ...] | None:
    """The first `X.Y[.Z]` in a program's `--version` output (`codex-cli 0.171.0`, `7.7.7`)."""
    found = _NUMBER.search(text)
    if found is None:
        return None
    return tuple(int(part) for part in found.groups(default="0"))


@dataclass(frozen=True)
class Answer:
    """What `PROGRAM --version` said: its exit status (None when it did not answer in time)
    and its output (stdout, else stderr)."""

    code: int | None
    """Its exit status; None when it did not answer in time."""
    text: str
    """What it printed: stdout, else stderr."""

    @property
    def line(self) -> str:
        """The first line it printed, stripped."""
        return (self.text.strip().splitlines() or [""])[0].strip()

    @property
    def version(self) -> tuple[int, ...] | None:
        """The version it printed, when it answered cleanly."""
        return parse_version(self.text) if self.code == 0 else None


_seen: dict[tuple[str, int, int], Answer] = {}
_seen_lock = threading.Lock()


def ask_version(program: str, timeout: float = VERSION_SECONDS) -> Answer:
    """`program --version` (a path), asked once per process for each program file: the cache is
    keyed by its size and time, so a program upgraded in place is asked again. A program that
    does not answer in time is stopped with everything it started, and asked again next time."""
    info = os.stat(program)
    key = (os.path.realpath(program), info.st_mtime_ns, info.st_size)
    with _seen_lock:
        if key in _seen:
            return _seen[key]
    try:
        proc = subprocess.Popen(
            [program, "--version"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a CLI that spawns helpers is stopped with them
        )
    except OSError as exc:
        return Answer(127, exc.strerror or str(exc))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Answer(None, "")
    answer = Answer(proc.returncode, (out or err).decode("utf-8", errors="replace"))
    with _seen_lock:
        _seen[key] = answer
    return answer


def shown(version: tuple[int, ...]) -> str:
    """A version as people write it: `1.2.3`."""
    return ".".join(str(part) for part in version)


def check_version(
    agent: AgentRuntime, program: str, timeout: float = VERSION_SECONDS
) -> Answer | None:
    """Refuse a program older than the adapter's `min_version`, or one that gives no version;
    the one rule both a run's preflight and `gt doctor` apply. Gives what the program said, or
    None for an adapter with no minimum (its program is then not asked)."""
    minimum: tuple[int, ...] | None = getattr(agent, "min_version", None)
    if not minimum:
        return None
    answer = ask_version(program, timeout)
    version = answer.version
    hint = (
        f"Install {agent.binary} {shown(minimum)} or newer (`make install` puts the tested "
        "versions in .tools/), or choose another runtime with `gt config set runtime NAME`."
    )
    start = f"The runtime setting is '{agent.name}', but `{program} --version`"
    unsure = "so it cannot be told apart from a release without the flags Gas Town uses."
    if answer.code is None:
        raise UserError(f"{start} did not answer within {timeout:.0f} s, {unsure}", hint=hint)
    if answer.code != 0:
        said = answer.line or "no output"
        raise UserError(f"{start} failed (exit {answer.code}: {said}), {unsure}", hint=hint)
    if version is None:
        raise UserError(f"{start} gave no version number, {unsure}", hint=hint)
    if version < minimum:
        raise UserError(
            f"The runtime setting is '{agent.name}', but `{program}` is version {shown(version)}, "
            f"older than {shown(minimum)}, the oldest that has the flags Gas Town uses.",
            hint=hint,
        )
    return answer


def check_settings(
    agent: AgentRuntime, request: LaunchRequest, environ: Mapping[str, str] | None = None
) -> None:
    """Refuse settings the runtime cannot run with: no API key where the CLI exits without one,
    no model where it needs one, or a `model_base_url` nothing answers at. `environ` is the town
    process's environment, which the agent inherits (default: this process's). Blocking (one
    TCP connect): call it from a thread."""
    check_key(agent, request, os.environ if environ is None else environ)
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


def check_key(agent: AgentRuntime, request: LaunchRequest, environ: Mapping[str, str]) -> None:
    """Refuse a run whose CLI reads its key only from variables none of which will be set:
    `model_api_key` fills the first of them, and `env_vars` or the town's environment may set
    any."""
    names: tuple[str, ...] = getattr(agent, "key_vars", ())
    if not names or request.api_key:
        return
    if any(request.env_vars.get(name) or environ.get(name) for name in names):
        return
    variables = " or ".join(names)
    raise UserError(
        f"The runtime setting is '{agent.name}', but model_api_key is empty and {variables} is "
        f"set neither in env_vars nor in the town's environment: {agent.binary} stops at once "
        "without a key.",
        hint=f"Set one with `gt config set model_api_key KEY` (or export {names[0]} before "
        "`gt up`).",
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
