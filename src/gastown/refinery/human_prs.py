"""People's pull requests, reviewed as they come and change (`review.human_prs = true`).

A sweep looks at each rig with the setting on and a forge: every open pull request not made
by the town (its head branch is not one of the town's `gt/…` or `convoy/…` branches, and no
merge request of the town's opened it), not a draft, and whose head is not the one reviewed
last, gets one review (`pr_review.review`), the second and later ones of only what changed
since. In the town process a sweep runs at most every `refinery.pr_poll_seconds`, in a
thread, one at a time (`HumanReviews.poke`, called after each reconciler pass).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from gastown import config
from gastown.errors import GastownError
from gastown.forge.base import Forge
from gastown.git import merge as gm
from gastown.model import MR_PULL, Rig
from gastown.refinery import pr_review
from gastown.refinery.pr_review import Reviewed, ReviewerFor
from gastown.refinery.review import Reviewer
from gastown.sections import sections
from gastown.services.faults import Faults
from gastown.services.ledger import Ledger
from gastown.town import Town, load

log = logging.getLogger("gastown.review")

ForgeFor = Callable[[config.Resolved, Rig, Mapping[str, str]], Forge | None]


def _forge_for(settings: config.Resolved, rig: Rig, environ: Mapping[str, str]) -> Forge | None:
    from gastown.forge.select import forge_for

    return forge_for(settings, rig, environ)


def _reviewer_for(settings: config.Resolved) -> Reviewer:
    from gastown.refinery.step import reviewer_for

    return reviewer_for(settings)


def sweep(
    ledger: Ledger,
    town: Town,
    environ: Mapping[str, str],
    reviewer_for: ReviewerFor = _reviewer_for,
    forge_for: ForgeFor = _forge_for,
) -> list[Reviewed]:
    """Review every person's open pull request whose head is new, on every rig that asks for
    it. A pull request the forge or the reviewer fails on is left for the next sweep."""
    done: list[Reviewed] = []
    with ledger.store.reader() as tx:
        rigs = tx.list_rigs()
    for rig in rigs:
        settings = config.resolve(town.settings, rig.settings, environ)
        if not sections(settings).refinery.review_human_prs:
            continue
        forge = forge_for(settings, rig, environ)
        if forge is None:
            continue
        with ledger.store.reader() as tx:
            towns = {
                m.pr_number
                for m in tx.list_merge_requests(rig=rig.name)
                if m.pr_number is not None and m.kind != MR_PULL
            }
        try:
            pulls = forge.list_pulls("open")
        except GastownError as exc:
            log.warning("listing pull requests of rig %s failed: %s", rig.name, exc)
            continue
        for pull in pulls:
            if pull.draft or gm.owned(pull.head_ref) or pull.number in towns:
                continue
            if pr_review.last_reviewed(ledger, rig.name, pull.number) == pull.head_sha:
                continue
            try:
                done.append(
                    pr_review.review(ledger, town, rig, settings, forge, pull, reviewer_for)
                )
            except GastownError as exc:
                log.warning("reviewing pull request #%s failed: %s", pull.number, exc)
    return done


class HumanReviews:
    """Sweeps inside the town process: at most one at a time, at most every
    `refinery.pr_poll_seconds`."""

    def __init__(
        self,
        town: Town,
        environ: Mapping[str, str],
        faults: Faults | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.town, self.environ, self.faults, self.now = town, dict(environ), faults, now
        self.last: float | None = None
        self.task: asyncio.Task[None] | None = None
        from gastown.forge.select import KeptForges

        self.forges = KeptForges(environ)
        """Each rig's client kept between sweeps: its listing is asked with the last ETag."""

    def look_now(self) -> None:
        """Make the next sweep due at once (a webhook said a pull request changed)."""
        self.last = None

    def poke(self) -> None:
        """Start a sweep if one is due and none is running."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a pass run by hand, outside the town process
            return
        settings = config.resolve(self.town.settings, None, self.environ)
        every = float(sections(settings).refinery.pr_poll_seconds)
        if self.task is not None or (self.last is not None and self.now() - self.last < every):
            return
        self.last = self.now()
        self.task = loop.create_task(self._sweep(), name="review of people's pull requests")

    async def _sweep(self) -> None:
        where = "the review of people's pull requests"
        try:
            await asyncio.to_thread(self._sweep_now)
        except Exception as exc:  # one bad sweep must not stop the next
            log.exception("sweep of people's pull requests failed")
            if self.faults is not None:
                self.faults.failed(where, exc)
        finally:
            self.task = None

    def _sweep_now(self) -> None:
        town = load(self.town.path)  # settings changed since the town process started count
        store = town.open_store()
        try:
            sweep(
                Ledger(store, prefix=town.prefix, actor="refinery"),
                town,
                self.environ,
                forge_for=lambda settings, rig, _environ: self.forges(settings, rig),
            )
        finally:
            store.close()
