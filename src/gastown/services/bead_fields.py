"""A bead's fields as people and agents type them, checked and made into what is kept:
priority, type, status, title, body, labels, runtime, model, and the short lines and reasons
that go with a change. Each refusal is one sentence naming what is allowed."""

from __future__ import annotations

from collections.abc import Sequence

from gastown.config import RUNTIMES
from gastown.errors import InvalidValue
from gastown.limits import MAX_BODY, MAX_TITLE, bad_character, row_limit, shown, utf8_size
from gastown.model import BEAD_STATUSES, BEAD_TYPES
from gastown.store import BeadFilter

MAX_LABEL = 100
"""Characters in one label."""
MAX_REASON = 4000
"""Characters in the reason given for a change."""


def priority(value: object) -> int:
    """0–4, also written P0–P4."""
    if isinstance(value, int) and not isinstance(value, bool) and value in range(5):
        return value
    text = value.strip().upper().removeprefix("P") if isinstance(value, str) else None
    if text in ("0", "1", "2", "3", "4"):
        return int(text)
    raise InvalidValue(
        f"Priority must be 0 to 4 (0 is highest), not '{shown(value)}'.",
        hint="For example: -p 1",
    )


def bead_type(value: str) -> str:
    """`value` if it is one of `BEAD_TYPES`; else the input error naming them."""
    if value not in BEAD_TYPES:
        raise InvalidValue(
            f"Bead type must be one of {', '.join(BEAD_TYPES)}, not '{shown(value)}'."
        )
    return value


def status(value: str) -> str:
    """`value` if it is one of `BEAD_STATUSES`; else the input error naming them."""
    if value not in BEAD_STATUSES:
        raise InvalidValue(
            f"Bead status must be one of {', '.join(BEAD_STATUSES)}, not '{shown(value)}'."
        )
    return value


def title(value: str) -> str:
    """A title as kept: stripped, one line of at most `MAX_TITLE` characters, plain text."""
    text = _text(value, "A bead title").strip()
    if not text:
        raise InvalidValue("A bead needs a title.")
    if len(text) > MAX_TITLE or "\n" in text:
        raise InvalidValue(f"A bead title is one line of at most {MAX_TITLE} characters.")
    if bad := bad_character(text):
        raise InvalidValue(
            f"A bead title cannot hold control characters ({bad}): write it as plain text."
        )
    return text


def body(value: str) -> str:
    """A body as kept: at most `MAX_BODY` bytes of text, with tabs and line breaks but no
    other control characters."""
    text = _text(value, "A bead body")
    size = utf8_size(text)
    if size > MAX_BODY:
        raise InvalidValue(
            f"A bead body is at most {MAX_BODY // 1024} kB; this one is {-(-size // 1024)} kB.",
            hint="Keep long material (logs, specifications) in a file and point to it.",
        )
    if bad := bad_character(text, "\t\n\r"):
        raise InvalidValue(
            f"A bead body cannot hold control characters other than tabs and line breaks ({bad})."
        )
    return text


def line(value: str | None, what: str, limit: int = MAX_TITLE) -> str | None:
    """A short one-line field (an assignee, a reason), or None: plain text of at most `limit`
    characters."""
    if value is None:
        return None
    text = _text(value, what)
    if len(text) > limit:
        raise InvalidValue(f"{what} is at most {limit} characters; this one has {len(text)}.")
    if bad := bad_character(text):
        raise InvalidValue(f"{what} cannot hold control characters ({bad}).")
    return text


def _reason(value: str | None) -> str | None:
    """Why a change was made, for the event log: text of at most `MAX_REASON` characters,
    with tabs and line breaks but no other control characters."""
    if value is None:
        return None
    text = _text(value, "A reason")
    if len(text) > MAX_REASON:
        raise InvalidValue(
            f"A reason is at most {MAX_REASON} characters; this one has {len(text)}."
        )
    if bad := bad_character(text, "\t\n\r"):
        raise InvalidValue(
            f"A reason cannot hold control characters other than tabs and line breaks ({bad})."
        )
    return text


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"{what} must be text, not {type(value).__name__}.")
    return value


def labels(values: Sequence[str]) -> list[str]:
    """Labels as typed (each value may hold several, comma-separated), checked,
    without repeats, sorted."""
    out = set()
    for value in values:
        for part in _text(value, "A label").split(","):
            label = part.strip()
            if label:
                if any(c.isspace() for c in label):
                    raise InvalidValue(f"A label cannot contain spaces: '{label}'.")
                line(label, "A label", MAX_LABEL)
                out.add(label)
    return sorted(out)


def runtime(value: str | None) -> str | None:
    """An agent runtime asked for by name (None: the rig's `runtime` setting)."""
    if value is not None and value not in RUNTIMES:
        raise InvalidValue(f"Runtime must be one of {', '.join(RUNTIMES)}, not '{shown(value)}'.")
    return value


MAX_MODEL = 200
"""Characters in a model's name."""


def model(value: str | None) -> str | None:
    """A model asked for by name (None: the settings' `role_models.polecat` or
    `default_model`). It reaches the agent CLI's command line as one argument, so it is one
    word: never empty, no spaces, no line breaks, no control characters, no leading '-'."""
    if value is None:
        return None
    if not value:
        raise InvalidValue(
            "A model needs a name, such as claude-sonnet-4-5; it cannot be empty.",
            hint="Leave the model out to use the settings' (role_models.polecat, else "
            "default_model).",
        )
    spaced = any(c.isspace() for c in value) or bad_character(value)
    if len(value) > MAX_MODEL or spaced or value.startswith("-"):  # "-x" would read as an option
        said = value.encode("unicode_escape").decode("ascii")  # a line break shown as \\n
        raise InvalidValue(
            f"A model is one name of at most {MAX_MODEL} characters with no spaces, line "
            f"breaks or control characters, not starting with '-', such as claude-sonnet-4-5, "
            f"not '{shown(said)}'.",
            hint="Leave the model out to use the settings' (role_models.polecat, else "
            "default_model).",
        )
    return value


def check_filter(flt: BeadFilter) -> BeadFilter:
    """A listing's filter with its statuses and limit checked (a limit of 0 asks for all)."""
    for name in flt.statuses or ():
        status(name)
    flt.limit = row_limit(flt.limit)
    return flt
