"""`gt sling`: put work in front of the polecats: a new bead, an existing one, a forge
issue's or a person's pull request."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App
from gastown.cli.cmd_beads import _content_options, _spec, _warn_runtime


def add_parser(sub: Any, shared: argparse.ArgumentParser) -> None:
    """`gt sling` (registered through `cli.cmd_beads`)."""
    sling = sub.add_parser(
        "sling",
        parents=[shared],
        help="put work in front of the polecats",
        description="`gt sling TITLE --rig R` creates a bead marked for "
        "dispatch; `gt sling BEAD_ID` marks an existing one; `gt sling ISSUE_URL` makes a bead "
        "of a GitHub or GitLab issue and comments on the issue.",
    )
    sling.add_argument(
        "target",
        metavar="TITLE_OR_BEAD",
        help="a new bead's title, an existing bead's id, or an issue's URL",
    )
    _content_options(sling)
    sling.add_argument("--runtime", help="agent runtime for this bead")
    sling.add_argument(
        "--model",
        help="model its runs use (default: role_models.polecat, else default_model)",
    )
    sling.add_argument("--hold", action="store_true", help="mark it, but hold it for now")
    sling.set_defaults(handler=sling_work)


def sling_work(app: App) -> int:
    import re

    from gastown.services import issues, sling

    target = app.args.target
    pulled = _sling_pull(app, target)
    if pulled is not None:
        return pulled
    if issues.looks_like_url(target):
        return _sling_url(app, target)
    if re.fullmatch(rf"{re.escape(app.town.prefix)}-[0-9a-z]+(\.[0-9]+)*", target):
        bead = sling.sling_existing(
            app.ledger, target, app.args.runtime, True if app.args.hold else None, app.args.model
        )
        verb = "Slung"
    else:
        spec = _spec(app, target)
        spec.runtime, spec.model = app.args.runtime, app.args.model
        bead = sling.sling_new(app.ledger, spec)
        verb = "Slung new bead"
    held = " (held)" if bead.held else ""
    app.emit(bead.to_json(), f"{verb} {bead.id}{held}: {bead.title} → rig {bead.rig}")
    _warn_runtime(app, bead)
    return 0


def _sling_url(app: App, url: str) -> int:
    """`gt sling <issue URL>`: the issue's bead, made and announced, or the one it has."""
    from gastown.services import issues

    done = issues.sling_issue(
        app.ledger,
        app.town,
        url,
        app.environ,
        runtime=app.args.runtime,
        hold=app.args.hold,
        model=app.args.model,
    )
    bead, link = done.bead, done.link
    data = {**bead.to_json(), "issue": link.to_json() if link else None, "created": done.created}
    if link is not None and not done.created:
        text = f"Issue #{link.number} of {link.repo} is bead {bead.id} already ({bead.status})."
    else:
        held = " (held)" if bead.held else ""
        said = "" if done.commented else "; commenting on the issue failed (see `gt events`)"
        text = f"Slung new bead {bead.id}{held}: {bead.title} → rig {bead.rig}{said}"
    app.emit(data, text)
    return 0


def _sling_pull(app: App, target: str) -> int | None:
    """`gt sling <PR URL>`: a bead babysitting a person's pull request on its own branch;
    None when `target` names no pull request."""
    from gastown.forge.urls import parse_work

    work = parse_work(target)
    if work is None or work.kind != "pull":
        return None
    from gastown.services import babysit

    bead = babysit.sling_pull(
        app.ledger,
        app.town,
        app.environ,
        work,
        runtime=app.args.runtime,
        hold=app.args.hold,
        model=app.args.model,
    )
    app.emit(bead.to_json(), f"Slung {bead.id}: {bead.title} → rig {bead.rig}")
    return 0
