"""Whether a value suits its setting: a typed value checked (`check`), or typed text made
into one (`parse`), each refusal one sentence saying what the setting expects."""

from __future__ import annotations

import json
import math
from typing import Any

from gastown import escalation_routes
from gastown.config.catalogue import (
    ENV_NAME,
    MASK,
    MAX_ENTRIES,
    MAX_TEXT,
    REPO,
    SETTINGS,
    Setting,
)
from gastown.errors import InvalidValue
from gastown.limits import bad_character, is_url, shown


def setting(key: str) -> Setting:
    """The setting `key` names (a `map` entry names its map); else the input error
    naming those near it."""
    found = SETTINGS.get(key)
    if found is None:
        parent = key.split(".", 1)[0]
        if parent in SETTINGS and SETTINGS[parent].kind == "map":
            return SETTINGS[parent]
        near = [k for k in SETTINGS if k.startswith(key.split(".", maxsplit=1)[0])]
        raise InvalidValue(
            f"'{shown(key, 60)}' is not a setting.",
            hint=("Did you mean " + ", ".join(near) + "? " if near else "")
            + "`gt config show` lists them all.",
        )
    return found


def _fail(s: Setting, key: str, value: Any) -> InvalidValue:
    said = MASK if s.secret else shown(value if isinstance(value, int) else repr(value), 60)
    return InvalidValue(f"Setting '{key}' expects {s.expected}, not {said}.")


def check(key: str, value: Any) -> Any:
    """Validate an already-typed value (from TOML, JSON or code) for `key`; returns it."""
    s = setting(key)
    if s.kind == "map" and key != s.key:  # one entry of a map: env_vars.NAME
        if not isinstance(value, str):
            raise _fail(s, key, value)
        _entry(s, key.split(".", 1)[1], value)
        return value
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "list": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "map": isinstance(value, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()),
        "choice": value in s.choices,
        "optint": value is None or (isinstance(value, int) and not isinstance(value, bool)),
        "usd": value is None or _is_usd(value),
    }[s.kind]
    if not ok or (s.kind in ("int", "optint") and value is not None and not _within(s, value)):
        raise _fail(s, key, value)
    if s.kind == "str":
        _text(s, key, value)
    elif s.kind == "list":
        if len(value) > MAX_ENTRIES:
            raise InvalidValue(f"Setting '{key}' holds at most {MAX_ENTRIES} entries.")
        for entry in value:
            _text(s, key, entry, "\t\n")
    elif s.kind == "map":
        if len(value) > MAX_ENTRIES:
            raise InvalidValue(f"Setting '{key}' holds at most {MAX_ENTRIES} entries.")
        for name, entry in value.items():
            _entry(s, name, entry)
    return value


def _is_usd(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value < 1e12
    )


def _within(s: Setting, value: int) -> bool:
    low = max(s.minimum or 0, 0)
    return low <= value and (s.maximum is None or value <= s.maximum)


def _text(s: Setting, key: str, value: str, allowed: str = "") -> None:
    """Refuse text a program could not take: control characters, a size past `MAX_TEXT`,
    or a URL or repository that is not one."""
    if s.form == "text":
        allowed = "\t\n\r"
    if len(value) > MAX_TEXT:
        raise InvalidValue(
            f"Setting '{key}' is at most {MAX_TEXT} characters; this value has {len(value)}."
        )
    if bad := bad_character(value, allowed):
        raise InvalidValue(
            f"Setting '{key}' cannot hold control characters ({bad}); give it as plain text."
        )
    if s.form == "url" and (value or s.default) and not is_url(value):
        raise _fail(s, key, value)
    if s.form == "repo" and value and not _is_repo(value):
        raise _fail(s, key, value)
    if s.form == "route":
        escalation_routes.parse(value, key)


def _is_repo(text: str) -> bool:
    return REPO.fullmatch(text) is not None and not any(p in (".", "..") for p in text.split("/"))


def _entry(s: Setting, name: str, value: str) -> None:
    """One entry of a map: for `env_vars`, a legal variable name and a value it can hold."""
    if not ENV_NAME.fullmatch(name):
        raise InvalidValue(
            f"'{shown(name, 60)}' cannot name an environment variable: use letters, digits "
            f"and _, not starting with a digit (e.g. {s.key}.API_KEY)."
        )
    if not isinstance(value, str):
        raise _fail(s, f"{s.key}.{name}", value)
    _text(s, f"{s.key}.{name}", value, "\t\n\r")


def parse(key: str, text: str) -> Any:
    """Turn what a user typed (flag, env var) into a typed value for `key`, or say why not."""
    s = setting(key)
    kind = "str" if s.kind == "map" and key != s.key else s.kind
    value: Any = text
    if kind in ("int", "optint"):
        if kind == "optint" and text.strip().lower() in ("off", "none", "null", ""):
            return None
        try:
            value = int(text)
        except ValueError:
            raise _fail(s, key, text) from None
    elif kind == "usd":
        if text.strip().lower() in ("off", "none", "null", ""):
            return None
        try:
            value = float(text.strip().removeprefix("$"))
        except ValueError:
            raise _fail(s, key, text) from None
        if not _is_usd(value):
            raise _fail(s, key, text)
    elif kind == "bool":
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            raise _fail(s, key, text)
        value = lowered in ("true", "yes", "on", "1")
    elif kind in ("list", "map"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise _fail(s, key, text) from None
    return check(key, value)
