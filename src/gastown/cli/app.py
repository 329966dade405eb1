"""What a command handler gets: its arguments, the town, a ledger, and a way to print."""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from gastown.record import Record, field
from gastown.town import Town, find

if TYPE_CHECKING:
    from gastown.services.ledger import Ledger
    from gastown.store import Store


class App(Record):
    args: argparse.Namespace
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    cwd: Path = field(default_factory=Path.cwd)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    input: TextIO = field(default_factory=lambda: sys.stdin)
    """Where interactive commands (`gt mayor`) read lines from."""
    _town: Town | None = None
    _store: Store | None = None

    def path(self, given: str) -> Path:
        """A path the user typed, taken from the command's working folder."""
        return (self.cwd / Path(given).expanduser()).resolve()

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def town(self) -> Town:
        if self._town is None:
            self._town = find(getattr(self.args, "town", None), self.environ, self.cwd)
        return self._town

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self.town.open_store()
        return self._store

    @property
    def ledger(self) -> Ledger:
        from gastown.services.ledger import Ledger

        return Ledger(self.store, prefix=self.town.prefix, actor=self.actor)

    @property
    def actor(self) -> str:
        return self.environ.get("GT_ACTOR") or _user()

    def close(self) -> None:
        if self._store is not None:
            if self._store.writes:  # a leader on another host reconciles at once too
                self._store.wake_others()
            self._store.close()
            if self._store.writes and self._town is not None:
                from gastown.townrun.wake import notify

                notify(self._town.path)  # the town process, if up, reconciles at once

    def emit(self, data: Any, human: Callable[[], None] | str | None = None) -> None:
        """Print `data` as JSON under --json, else the human form."""
        if self.json:
            self.out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        elif callable(human):
            human()
        elif human is not None:
            self.print(human)

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def utf8_writer(self) -> Callable[[bytes], object]:
        """A writer of UTF-8 text already encoded (JSON straight from the database) to `out`:
        into its binary buffer when `out` encodes UTF-8 anyway, so megabytes are not decoded
        and encoded again; else decoded and written as text."""
        buffer = getattr(self.out, "buffer", None)
        encoding = getattr(self.out, "encoding", None)
        if buffer is not None and encoding and codecs.lookup(encoding).name == "utf-8":
            self.out.flush()  # what was written as text goes first
            return buffer.write  # type: ignore[no-any-return]
        out = self.out
        return lambda chunk: out.write(chunk.decode("utf-8"))


def _user() -> str:
    name = os.environ.get("USER") or os.environ.get("LOGNAME")
    if name:
        return name
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "user"


Handler = Callable[[App], int | None]
