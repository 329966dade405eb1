"""Dashboard logins: one-time keys, signed session cookies and their CSRF tokens.

`gt up` and `gt dashboard` mint a **login key**: random, good for `KEY_TTL` seconds and for one
use. Only its SHA-256 is kept, in `<town>/run/login-keys.json` (readable only by the owner), so
the file never holds a usable key. Opening `/login?key=...` spends it and sets a **session
cookie**: `<issued>.<nonce>.<mac>`, an HMAC-SHA256 under the secret in `<town>/run/session-key`.
Rotating that file (deleting it) ends every session. A session's **CSRF token** is derived from
its nonce with the same secret, so the server keeps no session table: only the sessions ended
before their time (logging out), in `<town>/run/ended-sessions.json` until they would have
expired anyway, so a cookie kept after logging out lets nobody in, across restarts too.

Nothing here imports the web stack: `gt dashboard` mints keys without loading FastAPI.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from gastown.townrun.state import run_dir

KEY_TTL = 600
"""Seconds a login key stays good."""
SESSION_TTL = 7 * 24 * 3600
"""Seconds a session lasts before the browser must log in again."""
KEYS_FILE = "login-keys.json"
SECRET_FILE = "session-key"
ENDED_FILE = "ended-sessions.json"
T = TypeVar("T")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _private(path: Path) -> None:
    """Create `path` empty if missing; make it readable by its owner only."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


def _update(path: Path, now: float, change: Callable[[dict[str, float]], T]) -> T:
    """Under an exclusive lock on `path` (a JSON map of entry to when it expires): drop the
    expired entries, let `change` change the rest, write them back; returns what it returns."""
    _private(path)
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            entries: dict[str, float] = json.loads(handle.read() or "{}")
        except ValueError:
            entries = {}
        entries = {k: v for k, v in entries.items() if isinstance(v, int | float) and v > now}
        result = change(entries)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(entries))
    return result


def _update_keys(town: Path, change: str, key: str, now: float) -> bool:
    """Add (`mint`) or spend (`spend`) one login key. Returns whether `spend` found it good."""

    def apply(keys: dict[str, float]) -> bool:
        if change == "mint":
            keys[_digest(key)] = now + KEY_TTL
            return False
        return keys.pop(_digest(key), None) is not None

    return _update(run_dir(town) / KEYS_FILE, now, apply)


def mint_key(town: Path, now: float) -> str:
    """A fresh one-time login key for the town's dashboard."""
    key = secrets.token_urlsafe(24)
    _update_keys(town, "mint", key, now)
    return key


def spend_key(town: Path, key: str, now: float) -> bool:
    """True, once, for a key minted less than `KEY_TTL` seconds ago; False ever after."""
    if not key or len(key) > 200:
        return False
    return _update_keys(town, "spend", key, now)


def login_url(base_url: str, key: str) -> str:
    """The dashboard URL that logs in with the one-time `key`."""
    return f"{base_url}/login?key={key}"


def secret(town: Path) -> bytes:
    """The town's session-signing secret, created on first use."""
    path = run_dir(town) / SECRET_FILE
    if not path.exists() or not path.read_text().strip():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    os.chmod(path, 0o600)
    return path.read_text().strip().encode()


def _mac(secret_key: bytes, text: str) -> str:
    raw = hmac.new(secret_key, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def new_session(secret_key: bytes, now: float) -> str:
    """A session cookie value issued at `now`."""
    body = f"{int(now)}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_mac(secret_key, 'session.' + body)}"


def session_nonce(secret_key: bytes, cookie: str, now: float) -> str | None:
    """The session's nonce if `cookie` is one we signed and it has not expired; else None."""
    parts = cookie.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _mac(secret_key, "session." + body)):
        return None
    issued = int(parts[0])
    if not issued <= now + 60 or now - issued > SESSION_TTL:
        return None
    return parts[1]


def csrf_token(secret_key: bytes, nonce: str) -> str:
    """The CSRF token of the session with `nonce`: pages carry it, writes must send it back."""
    return _mac(secret_key, "csrf." + nonce)


class EndedSessions:
    """The sessions ended before their time, so their cookies (still signed, not yet expired)
    let nobody in. Read from `run/ended-sessions.json` when made; `end` writes it first, so a
    session ended here stays ended for the next town process too."""

    def __init__(self, town: Path, now: float) -> None:
        self.path = run_dir(town) / ENDED_FILE
        self._ended: frozenset[str] = frozenset(_update(self.path, now, set))
        self._ending = threading.Lock()  # two logouts at once: the later set is the larger

    def __contains__(self, nonce: str) -> bool:
        return nonce in self._ended

    def end(self, nonce: str, now: float) -> None:
        """End the session with `nonce`; it is remembered until it would have expired."""

        def add(ended: dict[str, float]) -> set[str]:
            ended[nonce] = now + SESSION_TTL  # it was issued before now: expired by then
            return set(ended)

        with self._ending:
            self._ended = frozenset(_update(self.path, now, add))  # whole: readers need no lock
