"""Builders the tests share, one import away: `from tests.builders import bead, town, Yard`.
Test files take their helpers and shared fixtures from here (and the basic fixtures from
`conftest`), never from one another. Each part lives in its own module:

    records.py   records with sensible defaults, older schemas
    town.py      a running town: its fixtures, `until`, scripts for the scripted agent
    mayor.py     the mayor against the scripted model server
    yard.py      the refinery's yard: a remote, a town on it, merge requests made as runs make them

and those a few test files use, imported from their module (`from tests.builders.web import
Browser`), so a test that needs none of them loads none of what they import:

    web.py        the dashboard through the ASGI client
    chromium.py   the dashboard in headless Chromium
    diffs.py      a merge request with every kind of file a diff shows
    plans.py      snapshots for the reconciler's planner
    spend.py      runs with spend on two fixed days
    generated.py  a random town, the same for a seed
    races.py      eight processes racing on one store
    git.py        plain git as the developer `Dev`, for the forge tests
    hooks.py      a chat tool's incoming webhook
    programs.py   fake agent CLIs on PATH
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
    undo_migration_14,
    undo_migration_15,
    undo_migrations_after,
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
    "undo_migration_14",
    "undo_migration_15",
    "undo_migrations_after",
    "until",
    "verdict",
    "yard",
]
