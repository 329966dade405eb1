"""Rigs: the repositories a town works on, each cloned into the town."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from gastown import config, git
from gastown.errors import Conflict, GitError, InvalidValue, NotFound
from gastown.forge.select import locate
from gastown.forge.urls import WorkRef, parse_work
from gastown.git.repo import normalize_url
from gastown.model import CLOSED, FAILED, Rig
from gastown.services.ledger import Ledger, append
from gastown.store import BeadFilter

if TYPE_CHECKING:
    from gastown.town import Town

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def check_name(name: str) -> str:
    """`name` if it is usable as a rig name; else the input error saying what is."""
    if not NAME_RE.match(name):
        raise InvalidValue(
            f"'{name}' is not a usable rig name.",
            hint="Use lowercase letters, digits, '-' and '_', starting with a letter or digit.",
        )
    return name


def add(
    ledger: Ledger,
    town_path: Path,
    name: str,
    url: str,
    branch: str | None = None,
    *,
    settings: config.Resolved | None = None,
    environ: Mapping[str, str] | None = None,
) -> Rig:
    """Clone `url` into the town as rig `name`, targeting `branch` or the remote's default.
    With the town's `settings`, a GitHub or GitLab https URL is cloned with the forge's token
    (`forge.gitauth`), which is never written into the clone's remote URL or anywhere else."""
    check_name(name)
    with ledger.store.reader() as tx:
        if tx.get_rig(name) is not None:
            raise Conflict(f"There is already a rig named '{name}'.")
    source = normalize_url(url)
    if settings is not None:
        from gastown.forge.gitauth import authorize_url

        authorize_url(source, settings, environ or {})
    try:
        target = git.default_branch(source, branch)
    except GitError as exc:
        raise _credentials(source, settings, environ or {}) or exc from None
    rel = Path("rigs") / name
    dest = town_path / rel
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"{dest} already exists and is not empty.", hint="Move it away first.")
    git.clone(source, dest, target)
    try:
        rig = Rig(name=name, url=source, branch=target, path=str(rel), created_at=ledger.now())
        with ledger.store.transaction() as tx:
            if tx.get_rig(name) is not None:
                raise Conflict(f"There is already a rig named '{name}'.")
            tx.insert_rig(rig)
            append(
                tx,
                [
                    ledger.event(
                        "rig.added",
                        at=rig.created_at,
                        rig=name,
                        after={"url": source, "branch": target},
                    )
                ],
            )
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return rig


def _credentials(
    url: str, settings: config.Resolved | None, environ: Mapping[str, str]
) -> GitError | None:
    """Why a forge refused `url`, in one sentence naming the setting, when it is a forge's
    https URL (None otherwise: git's own words stand)."""
    if settings is None:
        return None
    from gastown.forge.gitauth import token_for
    from gastown.forge.select import GITHUB_CREDENTIALS, GITLAB_CREDENTIALS, locate

    where = locate(settings, Rig(name="", url=url, branch="", path=""))
    if where is None or "://" not in url or url.startswith(("ssh:", "git:")):
        return None
    kind = where[0]
    needed = GITHUB_CREDENTIALS if kind == "github" else GITLAB_CREDENTIALS
    forge = "GitHub" if kind == "github" else "GitLab"
    if token_for(kind, settings, environ):
        return GitError(
            f"{forge} refused to let the token in the settings clone {url}: check that it can "
            f"read this repository; it needs {needed}."
        )
    return GitError(
        f"{url} could not be cloned without credentials: set {needed}.",
        hint="`gt config set github.token …` keeps it in secrets.toml, readable by you only."
        if kind == "github"
        else "`gt config set gitlab.token …` keeps it in secrets.toml, readable by you only.",
    )


def get(ledger: Ledger, name: str) -> Rig:
    """The rig called `name`; else the input error saying there is none."""
    with ledger.store.reader() as tx:
        rig = tx.get_rig(name)
    if rig is None:
        raise NotFound(f"There is no rig '{name}'.", hint="`gt rig list` shows the town's rigs.")
    return rig


def list_rigs(ledger: Ledger) -> list[Rig]:
    """Every rig, by name."""
    with ledger.store.reader() as tx:
        return tx.list_rigs()


def remove(ledger: Ledger, town_path: Path, name: str, force: bool = False) -> Rig:
    """Forget a rig and delete its clone. Its beads and events stay in the ledger."""
    with ledger.store.transaction() as tx:
        rig = tx.get_rig(name)
        if rig is None:
            raise NotFound(
                f"There is no rig '{name}'.", hint="`gt rig list` shows the town's rigs."
            )
        active = [
            b.id for b in tx.list_beads(BeadFilter(rig=name)) if b.status not in (CLOSED, FAILED)
        ]
        if active and not force:
            raise Conflict(
                f"Rig '{name}' has {len(active)} unfinished bead(s) ({', '.join(active[:3])}...).",
                hint="Close them first, or pass --force to remove the rig anyway.",
            )
        tx.delete_rig(name)
        append(
            tx,
            [ledger.event("rig.removed", rig=name, before={"url": rig.url, "branch": rig.branch})],
        )
    shutil.rmtree(town_path / rig.path, ignore_errors=True)
    return rig


def of_pull(
    ledger: Ledger, town: Town, environ: Mapping[str, str], url: str
) -> tuple[Rig, config.Resolved, WorkRef]:
    """The rig whose repository the pull request `url` is on, its settings and the address."""
    ref = parse_work(url)
    if ref is None or ref.kind != "pull":
        raise InvalidValue(
            f"'{url}' is not the address of a pull or merge request.",
            hint="Give one like https://github.com/OWNER/REPO/pull/7 or "
            "https://gitlab.com/GROUP/REPO/-/merge_requests/7.",
        )
    with ledger.store.reader() as tx:
        rigs = tx.list_rigs()
    for rig in rigs:
        settings = config.resolve(town.settings, rig.settings, environ)
        where = locate(settings, rig)
        if where is None or where[1].lower() != ref.repo.lower():
            continue
        if ref.forge is None or ref.forge == where[0]:
            return rig, settings, ref
    raise NotFound(
        f"No rig has the repository {ref.repo}.",
        hint="Add it with `gt rig add NAME URL`, or set github.repo / gitlab.repo on a rig.",
    )
