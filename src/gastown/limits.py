"""The bounds every way in shares: the CLI, the HTTP API, imports, plans and the mayor's tools.

Numbers are bounded where they come in (exit 2 on the command line, HTTP 422 from the API),
before they reach a database whose integers are 64 bits wide (SQLite's INTEGER, PostgreSQL's
bigint). Text is bounded by the service that keeps it (`services.beads` for titles and
bodies), so every path that makes or edits a record refuses the same things.
"""

from __future__ import annotations

import re

from gastown.errors import InvalidValue

MAX_INT = 2**63 - 1
"""The largest integer SQLite and PostgreSQL keep: no id, event id or offset is larger."""
MAX_LIMIT = 1_000_000
"""The most rows one listing may ask for (`--limit`, `?limit=`); 0 asks for all of them."""
MAX_TITLE = 500
"""Characters in a bead's title (one line)."""
MAX_BODY = 64 * 1024
"""Bytes (UTF-8) in a bead's body: 64 kB. A body goes into the agent's prompt, which most agent
CLIs take as one command-line argument, and Linux caps one argument at 128 kB: the body leaves
room for the rest of the prompt."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters (C0, DEL, C1) and lone surrogates, which are not text."""
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""The same, less tab and line breaks."""
_TERMINAL = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?)?")
"""A terminal's escape sequence (colours, titles), as test runners print them."""


def bad_character(text: str, allowed: str = "") -> str | None:
    """The first control character (or lone surrogate) in `text` that `allowed` does not
    list, written as U+XXXX; None when there is none."""
    for found in _CONTROL.finditer(text):
        char = found.group()
        if char not in allowed:
            return f"U+{ord(char):04X}"
    return None


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8 (a lone surrogate counts as the three bytes it would take)."""
    return len(text.encode("utf-8", "surrogatepass"))


def printable(text: str, *, one_line: bool = False, limit: int = MAX_BODY) -> str:
    """Text a program wrote (a gate's log, a reviewer's comments, a command), made fit to keep
    in a bead: terminal escapes dropped, other control characters shown as U+FFFD (on one
    line, line breaks and tabs as spaces), and the end cut off past `limit` bytes."""
    clean = _TERMINAL.sub("", text)
    if one_line:
        clean = " ".join(clean.split())
    clean = (_CONTROL if one_line else _BODY_CONTROL).sub("\ufffd", clean)
    if utf8_size(clean) > limit:
        clean = clean.encode()[: limit - 16].decode("utf-8", "ignore") + " … (cut)"
    return clean


def is_url(text: str) -> bool:
    """Whether `text` is an http(s) URL with a host (and a port, if any, that is a number)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  # a port that is not a number raises
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in text


def shown(value: object, width: int = 30) -> str:
    """`value` as a message may quote it: cut to `width` characters (a number too long to
    print is described instead, since Python refuses to print the longest)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**width:
        return f"a number of more than {width} digits"
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def row_limit(value: int | None) -> int | None:
    """A listing's limit as the store takes it: None (all) for None or 0, else 1 to
    `MAX_LIMIT`; anything else is refused."""
    if value is None or (value == 0 and not isinstance(value, bool)):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_LIMIT:
        raise InvalidValue(
            f"A limit is a whole number from 0 (all) to {MAX_LIMIT}, not {shown(value)}."
        )
    return value
