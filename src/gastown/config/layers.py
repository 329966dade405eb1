"""How the layers stack: `town.toml` tables flattened to dotted keys, `GT_*` variables
read, and the values in force resolved with the layer each came from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gastown.config.catalogue import GROUPS, MASK, SETTINGS
from gastown.config.checks import check, parse, setting
from gastown.errors import InvalidValue
from gastown.record import Record


def flatten(table: Mapping[str, Any], origin: str, prefix: str = "") -> dict[str, Any]:
    """Nested TOML tables to dotted keys, validating each; unknown keys name where they are."""
    if not isinstance(table, Mapping):
        raise InvalidValue(
            f"In {origin}: [settings] must be a table of settings.",
            hint=f"Fix it in {origin}; `gt config show` lists every setting.",
        )
    out: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if key in SETTINGS:
            try:
                out[key] = check(key, value)
            except InvalidValue as exc:
                raise InvalidValue(
                    f"In {origin}: {exc.message}",
                    hint=f"Fix or remove it in {origin} (`gt config set` checks values first).",
                ) from None
        elif key in GROUPS and isinstance(value, Mapping):
            out.update(flatten(value, origin, f"{key}."))
        else:
            raise InvalidValue(
                f"In {origin}: '{key}' is not a setting.",
                hint="`gt config show` lists every setting.",
            )
    return out


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys back to nested tables, for writing `town.toml`."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings named by `GT_*` variables; other `GT_` names (GT_TOWN, ...) are not settings."""
    out: dict[str, Any] = {}
    for name, text in environ.items():
        if not name.startswith("GT_"):
            continue
        key = name[3:].lower().replace("__", ".")
        if key in SETTINGS:
            try:
                out[key] = parse(key, text)
            except InvalidValue as exc:
                raise InvalidValue(f"In environment variable {name}: {exc.message}") from None
    return out


def env_name(key: str) -> str:
    """The environment variable that sets `key`: `GT_` and the key upper-cased, dots as `__`."""
    return "GT_" + key.upper().replace(".", "__")


class Resolved(Record):
    """Effective settings with the layer each value came from."""

    values: Mapping[str, Any]
    """Every setting's value in force, by key."""
    origins: Mapping[str, str]
    """The layer each value came from, by key (`default`, `town.toml`, ...)."""

    def __getitem__(self, key: str) -> Any:
        setting(key)
        return self.values[key]

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every (key, value) in force, secrets not masked."""
        return iter(self.values.items())

    def display(self, key: str) -> Any:
        """The value as it may be shown to anyone: secrets masked."""
        return masked(key, self.values[key])


def masked(key: str, value: Any) -> Any:
    """`value` fit to show: a secret's value as `MASK` (a map's values each)."""
    s = setting(key)
    if not s.secret:
        return value
    if isinstance(value, dict):
        return dict.fromkeys(value, MASK)
    return MASK if value else value


def resolve(
    town: Mapping[str, Any],
    rig: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Resolved:
    """Stack the layers. `town`, `rig` and `flags` hold dotted keys already validated."""
    values: dict[str, Any] = {k: s.default for k, s in SETTINGS.items()}
    origins = dict.fromkeys(SETTINGS, "default")
    layers: list[tuple[str, Mapping[str, Any]]] = [
        ("town.toml", town),
        ("rig", rig or {}),
        ("environment", from_environ(environ or {})),
        ("flag", flags or {}),
    ]
    for origin, layer in layers:
        for key, value in layer.items():
            s = setting(key)
            where = "secrets.toml" if s.secret and origin == "town.toml" else origin
            if s.kind == "map":  # maps merge across layers: a rig adds to the town's entries
                entry = {key.split(".", 1)[1]: value} if key != s.key else value
                values[s.key] = {**values[s.key], **entry}
                origins[s.key] = where
            else:
                values[key] = value
                origins[key] = where
    return Resolved(values, origins)
