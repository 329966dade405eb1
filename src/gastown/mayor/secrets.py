"""Keeping secrets out of everything the mayor sends to its model.

The values of `env_vars` and `model_api_key` are replaced by the mask (`config.MASK`) wherever
they occur in a string, at any depth, before a message is stored or sent.
"""

from __future__ import annotations

from typing import Any

from gastown.config import MASK, SETTINGS, Resolved

MIN_LENGTH = 4
"""Shorter values are not masked: hiding every `1` or `on` would garble the text."""


def secret_values(resolved: Resolved) -> list[str]:
    """Every secret value in the effective settings, longest first."""
    found: list[str] = []
    for key, s in SETTINGS.items():
        if not s.secret:
            continue
        value = resolved[key]
        found.extend(value.values() if isinstance(value, dict) else [value])
    return sorted({v for v in found if isinstance(v, str) and len(v) >= MIN_LENGTH}, key=len)[::-1]


def scrub(value: Any, secrets: list[str]) -> Any:
    """`value` (a string, list or dict, nested) with every secret replaced by the mask."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    return value
