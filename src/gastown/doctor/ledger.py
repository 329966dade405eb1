"""The ledger: its database reachable and migrated, and a town process at hand for its work.

The schema version is read without opening the store, since opening migrates: the doctor
reports an old ledger, and only `--fix` migrates it (opening it as every command does).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gastown.doctor import FAIL, OK, WARN, Finding, Patient
from gastown.store import open_store, redact
from gastown.store.schema import LATEST

CONNECT_TIMEOUT = 5
"""Seconds to wait for PostgreSQL to answer before calling it unreachable."""


def sqlite_path(url: str, town: Path) -> Path:
    """The file a `sqlite:///` URL names, a relative one taken from the town folder."""
    path = Path(url.removeprefix("sqlite:///"))
    return path if path.is_absolute() else town / path


class Unreadable(Exception):
    """The database cannot be read; the message is the driver's own words."""


def schema_version(url: str, town: Path) -> int:
    """The ledger's recorded schema version (0: never migrated); Unreadable when the
    database cannot be reached or read."""
    if url.startswith("sqlite:///"):
        path = sqlite_path(url, town)
        if not path.is_file():
            raise Unreadable(f"{path} does not exist")
        try:
            return _sqlite_version(path)
        except (OSError, sqlite3.Error) as exc:
            raise Unreadable(_first_line(exc)) from None
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
            try:
                row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            except psycopg.errors.UndefinedTable:
                return 0
    except psycopg.Error as exc:
        raise Unreadable(_first_line(exc)) from None
    return int(row[0] or 0) if row else 0


def _sqlite_version(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)  # read-only: never migrates
    try:
        try:
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # a database at all
            return 0
    finally:
        conn.close()
    return int(row[0] or 0)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")


def database(patient: Patient) -> Finding:
    """The ledger's database: reachable, readable, and at the schema this gt writes."""
    url, town = patient.town.db_url, patient.folder
    kind = "PostgreSQL" if url.startswith(("postgresql://", "postgres://")) else "SQLite"
    shown = redact(url) if kind == "PostgreSQL" else str(sqlite_path(url, town))
    try:
        version = schema_version(url, town)
    except Unreadable as exc:
        reason = str(exc)
        where = "the [town] db URL in town.toml"
        return Finding(
            "database",
            FAIL,
            f"Cannot read the {kind} ledger at {shown}: {reason}.",
            fix=f"Start PostgreSQL or correct {where}."
            if kind == "PostgreSQL"
            else "Restore the file from a backup, or fix its permissions.",
        )
    if version > LATEST:
        return Finding(
            "database",
            FAIL,
            f"The {kind} ledger at {shown} has schema version {version}, newer than this gt "
            f"knows ({LATEST}).",
            fix="Upgrade gastown.",
        )
    if version < LATEST:

        def migrate() -> list[str]:
            open_store(url, town).close()  # opening applies every pending migration
            return [f"Migrated the ledger from schema version {version} to {LATEST}."]

        return Finding(
            "database",
            FAIL,
            f"The {kind} ledger at {shown} is at schema version {version}; this gt needs {LATEST}.",
            fix="`gt doctor --fix` migrates it (so does any other gt command).",
            repair=migrate,
        )
    return Finding("database", OK, f"{kind} ledger at {shown}, schema version {version}.")


def town_process(pid: int | None, url: str, in_progress: int, active_runs: int) -> Finding:
    """Whether a town process runs here while the ledger has work under way (pure)."""
    if pid is not None:
        return Finding("town process", OK, f"Up: process {pid} at {url}.")
    if not in_progress and not active_runs:
        return Finding("town process", OK, "Down, with no work in progress.")
    return Finding(
        "town process",
        FAIL,
        f"Down while {in_progress} bead(s) are in progress and {active_runs} run(s) active: "
        "nothing moves until it runs.",
        fix="Start it with `gt up -d`: it adopts agents still running and requeues the rest.",
    )


def unchecked(check: str, why: str) -> Finding:
    """A check that could not be made because an earlier one failed."""
    return Finding(check, WARN, f"Not checked: {why}.", fix="Fix the failures above first.")
