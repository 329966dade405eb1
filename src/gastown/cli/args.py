"""Types of the numbers commands take, each bounded: a negative, huge or malformed number is a
usage error (exit 2) named with its option, never a database's overflow."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from gastown.limits import MAX_INT, MAX_LIMIT, shown


def whole(low: int, high: int, meaning: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high` (`meaning` says what some mean)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # not a number, or too long a one for Python to read
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expects a whole number from {low} to {high}{meaning}, not '{shown(text)}'"
            )
        return value

    return parse


limit = whole(0, MAX_LIMIT, " (0: all)")
"""How many rows a listing shows; 0 shows them all."""
count = whole(0, MAX_LIMIT)
"""How many of something (lines, events)."""
record_id = whole(1, MAX_INT)
"""A numbered record (an escalation)."""
event_id = whole(0, MAX_INT)
"""An event id to start after (0: the beginning)."""
port = whole(0, 65535, " (0: any free port)")
