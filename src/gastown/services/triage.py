"""Triage: new issues nobody labelled for the town, told to the mayor once each.

    issue_seen   one `forge.issue_seen` event per issue, ever (the `meta` key
                 `forge.issue_seen.<rig>.<number>` remembers it): the intake poller calls it
                 for each open issue without the intake labels, and so does `look`
    look         every forge rig's open issues, each new unlabelled one seen (`gt triage`
                 runs it before asking the mayor, so it works without the town process)
    forge_of     a rig's forge client for the mayor's issue tools, or a plain refusal

The mayor hears of these events in its town notes at its next turn; no model is called
until someone talks to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gastown import config
from gastown.errors import NotFound
from gastown.forge.base import Forge, Issue
from gastown.sections import sections
from gastown.services.ledger import Ledger

if TYPE_CHECKING:
    from gastown.town import Town


BACKLOG = "backlog "
"""How a remembered but untold issue's `meta` value starts."""


def issue_seen(
    ledger: Ledger, rig: str, issue: Issue, *, tell: bool = True, backlog: bool = False
) -> bool:
    """Record that `issue` of `rig` is new and waits for triage; False if it was seen before.
    With `tell` off it is only remembered as backlog (found on a first look: not news, so the
    poll does not tell it); `backlog` tells such an issue after all (`gt triage`)."""
    key = f"forge.issue_seen.{rig}.{issue.number}"
    stamp = issue.updated_at or ledger.now()
    with ledger.store.transaction() as tx:
        kept = tx.get_meta(key)
        if kept is not None and not (backlog and tell and kept.startswith(BACKLOG)):
            return False
        tx.set_meta(key, stamp if tell else BACKLOG + stamp)
        if not tell:
            return True
        ledger.record_event(
            tx,
            "forge.issue_seen",
            rig=rig,
            after={
                "number": issue.number,
                "title": issue.title[:200],
                "url": issue.url,
                "labels": issue.labels,
                "author": issue.author,
            },
            reason="a new issue without the intake labels",
        )
    return True


def look(ledger: Ledger, town: Town, environ: Mapping[str, str]) -> list[tuple[str, Issue]]:
    """Every forge rig's open issues lacking the intake labels that were not seen before;
    each is recorded as seen. A rig whose forge fails is skipped (its sentence is logged by
    the caller's next try)."""
    from gastown.errors import GastownError
    from gastown.forge.select import forge_for

    new: list[tuple[str, Issue]] = []
    with ledger.store.reader() as tx:
        rigs = tx.list_rigs()
    for rig in rigs:
        settings = config.resolve(town.settings, rig.settings, environ)
        forge = forge_for(settings, rig, environ)
        if forge is None:
            continue
        labels = set(sections(settings).intake.labels)
        try:
            issues = forge.list_issues(state="open") or []
        except GastownError:
            continue
        for issue in issues:
            if labels and labels <= set(issue.labels):
                continue  # the intake takes it as a bead by itself
            if issue_seen(ledger, rig.name, issue, backlog=True):
                new.append((rig.name, issue))
    return new


def forge_of(ledger: Ledger, town: Town, environ: Mapping[str, str], rig_name: str) -> Forge:
    """The forge client of rig `rig_name`, or a plain refusal naming what is missing."""
    from gastown.forge.select import require

    with ledger.store.reader() as tx:
        rig = tx.get_rig(rig_name)
    if rig is None:
        raise NotFound(f"There is no rig '{rig_name}'.", hint="`gt rig list` lists them.")
    return require(config.resolve(town.settings, rig.settings, environ), rig, environ)
