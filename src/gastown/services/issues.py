"""Forge issues as beads: the bead an issue becomes, the link that keeps it the only one, and
`gt sling <issue URL>`.

    rig_for_work    which rig an issue URL belongs to: its repository (`github.repo` /
                    `gitlab.repo`, else the rig's URL) and host (github.com / gitlab.com, the
                    rig's remote, the API's host for a self-hosted forge)
    spec_for        the bead an issue makes: title, body (cut to the bead limit, saying so),
                    labels, type and priority mapped from labels
    link_issue      the bead and its `IssueLink` written in one transaction; an issue that
                    has a bead already answers with that bead and writes nothing
    announce        the comment on the issue naming the bead; a forge that refuses it is an
                    event (`issue.comment_failed`), not a failure: the bead stands
    sling_issue     all of the above for one URL; a pull request URL goes to
                    `services.babysit.sling_pull` when that exists

Order: the issue is read before anything is written, so a forge that is down or says 404
leaves nothing behind; the comment comes after the bead, and its failure is recorded, not
undone.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gastown import config
from gastown.errors import GastownError, InvalidValue
from gastown.forge.base import Forge, ForgeKind, Issue
from gastown.forge.urls import KNOWN_HOSTS, WorkRef, parse_remote, parse_work
from gastown.limits import MAX_BODY, MAX_TITLE, printable, utf8_size
from gastown.model import DEFAULT_PRIORITY, Bead, IssueLink, Rig
from gastown.record import Record
from gastown.services import beads
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger

if TYPE_CHECKING:
    from gastown.town import Town

PRIORITY_WORDS = {"critical": 0, "urgent": 0, "high": 1, "medium": 2, "normal": 2, "low": 3}
"""`priority: high` and the like (also `priority::high`, GitLab's scoped labels)."""
TYPE_LABELS = {
    "bug": "bug",
    "type: bug": "bug",
    "feature": "feature",
    "enhancement": "feature",
    "chore": "chore",
}


class Slung(Record):
    """What slinging an issue did."""

    bead: Bead
    """The issue's bead."""
    link: IssueLink | None
    """None for a pull request slung to be babysat."""
    created: bool
    """False when the issue had its bead already (nothing was written)."""
    commented: bool = False
    """The issue got its comment naming the bead."""


# --- reading labels -----------------------------------------------------------------------


def priority_of(labels: Sequence[str]) -> int:
    """The bead priority the issue's labels ask for: `P0`..`P4` (or `priority: P1`),
    `priority: critical|high|medium|low`, `critical`/`urgent`; the highest wins; else the
    default (2)."""
    found: list[int] = []
    for label in labels:
        text, scoped = label.strip().lower(), False
        for sep in ("::", ":", "/"):
            if text.startswith("priority" + sep):
                text, scoped = text.split(sep, 1)[1].strip(), True
                break
        if len(text) == 2 and text[0] == "p" and text[1] in "01234":
            found.append(int(text[1]))
        elif text in PRIORITY_WORDS and (scoped or text in ("critical", "urgent")):
            found.append(PRIORITY_WORDS[text])
    return min(found, default=DEFAULT_PRIORITY)


def type_of(labels: Sequence[str]) -> str:
    """`bug` for an issue labelled bug, `feature` for feature/enhancement; else `task`."""
    for label in labels:
        kind = TYPE_LABELS.get(label.strip().lower())
        if kind is not None:
            return kind
    return "task"


def bead_labels(labels: Sequence[str]) -> list[str]:
    """The issue's labels a bead can keep (one line, at most 100 characters each)."""
    kept = []
    for label in labels:
        text = printable(label, one_line=True).strip()
        if text and len(text) <= 100 and text not in kept:
            kept.append(text)
    return kept


def spec_for(issue: Issue, rig: str, url: str) -> tuple[NewBead, bool]:
    """The bead `issue` makes on `rig`, and whether its body had to be cut."""
    title = printable(issue.title, one_line=True).strip()[:MAX_TITLE] or f"Issue #{issue.number}"
    footer = f"\n\n(From issue {url})"
    cut_note = (
        f"\n\n(The issue's description was cut to fit a bead's 64 kB; read it in full at {url}.)"
    )
    text = printable(issue.body or "")
    room = MAX_BODY - utf8_size(footer) - utf8_size(cut_note)
    cut = utf8_size(text) > room
    if cut:
        text = text.encode()[:room].decode("utf-8", "ignore").rstrip() + cut_note
    body = (text + footer).lstrip()
    spec = NewBead(
        title=title,
        body=body,
        type=type_of(issue.labels),
        priority=priority_of(issue.labels),
        labels=bead_labels(issue.labels),
        rig=rig,
        slung=True,
    )
    return spec, cut


# --- links --------------------------------------------------------------------------------


def find_link(
    ledger: Ledger, forge: str, repo: str, number: int, kind: str = "issue"
) -> IssueLink | None:
    """The link of one issue (or pull request, `kind="pull"`), if it has a bead."""
    with ledger.store.reader() as tx:
        return tx.get_issue_link(forge, repo, number, kind)


def links_of(ledger: Ledger, bead_id: str) -> list[IssueLink]:
    """The issues a bead was made from (none, or one)."""
    with ledger.store.reader() as tx:
        return tx.issue_links_of([bead_id])


def link_issue(
    ledger: Ledger,
    rig: Rig,
    forge: Forge,
    issue: Issue,
    *,
    host: str | None = None,
    runtime: str | None = None,
    hold: bool = False,
    reason: str = "slung from its issue",
    model: str | None = None,
) -> tuple[Bead, IssueLink, bool]:
    """The bead of `issue`: made (slung on `rig`) with its link in one transaction, or the
    one it has. True when it was made now."""
    url = issue.url if issue.url.startswith(("https://", "http://")) else ""
    where = host or (urllib.parse.urlsplit(url).hostname or "")
    spec, cut = spec_for(issue, rig.name, url or f"#{issue.number} of {forge.repo}")
    spec.runtime, spec.held, spec.model = runtime, hold, model
    with ledger.store.transaction() as tx:
        existing = tx.get_issue_link(forge.kind, forge.repo, issue.number, "issue", lock=True)
        if existing is not None:
            bead = tx.get_bead(existing.bead_id)
            if bead is not None:
                return bead, existing, False
        (bead,) = beads.build(ledger, tx, [spec])
        beads.insert(ledger, tx, [bead], reason=reason)
        link = IssueLink(
            forge=forge.kind,
            host=where,
            repo=forge.repo,
            number=issue.number,
            kind="issue",
            url=url,
            bead_id=bead.id,
            rig=rig.name,
            created_at=ledger.now(),
            issue_updated_at=issue.updated_at,
            issue_state=issue.state,
        )
        tx.insert_issue_link(link)
        ledger.record_event(
            tx,
            "issue.linked",
            bead_id=bead.id,
            rig=rig.name,
            after={"issue": url, "number": issue.number, "repo": forge.repo},
            reason="its description was cut to fit a bead" if cut else None,
        )
        return bead, link, True


def announce(ledger: Ledger, forge: Forge, bead: Bead, link: IssueLink) -> bool:
    """Comment on the issue naming its bead. A refusal is recorded as an event and the bead
    stands: the work is in the town either way."""
    try:
        forge.comment(link.number, f"Gas Town is on it: bead {bead.id} ({bead.title}).")
    except GastownError as exc:
        _record(
            ledger, "issue.comment_failed", bead, link, f"commenting on the issue failed: {exc}"
        )
        return False
    return True


def _record(ledger: Ledger, kind: str, bead: Bead, link: IssueLink, reason: str) -> None:
    with ledger.store.transaction() as tx:
        ledger.record_event(
            tx,
            kind,
            bead_id=bead.id,
            rig=link.rig,
            after={"issue": link.url, "number": link.number},
            reason=reason,
        )


# --- which rig ----------------------------------------------------------------------------


def rig_hosts(settings: config.Resolved, rig: Rig, kind: ForgeKind) -> set[str]:
    """The web hosts an issue of `rig`'s repository may be named on."""
    hosts = {host for host, known in KNOWN_HOSTS.items() if known == kind}
    remote = parse_remote(rig.url)
    if remote is not None:
        hosts.add(remote.host)
    api = str(settings.values.get(f"{kind}.api_url") or "")
    api_host = urllib.parse.urlsplit(api).hostname
    if api_host:
        hosts.add(api_host.lower().removeprefix("api."))
        hosts.add(api_host.lower())
    return hosts


def rig_for_work(
    ledger: Ledger, town: Town, ref: WorkRef, environ: Mapping[str, str]
) -> tuple[Rig, config.Resolved]:
    """The rig whose repository `ref` is on, with its settings; a plain refusal otherwise."""
    from gastown.forge.select import locate

    with ledger.store.reader() as tx:
        rigs = tx.list_rigs()
    elsewhere: list[str] = []
    for rig in sorted(rigs, key=lambda r: r.name):
        settings = config.resolve(town.settings, rig.settings, environ)
        where = locate(settings, rig)
        if where is None or where[1].lower() != ref.repo.lower():
            continue
        kind = where[0]
        if (ref.forge is None or ref.forge == kind) and ref.host in rig_hosts(settings, rig, kind):
            return rig, settings
        name = "GitHub" if kind == "github" else "GitLab"
        elsewhere.append(f"rig {rig.name} has {where[1]} on {name}")
    if elsewhere:
        raise InvalidValue(
            f"{ref.url} is on {ref.host}, another host than the rig's: {'; '.join(elsewhere)}.",
            hint="Set `github.api_url` or `gitlab.api_url` on the rig for a self-hosted forge.",
        )
    raise InvalidValue(
        f"No rig of this town has the repository {ref.repo}, which {ref.url} is on.",
        hint="Add it with `gt rig add NAME URL`, or set `github.repo` or `gitlab.repo` on the "
        "rig that clones it.",
    )


# --- gt sling URL -------------------------------------------------------------------------


def looks_like_url(text: str) -> bool:
    """Whether `text` is a web address rather than an issue number or a bead id."""
    return text.strip().lower().startswith(("https://", "http://"))


def sling_issue(
    ledger: Ledger,
    town: Town,
    url: str,
    environ: Mapping[str, str],
    *,
    runtime: str | None = None,
    hold: bool = False,
    forge: Forge | None = None,
    model: str | None = None,
) -> Slung:
    """`gt sling <issue URL>`: the issue's bead, made and announced on the issue, or the one it
    has already. `forge` stands in for the rig's own client (None: `forge.select.require`)."""
    ref = parse_work(url)
    if ref is None:
        raise InvalidValue(
            f"'{url.strip()[:200]}' is not a GitHub or GitLab issue URL.",
            hint="Give one like https://github.com/OWNER/REPO/issues/42 or "
            "https://gitlab.com/GROUP/PROJECT/-/issues/42.",
        )
    rt, model = beads.runtime(runtime), beads.model(model)
    if ref.kind == "pull":
        return _sling_pull(ledger, town, ref, environ, runtime=rt, hold=hold, model=model)
    rig, settings = rig_for_work(ledger, town, ref, environ)
    if forge is None:
        from gastown.forge.select import require

        forge = require(settings, rig, environ)
    known = find_link(ledger, forge.kind, forge.repo, ref.number)
    if known is not None:
        with ledger.store.reader() as tx:
            bead = tx.get_bead(known.bead_id)
        if bead is not None:
            return Slung(bead=bead, link=known, created=False)
    issue = forge.get_issue(ref.number)  # a forge error here leaves nothing written
    bead, link, created = link_issue(
        ledger, rig, forge, issue, host=ref.host, runtime=rt, hold=hold, model=model
    )
    commented = announce(ledger, forge, bead, link) if created else False
    return Slung(bead=bead, link=link, created=created, commented=commented)


def _sling_pull(
    ledger: Ledger,
    town: Town,
    ref: WorkRef,
    environ: Mapping[str, str],
    *,
    runtime: str | None,
    hold: bool,
    model: str | None = None,
) -> Slung:
    """A pull request is not an issue: its bead babysits the pull request on its own branch
    (`services.babysit`)."""
    from gastown.services import babysit

    bead = babysit.sling_pull(ledger, town, environ, ref, runtime=runtime, hold=hold, model=model)
    return Slung(bead=bead, link=None, created=True)
