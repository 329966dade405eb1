"""Time as a parameter: the system clock for real runs, a fake clock for tests and demos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        """The machine's time now, timezone-aware UTC."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to; each reading advances one microsecond so that
    records created in a row still sort in creation order."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        """The fake time, one microsecond later than the last reading."""
        self._now += timedelta(microseconds=1)
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the fake time `seconds` on."""
        self._now += timedelta(seconds=seconds)


def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: sorts as text in both stores."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    """Read an RFC 3339 timestamp (any offset, with or without fractions) as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def duration(seconds: float) -> str:
    """A span as people write it: `10 s`, `5 min`, `1 h 20 min`, `2 d 3 h` (two units at most,
    rounded to the smaller; under a minute, whole seconds, or tenths below ten)."""
    if seconds < 59.5:  # what rounds to a whole minute is written as one
        shown = round(seconds, 1) if seconds < 10 else round(seconds)
        return f"{shown:g} s"
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    total = round(seconds)
    for i, (name, size) in enumerate(units[:-1]):
        if total >= size:
            small_name, small = units[i + 1]
            count = round(total / small)  # the whole span in the smaller unit, rounded once
            big, rest = divmod(count, size // small)
            return f"{big} {name}" + (f" {rest} {small_name}" if rest else "")
    return f"{total} s"
