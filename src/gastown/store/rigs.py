"""The shared SQL for rigs: the repositories a town works on, each with its own settings
(`RigQueries`, a mixin of `Tx`). Settings are a JSON text column."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gastown.model import Rig
from gastown.store.rows import rig_of

if TYPE_CHECKING:
    from gastown.store.sql import Executor

_RIG_COLUMNS = "name, url, branch, path, created_at, settings"


class RigQueries:
    """Rigs: add, read, list, configure, remove."""

    db: Executor

    def insert_rig(self, rig: Rig) -> None:
        """Add a rig (its name must be free)."""
        self.db.execute(
            f"INSERT INTO rigs ({_RIG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (rig.name, rig.url, rig.branch, rig.path, rig.created_at, json.dumps(rig.settings)),
        )

    def get_rig(self, name: str) -> Rig | None:
        """The rig called `name`, or None."""
        row = self.db.execute(f"SELECT {_RIG_COLUMNS} FROM rigs WHERE name = ?", (name,)).fetchone()
        return None if row is None else rig_of(row)

    def list_rigs(self) -> list[Rig]:
        """Every rig, by name."""
        rows = self.db.execute(f"SELECT {_RIG_COLUMNS} FROM rigs ORDER BY name").fetchall()
        return [rig_of(r) for r in rows]

    def set_rig_settings(self, name: str, settings: dict[str, Any]) -> None:
        """Replace the rig's own settings with `settings`."""
        self.db.execute(
            "UPDATE rigs SET settings = ? WHERE name = ?",
            (json.dumps(settings, sort_keys=True), name),
        )

    def delete_rig(self, name: str) -> None:
        """Remove the rig's row."""
        self.db.execute("DELETE FROM rigs WHERE name = ?", (name,))
