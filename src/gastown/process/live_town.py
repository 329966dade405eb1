"""The town as the town process holds it: settings that follow `town.toml` while it runs.

Every part of the town process (the reconciler, the polecats' launches, the refinery, intake,
the API) reads settings from the one `Town` it was given at `gt up`. A `LiveTown` is that
`Town` whose `settings` are read again whenever `town.toml` or `secrets.toml` changed, so a
`gt config set` at town level (or an edit by hand) reaches the next thing that reads a
setting, as a rig override always did. Checking costs a `stat` of each file per read; parsing
happens only after a change. gt replaces those files by renaming a new one into place, so
every write it makes shows as a new inode even within one tick of the file clock.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from gastown.errors import UserError
from gastown.town import SECRETS_FILE, TOWN_FILE, Town, load

log = logging.getLogger("gastown.town")

Stamp = tuple[tuple[int, int, int, int] | None, ...]


def stamp(path: Path) -> Stamp:
    """What tells a changed settings file from the one read last: inode, size, times."""
    out: list[tuple[int, int, int, int] | None] = []
    for name in (TOWN_FILE, SECRETS_FILE):
        try:
            st = os.stat(path / name)
        except FileNotFoundError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


class LiveTown(Town):
    """A `Town` whose `settings` are those of `town.toml` and `secrets.toml` now.

    A file that no longer parses, or holds a value that is not valid, leaves the last good
    settings in force (and says so once in the town's log) rather than stopping the town."""

    def _keep(self, settings: dict[str, Any], seen: Stamp) -> None:
        """Hold `settings` as read from the files as `seen` shows them."""
        self._held: dict[str, Any] = settings
        self._seen: Stamp = seen

    @property  # type: ignore[misc]  # a field of Town, read through its files here
    def settings(self) -> dict[str, Any]:
        now = stamp(self.path)
        if now != self._seen:
            try:
                fresh = load(self.path)
            except UserError as exc:
                log.warning("settings not reloaded, the last good ones stay: %s", exc.message)
                self._keep(self._held, now)  # said once, not at every read
            else:
                self._keep(fresh.settings, now)
                self.exposed = fresh.exposed
        return self._held

    @settings.setter
    def settings(self, value: dict[str, Any]) -> None:
        self._keep(value, stamp(self.path))


def live(path: Path) -> LiveTown:
    """Read the town at `path` as one that follows its settings files."""
    seen = stamp(path)  # before reading: a change made meanwhile is read again, not missed
    town = load(path)
    held = LiveTown(
        path=town.path,
        name=town.name,
        prefix=town.prefix,
        db_url=town.db_url,
        settings=town.settings,
        exposed=town.exposed,
    )
    held._keep(town.settings, seen)
    return held
