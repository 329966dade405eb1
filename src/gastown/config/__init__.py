"""Settings: what they are, what they accept, and how the layers stack.

Built-in defaults < `town.toml` [settings] < per-rig overrides < `GT_*` environment < flags.
Keys are dotted (`refinery.gates`); in `town.toml` the dots are nested tables. An environment
variable names a key in upper case with `__` for each dot: `GT_REFINERY__CODE_REVIEW=false`.
A setting marked `secret=True` is masked in every display, and the town keeps it in
`secrets.toml` (readable by its owner only) instead of `town.toml` (see `gastown.town`).
"""

from __future__ import annotations

from gastown.config.catalogue import (
    DAY,
    ENV_NAME,
    GROUPS,
    MASK,
    MAX_ENTRIES,
    MAX_TEXT,
    REPO,
    RUNTIMES,
    SETTINGS,
    Form,
    Runtime,
    Setting,
)
from gastown.config.checks import check, parse, setting
from gastown.config.layers import (
    Resolved,
    env_name,
    flatten,
    from_environ,
    masked,
    nest,
    resolve,
)

__all__ = [
    "DAY",
    "ENV_NAME",
    "GROUPS",
    "MASK",
    "MAX_ENTRIES",
    "MAX_TEXT",
    "REPO",
    "RUNTIMES",
    "SETTINGS",
    "Form",
    "Resolved",
    "Runtime",
    "Setting",
    "check",
    "env_name",
    "flatten",
    "from_environ",
    "masked",
    "nest",
    "parse",
    "resolve",
    "setting",
]
