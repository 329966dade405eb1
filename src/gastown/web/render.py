"""Rendering pages: one Jinja environment over `templates/`, escaping everything by default."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        when=when, day=day, ago=ago, money=money, short=short, tokens=tokens, status=status
    )
    return env


def render(name: str, context: dict[str, Any]) -> str:
    return environment().get_template(name).render(context)


def when(stamp: str | None) -> str:
    """`HH:MM:SS` of an RFC 3339 stamp (UTC)."""
    return stamp[11:19] if stamp else "–"


def day(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else "–"


def ago(stamp: str | None, now: datetime | None = None) -> str:
    """How long ago, in the largest whole unit."""
    if not stamp:
        return "–"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def money(value: float | None) -> str:
    return f"${value:.4f}" if value else "–"


def tokens(value: int | None) -> str:
    n = int(value or 0)
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)


def short(text: str | None, size: int = 80) -> str:
    value = text or ""
    return value if len(value) <= size else value[: size - 1] + "…"


def status(value: str | None) -> str:
    """A status as words: `in_progress` → `in progress`."""
    return (value or "").replace("_", " ")
