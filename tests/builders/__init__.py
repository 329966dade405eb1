"""Builders the tests share, one import away: `from tests.builders import bead, town, Yard`.
Test files take their helpers and shared fixtures from here (and the basic fixtures from
`conftest`), never from one another. Each part lives in its own module:

    records.py   records with sensible defaults, older schemas
    town.py      a running town: its fixtures, `until`, scripts for the scripted agent
    mayor.py     the mayor against the scripted model server
    yard.py      the refinery's yard: a remote, a town on it, merge requests made as runs make them

and two that are imported by name, not from here, since they load the web app or a browser:

    web.py       the dashboard through the ASGI client (`from tests.builders.web import ...`)
    chromium.py  the dashboard in headless Chromium (`from tests.builders.chromium import ...`)
"""

from tests.builders.mayor import call, mayor_of, point_at, serve
from tests.builders.records import (
    at,
    bead,
    blocked,
    convoy,
    event,
    listed,
    undo_migration_13,
    undo_migration_18,
    undo_migration_20,
)
from tests.builders.town import DEADLINE, bead_status, script, store, town, until
from tests.builders.yard import (
    CALC,
    GATE,
    Yard,
    commit_all,
    github_seams,
    make_remote,
    remote,
    show,
    verdict,
    yard,
)

__all__ = [
    "CALC",
    "DEADLINE",
    "GATE",
    "Yard",
    "at",
    "bead",
    "bead_status",
    "blocked",
    "call",
    "commit_all",
    "convoy",
    "event",
    "github_seams",
    "listed",
    "make_remote",
    "mayor_of",
    "point_at",
    "remote",
    "script",
    "serve",
    "show",
    "store",
    "town",
    "undo_migration_13",
    "undo_migration_18",
    "undo_migration_20",
    "until",
    "verdict",
    "yard",
]
