"""The fake GitHub's side doors: webhook deliveries signed as GitHub signs them, the JWT a
GitHub App proves itself with, and the record of one request and its answer.

A delivery is a POST of the JSON payload with the headers GitHub sends:

    X-GitHub-Event: issues                  the event's name
    X-GitHub-Delivery: 72d3162e-…           a new UUID per delivery (a redelivery keeps it)
    X-GitHub-Hook-ID: 1001
    X-Hub-Signature-256: sha256=<hex>       HMAC-SHA256 of the body, keyed with the secret
    X-Hub-Signature: sha1=<hex>             the legacy HMAC-SHA1, still sent
    User-Agent: GitHub-Hookshot/fake

`deliver(url, secret, event, payload)` sends one by hand (a test of a receiver needs no fake
server at all); `HookDeliveries.redeliver` sends a past one again, delivery id and all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any, NamedTuple

from gastown.record import Record, field

USER_AGENT = "GitHub-Hookshot/fake"


class Exchange(NamedTuple):
    """One request to the fake and its answer, as given to `FakeGitHub.observe`."""

    method: str
    target: str
    """The path with its query string."""
    request: Any
    """The JSON body sent, or None."""
    status: int
    response: Any
    """The JSON body answered, or None (a 304)."""
    headers: dict[str, str]


class Hook(Record):
    """A repository webhook."""

    id: int
    """Its id, as GitHub numbers hooks."""
    repo: str
    """The repository it is on (`owner/name`)."""
    url: str
    """Where deliveries are posted."""
    secret: str
    """What deliveries are signed with (`X-Hub-Signature-256`)."""
    events: list[str] = field(default_factory=list)
    """The events it is sent."""


class Delivery(Record):
    """One delivery made, and how the receiver answered (0: it could not be reached)."""

    id: str
    """Its GUID (`X-GitHub-Delivery`)."""
    hook_id: int
    """The hook that sent it."""
    event: str
    """Its event (`X-GitHub-Event`)."""
    payload: dict[str, Any]
    """Its JSON body."""
    status: int
    """The receiver's HTTP status (0: it could not be reached)."""


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value of `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(
    url: str,
    secret: str,
    event: str,
    payload: dict[str, Any],
    *,
    delivery: str | None = None,
    hook_id: int = 1,
    timeout: float = 10.0,
) -> int:
    """POST `payload` to `url` as GitHub delivers event `event`; the HTTP status answered
    (0 when nothing answered)."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": str(hook_id),
        "X-Hub-Signature-256": sign(secret, body),
        "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


class HookDeliveries:
    """The hooks registered on the fake and every delivery made to them."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def send(self, hook: Hook, event: str, payload: dict[str, Any]) -> Delivery:
        """Post `payload` to the hook as GitHub would, signed; the delivery made."""
        made = Delivery(
            id=str(uuid.uuid4()), hook_id=hook.id, event=event, payload=payload, status=0
        )
        made.status = deliver(hook.url, hook.secret, event, payload, delivery=made.id)
        with self._lock:
            self.deliveries.append(made)
        return made

    def redeliver(self, delivery: Delivery) -> int:
        """Send a past delivery again, with its delivery id, as GitHub's "Redeliver" does."""
        hook = next(h for h in self.hooks if h.id == delivery.hook_id)
        return deliver(
            hook.url, hook.secret, delivery.event, delivery.payload, delivery=delivery.id
        )


def verify_app_jwt(token: str, app_id: int, public_key: str, now: float) -> str | None:
    """Why GitHub would refuse `token` as app `app_id`'s JWT, or None when it is good."""
    import jwt

    if not public_key:
        return "Integration not found"
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            options={"require": ["iss", "iat", "exp"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return "A JSON web token could not be decoded"
    if str(claims["iss"]) != str(app_id):
        return "Integration not found"
    if (
        not float(claims["iat"]) - 60 <= now < float(claims["exp"])
        or claims["exp"] - claims["iat"] > 600 + 60
    ):
        return (
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires"
        )
    return None
