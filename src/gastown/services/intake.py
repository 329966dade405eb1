"""Intake: issues on a rig's forge that carry the intake labels become beads by themselves,
and their beads follow them when they are edited or closed upstream.

    take_issue      one issue as the forge reports it now → its bead (made, updated, closed
                    or held), or None when it is none of the town's business. The poller below
                    and the webhook route call it alike; its signature stays.
    IntakePoller    in the town process, every `forge.poll_seconds`: each forge rig's issues
                    with every one of `intake.labels` (an empty list turns intake off),
                    updated since the last one seen, asked for conditionally: an unchanged
                    listing is a 304, costs no rate limit and writes nothing.

A rate limit that runs out waits until its reset (one escalation when that is more than 15
minutes away); a forge that is down is asked again with a growing wait. Nothing is lost either
way: `since` moves on only after a listing was taken in.

An issue closed upstream closes a bead nobody has started. A bead already at work (in
progress or in review) is never stopped or thrown away: it is held (no new run will start on
it), and the event `bead.issue_closed` says why; a person decides.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gastown import config
from gastown.forge.base import Forge, ForgeDown, ForgeError, Issue, RateLimited
from gastown.model import CLOSED, FAILED, IN_PROGRESS, IN_REVIEW, OPEN, Bead, IssueLink, Rig
from gastown.record import Record
from gastown.sections import sections
from gastown.services import beads, escalations, issues, triage
from gastown.services.ledger import Ledger, get_bead
from gastown.store import Tx

if TYPE_CHECKING:
    from gastown.town import Town

log = logging.getLogger("gastown.intake")

LONG_WAIT = 15 * 60
"""A rate limit resetting further away than this is told to a person (once per reset)."""
MAX_BACKOFF = 60 * 60
"""The longest wait before a forge that is down is asked again."""


def wanted(labels: list[str], issue: Issue) -> bool:
    """Whether an issue carries every intake label (labels compare without case)."""
    have = {label.lower() for label in issue.labels}
    return bool(labels) and all(label.lower() in have for label in labels)


def take_issue(
    ledger: Ledger,
    town: Town,
    rig: Rig,
    forge: Forge,
    issue: Issue,
    *,
    environ: Mapping[str, str] | None = None,
) -> Bead | None:
    """Take in `issue` (as the forge reports it now) on `rig`, whose repository `forge` is.

    - new, open and carrying every `intake.labels` label: a bead is made (slung, linked) and
      the issue gets a comment naming it; unlabelled, closed, or intake off: None, nothing
      written;
    - linked already and unchanged since last taken in: its bead, nothing written;
    - edited: the bead's title and body follow (not once the bead is closed);
    - closed upstream: an open bead closes, a failed one is reopened and closed; one in
      progress or in review is held (its work is kept) with a `bead.issue_closed` event.

    Safe to call again with the same issue (a redelivered webhook, a poll after a webhook):
    an issue never has two beads."""
    link = issues.find_link(ledger, forge.kind, forge.repo, issue.number)
    if link is None:
        intake = sections(config.resolve(town.settings, rig.settings, environ or {})).intake
        if issue.state != "open" or not wanted(list(intake.labels), issue):
            return None
        bead, link, created = issues.link_issue(
            ledger, rig, forge, issue, reason="intake: its issue carries the intake labels"
        )
        if created:
            issues.announce(ledger, forge, bead, link)
        return bead
    return follow(ledger, link, issue)


def follow(ledger: Ledger, link: IssueLink, issue: Issue) -> Bead | None:
    """What changed upstream on a linked issue, brought to its bead. Compared by content, not
    by `updated_at` alone (a comment moves that; an edit may share its second): a listing
    that brings nothing new writes nothing."""
    spec, _ = issues.spec_for(issue, link.rig, link.url or f"#{issue.number}")
    with ledger.store.reader() as tx:
        bead = tx.get_bead(link.bead_id)
    if bead is None:
        return None
    edits = {
        name: value
        for name, value in (("title", spec.title), ("body", spec.body))
        if getattr(bead, name) != value and bead.status != CLOSED
    }
    closing = issue.state == "closed" and link.issue_state != "closed"
    seen = (issue.updated_at, issue.state) != (link.issue_updated_at, link.issue_state)
    if not (edits or closing or seen):
        return bead
    with ledger.store.transaction() as tx:
        bead = get_bead(tx, ledger.prefix, link.bead_id, lock=True)
        edits = {name: value for name, value in edits.items() if getattr(bead, name) != value}
        if edits and bead.status != CLOSED:
            beads.write(ledger, tx, bead, edits, reason="its issue was edited upstream")
        if closing:
            _closed_upstream(ledger, tx, bead, link)
        tx.mark_issue_link(
            link.forge, link.repo, link.number, link.kind, issue.updated_at, issue.state
        )
        return tx.get_bead(bead.id)


def _closed_upstream(ledger: Ledger, tx: Tx, bead: Bead, link: IssueLink) -> None:
    why = f"its issue #{link.number} was closed upstream"
    if bead.status == CLOSED:
        return
    if bead.status in (IN_PROGRESS, IN_REVIEW):
        beads.write(
            ledger,
            tx,
            bead,
            {"held": True},
            kind="bead.issue_closed",
            reason=f"{why} while its work was {bead.status}: held, its work kept; close it "
            f"(`gt bead close {bead.id}`) or let it go on (`gt bead update {bead.id} --unhold`)",
        )
        return
    if beads.open_children(tx, bead.id):
        ledger.record_event(tx, "bead.issue_closed", bead_id=bead.id, rig=bead.rig, reason=why)
        return
    if bead.status == FAILED:
        beads.write(ledger, tx, bead, {"status": OPEN}, reason=why)
    beads.write(ledger, tx, bead, {"status": CLOSED, "close_reason": why}, reason=why)


# --- the poller ---------------------------------------------------------------------------


class RigPoll(Record):
    """What the poller knows of one rig between polls (kept in memory only)."""

    since: str | None = None
    """The newest `updated_at` taken in: the next listing asks for what changed from then."""
    due: float = 0.0
    """Unix time of the next poll."""
    failures: int = 0
    """Forge failures in a row: the wait before the next poll doubles with each."""
    escalated_reset: float | None = None
    """The rate-limit reset already told to a person."""
    started: bool = False
    """Whether `since` was read from the ledger yet (once, at the first poll)."""


class IntakePoller:
    """Polls every forge rig's labelled issues, each at its `forge.poll_seconds`."""

    def __init__(
        self,
        town: Town,
        environ: Mapping[str, str],
        *,
        forges: Callable[[config.Resolved, Rig], Forge | None] | None = None,
        now: Callable[[], float] = time.time,
        tick: float = 5.0,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.town, self.environ, self.now, self.tick = town, dict(environ), now, tick
        self.forges, self.wake = forges, wake
        self.rigs: dict[str, RigPoll] = {}
        self.next_due = 0.0
        """Before this no rig is due: the poll does not even open the ledger."""
        self._clients: dict[tuple[str, str, str, str], Forge] = {}
        """The same client poll after poll: it keeps the ETags that make an unchanged listing
        a free 304."""

    async def run(self) -> None:
        """Poll until cancelled; the forge calls and the ledger work run in a thread."""
        while True:
            try:
                done = await asyncio.to_thread(self.poll_once)
            except Exception:  # one bad poll must not stop intake: the next one tries again
                log.exception("issue intake poll failed")
            else:
                if self.wake is not None and any(d.startswith("took") for d in done.values()):
                    self.wake()  # new beads are dispatched at once, not on the next tick
            await asyncio.sleep(self.tick)

    def poll_once(self) -> dict[str, str]:
        """Poll each rig that is due; what each poll did, by rig (`unchanged`, `took N`,
        `rate limited`, `forge down`)."""
        from gastown.town import load

        if self.now() < self.next_due:
            return {}
        town = load(self.town.path)  # settings changed since the town process started count
        store = town.open_store()
        try:
            ledger = Ledger(store, prefix=town.prefix, actor="intake")
            with store.reader() as tx:
                rigs = tx.list_rigs()
            done: dict[str, str] = {}
            for rig in rigs:
                settings = config.resolve(town.settings, rig.settings, self.environ)
                state = self.rigs.setdefault(rig.name, RigPoll())
                if self.now() < state.due:
                    continue
                intake = sections(settings).intake
                forge = self._forge(settings, rig) if intake.labels else None
                if forge is None:  # looked at again (its settings may change) a poll later
                    state.due = self.now() + float(intake.poll_seconds)
                    continue
                done[rig.name] = self.poll_rig(ledger, town, rig, settings, forge, state)
            self.next_due = min(
                (self.rigs[r.name].due for r in rigs), default=self.now() + self.tick
            )
            return done
        finally:
            store.close()

    def poll_rig(
        self,
        ledger: Ledger,
        town: Town,
        rig: Rig,
        settings: config.Resolved,
        forge: Forge,
        state: RigPoll,
    ) -> str:
        """Take in the rig's issues changed since the last poll, and say how it went in a
        few words (`took 3`, `unchanged`, `rate limited`, `forge down`)."""
        now = self.now()
        intake = sections(settings).intake
        every = float(intake.poll_seconds)
        if not state.started:
            with ledger.store.reader() as tx:
                state.since, state.started = tx.last_issue_update(rig.name), True
        labels = list(intake.labels)
        # One listing of every issue, labelled or not (one request a round, free when nothing
        # changed): the labelled are taken in, the new unlabelled are told to the mayor for
        # triage, except on a first look, when they are not news but the backlog.
        first_look = state.since is None
        try:
            listed = forge.list_issues(state="all", since=state.since)
            if listed is not None:
                for issue in sorted(listed, key=lambda i: (i.updated_at, i.number)):
                    taken = take_issue(ledger, town, rig, forge, issue, environ=self.environ)
                    if taken is None and issue.state == "open" and not wanted(labels, issue):
                        triage.issue_seen(ledger, rig.name, issue, tell=not first_look)
        except RateLimited as exc:
            state.due = max(exc.reset_at, now + every)
            if exc.reset_at - now > LONG_WAIT and state.escalated_reset != exc.reset_at:
                state.escalated_reset = exc.reset_at
                escalations.raise_(
                    ledger,
                    "medium",
                    f"The forge's rate limit for {forge.repo} (rig {rig.name}) is used up until "
                    f"{time.strftime('%H:%M UTC', time.gmtime(exc.reset_at))}; issue intake "
                    "waits until then.",
                    rig=rig.name,
                )
            return "rate limited"
        except (ForgeError, ForgeDown) as exc:
            state.failures += 1
            state.due = now + min(every * 2**state.failures, MAX_BACKOFF)
            log.warning("issue intake on rig %s: %s", rig.name, exc)
            return "forge down"
        state.failures, state.due = 0, now + every
        if listed is None:
            return "unchanged"
        stamps = [i.updated_at for i in listed if i.updated_at]
        if stamps:
            state.since = max([*stamps, state.since or ""])
        return f"took {len(listed)}"

    def _forge(self, settings: config.Resolved, rig: Rig) -> Forge | None:
        from gastown.forge.select import forge_for, locate

        where = locate(settings, rig)
        if where is None:
            return None
        kind, repo = where
        key = (rig.name, kind, repo, str(settings.values.get(f"{kind}.api_url") or ""))
        client = self._clients.get(key)
        if client is None:
            client = (
                self.forges(settings, rig)
                if self.forges is not None
                else forge_for(settings, rig, self.environ)
            )
            if client is not None:
                self._clients[key] = client
        return client
