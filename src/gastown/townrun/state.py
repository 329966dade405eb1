"""What the town process leaves on disk: a lock held while it runs, its address, its token.

All of it lives in `<town>/run/`. The lock is an exclusive `flock` on `town.lock`, so a second
`gt up` learns at once that the town is taken, and by which process (from `town.json`). The
token (`token`, readable only by its owner) authenticates every API call.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from pathlib import Path
from typing import IO, Any

from gastown.errors import Conflict
from gastown.record import Record

RUN_DIR = "run"


class Address(Record):
    """Where a running town process listens, as written to `run/town.json`."""

    pid: int
    host: str
    port: int
    started_at: str
    wake_port: int = 0
    """UDP port on 127.0.0.1 that wakes the reconciler (see `townrun.wake`)."""

    @property
    def url(self) -> str:
        """The dashboard's base URL (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        """The address as `town.json` keeps it and `gt up --json` prints it."""
        return {
            "pid": self.pid,
            "host": self.host,
            "port": self.port,
            "started_at": self.started_at,
            "url": self.url,
            "wake_port": self.wake_port,
        }


def run_dir(town: Path) -> Path:
    """The town's `run/` folder (made, private to its user, when missing)."""
    path = town / RUN_DIR
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def token(town: Path) -> str:
    """The town's API token, created on first use and readable only by its owner."""
    path = run_dir(town) / "token"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    os.chmod(path, 0o600)
    return path.read_text().strip()


def acquire(town: Path) -> IO[str]:
    """Hold the town's lock for this process's lifetime, or say who holds it."""
    handle = open(run_dir(town) / "town.lock", "a+")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        held = read_address(town)
        who = f"process {held.pid} ({held.url})" if held else "another process"
        raise Conflict(
            f"The town is already up: {who} holds it.",
            hint="`gt status` shows it; `gt down` stops it.",
        ) from None
    return handle


def write_address(town: Path, address: Address) -> None:
    """Write where the running town listens into `run/town.json`, atomically."""
    path = run_dir(town) / "town.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(address.to_json()))
    tmp.replace(path)


def read_address(town: Path) -> Address | None:
    """The running process's address, if one is up (its lock held and its pid alive)."""
    path = town / RUN_DIR / "town.json"
    try:
        data = json.loads(path.read_text())
        address = Address(
            int(data["pid"]),
            str(data["host"]),
            int(data["port"]),
            str(data["started_at"]),
            int(data.get("wake_port", 0)),
        )
    except (OSError, ValueError, KeyError):
        return None
    return address if alive(address.pid) and locked(town) else None


def clear_address(town: Path) -> None:
    """Forget where the town listened: it is no longer up."""
    (town / RUN_DIR / "town.json").unlink(missing_ok=True)


def locked(town: Path) -> bool:
    """Whether some process holds the town's lock right now."""
    path = town / RUN_DIR / "town.lock"
    if not path.exists():
        return False
    with open(path, "a+") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False


def alive(pid: int) -> bool:
    """Whether `pid` runs (a child of ours that has exited is reaped and counts as gone)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
