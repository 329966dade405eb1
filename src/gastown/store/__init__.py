"""The state store: one protocol, two backends (SQLite by default, PostgreSQL for teams).

Open one with `open_store(url)`. `sqlite:///path/to/state.db` (a relative path is taken from
the town folder) or `postgresql://user@host/db`. The PostgreSQL driver is imported only when a
PostgreSQL URL is opened, so the SQLite read path stays fast.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from gastown.errors import InvalidValue
from gastown.store.rows import BeadFilter
from gastown.store.sql import Turn, Tx

__all__ = ["BeadFilter", "Store", "Turn", "Tx", "open_store"]


class Store(Protocol):
    """Where a town's ledger lives. Every change happens inside `transaction()`, which
    serializes writers; `reader()` gives a consistent view without blocking them."""

    url: str
    """The database URL it was opened from (see `redact` before showing it)."""
    writes: int
    """Transactions committed through this handle (so a command knows it changed something)."""

    def transaction(self) -> AbstractContextManager[Tx]:
        """A transaction that writes: committed when the block ends, rolled back if it raises."""
        ...

    def reader(self) -> AbstractContextManager[Tx]:
        """A consistent view of the ledger at one moment, for reading."""
        ...

    def wake_others(self) -> None:
        """Tell town processes on other hosts that the ledger changed (PostgreSQL's NOTIFY;
        a SQLite town has no other hosts)."""
        ...

    def close(self) -> None:
        """Let the database go; the handle is not used again."""
        ...


def open_store(url: str, base: Path | None = None) -> Store:
    """Open (and migrate) the store at `url`; relative SQLite paths are taken from `base`."""
    if url.startswith(("postgresql://", "postgres://")):
        from gastown.store.postgres import PostgresStore

        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        from gastown.store.sqlite import SqliteStore

        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_absolute() and base is not None:
            path = base / path
        return SqliteStore(path)
    raise InvalidValue(
        f"'{url}' is not a database URL Gas Town can open.",
        hint="Use sqlite:///state.db or postgresql://user@host/dbname.",
    )


def redact(url: str) -> str:
    """`url` fit for a message: its password, if it has one, shown as `***`."""
    from urllib.parse import urlsplit, urlunsplit  # only when a message needs it

    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        parts = parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{hostport}")
    if "password=" in parts.query:
        hidden = (
            "password=***" if q.startswith("password=") else q for q in parts.query.split("&")
        )
        parts = parts._replace(query="&".join(hidden))
    return urlunsplit(parts)


def unstorable(exc: Exception) -> InvalidValue:
    """A value the database cannot keep, as the input error it is: a NUL in text (PostgreSQL),
    a lone surrogate (not Unicode text), or a number wider than 64 bits. The edges refuse these
    first; this keeps a path they missed from failing as a crash."""
    text = str(exc)
    if isinstance(exc, UnicodeEncodeError):
        return InvalidValue("Text must be valid Unicode: this holds an unpaired surrogate.")
    if "NUL" in text or "0x00" in text:
        return InvalidValue("Text cannot hold a NUL character (U+0000).")
    if isinstance(exc, OverflowError) or "out of range" in text:
        return InvalidValue("A number is too large to keep: at most 9223372036854775807.")
    said = (text.strip().splitlines() or ["no reason given"])[0].rstrip(".")
    return InvalidValue(f"The database refused a value: {said}.")
