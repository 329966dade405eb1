"""Forge webhooks: a delivery from GitHub or GitLab checked, taken in once, and acted on.

    enabled     whether the forge's webhook secret (`github.webhook_secret`,
                `gitlab.webhook_secret`) is set for the town or any rig: without one the
                route is off
    signed      GitHub's `X-Hub-Signature-256` (HMAC-SHA256 of the raw body keyed with the
                secret) or GitLab's `X-Gitlab-Token` (the secret itself), compared in constant
                time
    read        the delivery's id, event, action and repository, from its headers and JSON
    receive     all of it, then: an issue event → `intake.take_issue` on the rig whose
                repository it is; a pull or merge request event → the town loop is woken (the
                refinery and the review loop look at once); `ping` → pong; anything else is
                ignored (202)

Order: nothing is written before the signature checks out, the body parses and the rig is
found. A delivery is claimed by its id (`store.deliveries`) only once it was acted on, in the
transaction that records its `forge.webhook` event, so a delivery that failed half-way is
taken again when the forge redelivers it, and one that succeeded is ignored (taking an issue
twice is harmless anyway: an issue never has two beads). The secret is never in an answer or
an event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gastown import config
from gastown.errors import GastownError
from gastown.forge.base import Forge, ForgeKind, Issue
from gastown.model import MR_PR, Bead, Rig
from gastown.record import Record, field
from gastown.sections import sections
from gastown.services import issues
from gastown.services.ledger import Ledger
from gastown.store import deliveries

if TYPE_CHECKING:
    from gastown.town import Town

MAX_BODY = 1 << 20
"""Largest delivery read: GitHub caps payloads at 25 MB, but an issue event is a few kB."""
ISSUE_ACTIONS = frozenset({"opened", "edited", "closed", "reopened", "labeled", "unlabeled"})
"""GitHub `issues` actions that may change an issue's bead."""
ISSUE_HOOKS = frozenset({"Issue Hook", "Confidential Issue Hook"})
PULL_HOOKS = frozenset({"pull_request", "Merge Request Hook"})
NAMES: dict[ForgeKind, str] = {"github": "GitHub", "gitlab": "GitLab"}
HEADERS: dict[ForgeKind, tuple[str, str, str]] = {
    "github": ("x-github-event", "x-github-delivery", "x-hub-signature-256"),
    "gitlab": ("x-gitlab-event", "x-gitlab-event-uuid", "x-gitlab-token"),
}
"""Each forge's (event, delivery id, signature) headers, lower-case."""

Take = Callable[[Ledger, "Town", Rig, Forge, Issue], "Bead | None"]
"""What takes an issue in (`intake.take_issue`)."""
Forges = Callable[[config.Resolved, Rig], "Forge | None"]
"""The client of a rig's forge (`forge.select.forge_for` unless a test says otherwise)."""


class Answer(Record):
    """What the route answers, and what the town process should do next."""

    status: int
    """The HTTP status to answer with."""
    message: str
    """What the answer's body says, in one sentence."""
    bead_id: str | None = None
    """The bead the delivery made or changed."""
    wake: bool = False
    """Wake the town loop: a bead may be ready, or a pull request changed."""
    pulls: list[str] = field(default_factory=list)
    """The merge requests whose pull request the delivery says changed."""
    pull_event: bool = False
    """A pull or merge request changed: the review of people's pull requests looks at once."""


class Delivery(Record):
    """One delivery, read from its headers and body."""

    forge: ForgeKind
    """The forge that sent it."""
    id: str
    """The delivery id header's value: how a delivery sent again is told apart."""
    event: str
    """The event header's value (`issues`, `pull_request`, GitLab's `Issue Hook`, ...)."""
    action: str
    """What happened to it (`opened`, `labeled`, `closed`, ...); empty if none."""
    repo: str
    """The repository it is about (`owner/name`, GitLab's full path); empty for a ping."""
    payload: dict[str, Any] = field(default_factory=dict)
    """The body, as the forge sent it."""


def secrets(town: Town, rigs: list[Rig], kind: ForgeKind, environ: Mapping[str, str]) -> set[str]:
    """Every webhook secret of this forge set for the town or one of its rigs."""
    layers = [None, *(rig.settings for rig in rigs)]
    found = {
        sections(config.resolve(town.settings, layer, environ)).forge(kind).webhook_secret
        for layer in layers
    }
    return {s for s in found if s}


def signed(kind: ForgeKind, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Whether the delivery carries `secret`'s signature (constant-time)."""
    given = headers.get(HEADERS[kind][2], "")
    if kind == "github":
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    else:
        expected = secret
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


class Refused(Exception):
    """A delivery refused before anything was written: its status and one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def read(kind: ForgeKind, headers: Mapping[str, str], body: bytes) -> Delivery:
    """The delivery in `body`, or `Refused` (400) when it is not one."""
    event_header, id_header, _ = HEADERS[kind]
    event, delivery = headers.get(event_header, "").strip(), headers.get(id_header, "").strip()
    if not event or not delivery or len(delivery) > 200 or not delivery.isprintable():
        raise Refused(400, f"A {NAMES[kind]} delivery names its event and its delivery id.")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        payload = None
    if not isinstance(payload, dict):
        raise Refused(400, "The delivery's body is not a JSON object (content type: JSON).")
    if kind == "github":
        repo = (payload.get("repository") or {}).get("full_name") or ""
        action = payload.get("action") or ""
    else:
        repo = (payload.get("project") or {}).get("path_with_namespace") or ""
        action = (payload.get("object_attributes") or {}).get("action") or ""
    return Delivery(
        forge=kind, id=delivery, event=event, action=str(action), repo=str(repo), payload=payload
    )


def find_rig(
    town: Town, rigs: list[Rig], delivery: Delivery, environ: Mapping[str, str]
) -> tuple[Rig, config.Resolved] | None:
    """The rig whose repository the delivery is about (as `forge.select.locate` names it)."""
    from gastown.forge.select import locate

    kind, repo = delivery.forge, delivery.repo.lower()
    for rig in sorted(rigs, key=lambda r: r.name):
        settings = config.resolve(town.settings, rig.settings, environ)
        where = locate(settings, rig)
        if where is not None and (where[0], where[1].lower()) == (kind, repo):
            return rig, settings
    return None


def github_issue(payload: Mapping[str, Any]) -> Issue:
    """The issue a GitHub `issues` delivery carries, in the REST API's own shape."""
    from gastown.forge.github import issue_from

    return issue_from(payload.get("issue") or {})


def receive(
    ledger: Ledger,
    town: Town,
    kind: ForgeKind,
    headers: Mapping[str, str],
    body: bytes,
    environ: Mapping[str, str],
    *,
    take: Take | None = None,
    forges: Forges | None = None,
) -> Answer:
    """Check and act on one delivery whose body is `body` (at most `MAX_BODY`, read by the
    caller). Raises `Refused` for a delivery that is turned away with nothing written."""
    with ledger.store.reader() as tx:
        rigs = tx.list_rigs()
    keys = secrets(town, rigs, kind, environ)
    if not keys:
        raise Refused(404, f"Webhooks from {NAMES[kind]} are off: set {kind}.webhook_secret.")
    signers = {key for key in keys if signed(kind, headers, body, key)}
    if not signers:
        raise Refused(401, f"The delivery is not signed with the town's {kind}.webhook_secret.")
    delivery = read(kind, headers, body)
    with ledger.store.reader() as tx:
        if deliveries.seen(tx, kind, delivery.id):
            return Answer(status=200, message=f"Delivery {delivery.id} was taken in already.")
    if delivery.event == "ping" or (kind == "gitlab" and delivery.event == "System Hook"):
        return _record(ledger, delivery, None, Answer(status=200, message="pong"))
    found = find_rig(town, rigs, delivery, environ)
    if found is None:
        answer = Answer(status=202, message=f"No rig of this town has {delivery.repo or 'it'}.")
        return _record(ledger, delivery, None, answer)
    rig, settings = found
    if sections(settings).forge(kind).webhook_secret not in signers:
        raise Refused(401, f"The delivery is not signed with rig {rig.name}'s webhook secret.")
    if delivery.event in PULL_HOOKS:
        number = _pull_number(delivery)
        with ledger.store.reader() as tx:
            followed = tx.list_merge_requests(rig=rig.name, status=MR_PR)
        pulls = [mr.id for mr in followed if number is not None and mr.pr_number == number]
        answer = Answer(status=200, message="The town looks at it now.", wake=True, pulls=pulls)
        answer.pull_event = True
        return _record(ledger, delivery, rig, answer, number=number)
    if not _is_issue_event(delivery):
        answer = Answer(status=202, message=f"The event {delivery.event} is ignored.")
        return _record(ledger, delivery, rig, answer)
    forge = (forges or _forge_for(environ))(settings, rig)
    if forge is None:
        answer = Answer(status=202, message=f"Rig {rig.name} has no {NAMES[kind]} token.")
        return _record(ledger, delivery, rig, answer)
    try:
        issue = _issue(forge, delivery)
        bead = (
            None
            if _older(ledger, forge, issue)
            else (take or _take)(ledger, town, rig, forge, issue)
        )
    except GastownError as exc:
        # Not claimed: the forge's redelivery (or the next poll) takes it in.
        answer = Answer(status=503, message=f"Taking in the issue failed: {exc}")
        _record(ledger, delivery, rig, answer, claim=False)
        return answer
    said = f"Issue #{issue.number}: bead {bead.id}." if bead else f"Issue #{issue.number}: no bead."
    answer = Answer(
        status=200, message=said, bead_id=bead.id if bead else None, wake=bead is not None
    )
    return _record(ledger, delivery, rig, answer, number=issue.number)


def _pull_number(delivery: Delivery) -> int | None:
    data = delivery.payload
    if delivery.forge == "github":
        found = data.get("number") or (data.get("pull_request") or {}).get("number")
    else:
        found = (data.get("object_attributes") or {}).get("iid")
    return found if isinstance(found, int) else None


def _is_issue_event(delivery: Delivery) -> bool:
    if delivery.forge == "github":
        return delivery.event == "issues" and delivery.action in ISSUE_ACTIONS
    return delivery.event in ISSUE_HOOKS


def _issue(forge: Forge, delivery: Delivery) -> Issue:
    """GitHub's delivery carries the issue as its API shows it; GitLab's hook attributes
    differ from its API (labels, states, time formats), so the issue is read again."""
    if delivery.forge == "github":
        return github_issue(delivery.payload)
    attributes = delivery.payload.get("object_attributes") or {}
    return forge.get_issue(int(attributes["iid"]))


def _older(ledger: Ledger, forge: Forge, issue: Issue) -> bool:
    """A delivery older than what the town took in already (deliveries may cross)."""
    link = issues.find_link(ledger, forge.kind, forge.repo, issue.number)
    return bool(link and issue.updated_at and link.issue_updated_at > issue.updated_at)


def _take(ledger: Ledger, town: Town, rig: Rig, forge: Forge, issue: Issue) -> Bead | None:
    from gastown.services.intake import take_issue

    return take_issue(ledger, town, rig, forge, issue)


def _forge_for(environ: Mapping[str, str]) -> Forges:
    def make(settings: config.Resolved, rig: Rig) -> Forge | None:
        from gastown.forge.select import forge_for

        return forge_for(settings, rig, environ)

    return make


class ForgeClients:
    """The rigs' forge clients, made once and kept while their settings stay the same: a new
    client costs tens of milliseconds (its TLS context), more than the rest of a delivery."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.make = _forge_for(environ)
        self.clients: dict[tuple[str, ...], Forge | None] = {}
        self.lock = threading.Lock()

    def __call__(self, settings: config.Resolved, rig: Rig) -> Forge | None:
        read = sections(settings)
        said = [repr(read.github), repr(read.gitlab)]
        # The credentials are part of the key only as a digest.
        key = (rig.name, rig.url, hashlib.sha256("\0".join(said).encode()).hexdigest())
        with self.lock:
            if key not in self.clients:
                self.clients[key] = self.make(settings, rig)
            return self.clients[key]


def _record(
    ledger: Ledger,
    delivery: Delivery,
    rig: Rig | None,
    answer: Answer,
    *,
    number: int | None = None,
    claim: bool = True,
) -> Answer:
    """The delivery's `forge.webhook` event, and its id claimed (unless it is to be taken
    again): a copy that arrived meanwhile and was claimed first makes this one a no-op."""
    after: dict[str, Any] = {
        "forge": delivery.forge,
        "delivery": delivery.id,
        "event": delivery.event,
        "action": delivery.action,
        "repo": delivery.repo,
        "status": answer.status,
    }
    if number is not None:
        after["number"] = number
    with ledger.store.transaction() as tx:
        if claim and not deliveries.claim(tx, delivery.forge, delivery.id, ledger.now()):
            return Answer(status=200, message=f"Delivery {delivery.id} was taken in already.")
        event = ledger.event(
            "forge.webhook",
            bead_id=answer.bead_id,
            rig=rig.name if rig else None,
            after=after,
            reason=answer.message,
        )
        tx.append_events([event])
    return answer
