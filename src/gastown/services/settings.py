"""Reading and changing settings: town.toml for the town, the ledger for rig overrides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gastown import config
from gastown.errors import InvalidValue, NotFound
from gastown.services.ledger import Ledger, append
from gastown.town import Town


def rig_overrides(ledger: Ledger, rig: str) -> dict[str, Any]:
    """The rig's own settings; else the input error saying there is no such rig."""
    with ledger.store.reader() as tx:
        found = tx.get_rig(rig)
    if found is None:
        raise NotFound(f"There is no rig '{rig}'.", hint="`gt rig list` shows the town's rigs.")
    return dict(found.settings)


def effective(
    ledger: Ledger,
    town: Town,
    rig: str | None,
    environ: Mapping[str, str],
    flags: Mapping[str, Any] | None = None,
) -> config.Resolved:
    """The settings in force: defaults, `town.toml`, the rig's overrides (when a rig is
    given), the environment and `flags`, in that order."""
    overrides = rig_overrides(ledger, rig) if rig is not None else {}
    return config.resolve(town.settings, overrides, environ, flags)


def set_value(ledger: Ledger, town: Town, key: str, text: str, rig: str | None = None) -> Any:
    """Validate and store one setting in the town (town.toml) or as a rig override."""
    value = config.parse(key, text)
    s = config.setting(key)
    if rig is None:
        before = _put(town.settings, s, key, value)
        town.write()
    else:
        with ledger.store.transaction() as tx:
            found = tx.get_rig(rig)
            if found is None:
                raise NotFound(f"There is no rig '{rig}'.")
            before = _put(found.settings, s, key, value)
            tx.set_rig_settings(rig, found.settings)
    with ledger.store.transaction() as tx:
        append(
            tx,
            [
                ledger.event(
                    "config.set",
                    rig=rig,
                    before={"key": key, "value": _shown(s, key, before)},
                    after={"key": key, "value": _shown(s, key, value)},
                )
            ],
        )
    return value


def unset(ledger: Ledger, town: Town, key: str, rig: str | None = None) -> None:
    """Remove `key` from `town.toml`, or from the rig's overrides, and record it."""
    s = config.setting(key)
    if rig is None:
        before = _pop(town.settings, s, key, "town.toml")
        town.write()
    else:
        with ledger.store.transaction() as tx:
            found = tx.get_rig(rig)
            if found is None:
                raise NotFound(f"There is no rig '{rig}'.")
            before = _pop(found.settings, s, key, f"rig '{rig}'")
            tx.set_rig_settings(rig, found.settings)
    with ledger.store.transaction() as tx:
        append(
            tx,
            [
                ledger.event(
                    "config.unset", rig=rig, before={"key": key, "value": _shown(s, key, before)}
                )
            ],
        )


def _put(layer: dict[str, Any], s: config.Setting, key: str, value: Any) -> Any:
    """Store `value` in one layer; an entry of a map (env_vars.NAME) goes into the map."""
    if key == s.key:
        before = layer.get(key)
        layer[key] = value
        return before
    name = key.split(".", 1)[1]
    entries = dict(layer.get(s.key) or {})
    before = entries.get(name)
    entries[name] = value
    layer[s.key] = entries
    return before


def _pop(layer: dict[str, Any], s: config.Setting, key: str, where: str) -> Any:
    if key == s.key and key in layer:
        return layer.pop(key)
    if key != s.key and key.split(".", 1)[1] in (layer.get(s.key) or {}):
        entries = dict(layer[s.key])
        before = entries.pop(key.split(".", 1)[1])
        layer[s.key] = entries
        return before
    raise InvalidValue(f"'{key}' is not set in {where}.")


def _shown(s: config.Setting, key: str, value: Any) -> Any:
    return None if value is None else config.masked(key, value)
