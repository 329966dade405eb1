"""Webhook deliveries the town has taken in, so a redelivery is told apart by its id.

Kept in the `meta` table (`webhook.<forge>.<delivery id>` → when it was taken in), which both
backends already have: claiming one is a single `INSERT … ON CONFLICT DO NOTHING`, so two
copies of a delivery arriving at once are taken in once, on SQLite and on PostgreSQL, and a
restart forgets nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gastown.store.sql import Tx

PREFIX = "webhook."


def _key(forge: str, delivery: str) -> str:
    return f"{PREFIX}{forge}.{delivery}"


def seen(tx: Tx, forge: str, delivery: str) -> bool:
    """Whether this delivery was taken in already."""
    return tx.get_meta(_key(forge, delivery)) is not None


def claim(tx: Tx, forge: str, delivery: str, at: str) -> bool:
    """Record this delivery as taken in; False when another copy was first."""
    cur = tx.db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        (_key(forge, delivery), at),
    )
    return cur.rowcount == 1
