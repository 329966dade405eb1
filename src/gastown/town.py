"""A town on disk: `town.toml`, the state database, rig clones, worktrees and logs.

Commands find their town from `--town PATH`, else `GT_TOWN`, else by walking up from the
current directory to the first folder holding a `town.toml`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gastown import config
from gastown.errors import InvalidValue, NotFound, UserError
from gastown.record import Record, field
from gastown.store import Store, open_store, redact

TOWN_FILE = "town.toml"
DEFAULT_DB = "sqlite:///state.db"
FOLDERS = ("rigs", "worktrees", "logs")


class Town(Record):
    path: Path
    """The town folder."""
    name: str
    prefix: str
    """Bead id prefix: `gt` gives `gt-4k2x9`."""
    db_url: str
    settings: dict[str, Any] = field(default_factory=dict)
    """The town.toml layer of settings, dotted keys."""

    @property
    def toml_path(self) -> Path:
        return self.path / TOWN_FILE

    def open_store(self) -> Store:
        return open_store(self.db_url, self.path)

    def rig_path(self, rig: str) -> Path:
        return self.path / "rigs" / rig

    def write(self) -> None:
        """Rewrite town.toml from this record (atomically: a crash leaves the old file)."""
        import tomli_w

        doc: dict[str, Any] = {
            "town": {"name": self.name, "prefix": self.prefix, "db": self.db_url},
            "settings": config.nest(self.settings),
        }
        tmp = self.toml_path.with_suffix(".toml.tmp")
        tmp.write_text(tomli_w.dumps(doc), encoding="utf-8")
        tmp.replace(self.toml_path)


def load(path: Path) -> Town:
    """Read the town at `path` (the folder)."""
    file = path / TOWN_FILE
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"There is no town at {path} (no {TOWN_FILE} there).") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(f"{file} is not valid TOML: {exc}.") from None
    head = doc.get("town", {})
    settings = config.flatten(doc.get("settings", {}), str(file))
    return Town(
        path=path,
        name=str(head.get("name", path.name)),
        prefix=str(head.get("prefix", "gt")),
        db_url=str(head.get("db", DEFAULT_DB)),
        settings=settings,
    )


def find(explicit: str | None, environ: Mapping[str, str], cwd: Path) -> Town:
    """The town a command should act on, or a plain error saying there is none."""
    if explicit:
        return load((cwd / Path(explicit).expanduser()).resolve())
    if environ.get("GT_TOWN"):
        return load((cwd / Path(environ["GT_TOWN"]).expanduser()).resolve())
    for folder in (cwd, *cwd.parents):
        if (folder / TOWN_FILE).is_file():
            return load(folder)
    raise NotFound(
        f"No town found from {cwd}.",
        hint="Create one with `gt init PATH`, or point at one with --town PATH or GT_TOWN.",
    )


def init(
    path: Path, prefix: str = "gt", db_url: str | None = None, name: str | None = None
) -> Town:
    """Create a town folder with its state database. Leaves nothing behind if it fails."""
    import shutil

    from gastown import ids

    if not ids.valid_prefix(prefix):
        raise InvalidValue(
            f"'{prefix}' is not a usable prefix.",
            hint="Use 1 to 16 lowercase letters and digits, starting with a letter (e.g. gt).",
        )
    path = path.expanduser().resolve()
    if (path / TOWN_FILE).exists():
        raise UserError(f"{path} is already a town.", hint="Use it, or pick another folder.")
    if path.exists() and not path.is_dir():
        raise InvalidValue(f"{path} exists and is not a folder.")
    created = not path.exists()
    town = Town(path=path, name=name or path.name, prefix=prefix, db_url=db_url or DEFAULT_DB)
    try:
        path.mkdir(parents=True, exist_ok=True)
        for folder in FOLDERS:
            (path / folder).mkdir(exist_ok=True)
        store = town.open_store()
        try:
            with store.transaction() as tx:
                existing = tx.get_meta("prefix")
                if existing is None:
                    tx.set_meta("prefix", prefix)
                elif existing != prefix:
                    raise UserError(
                        f"The database at {redact(town.db_url)} already belongs to a town "
                        f"with prefix '{existing}'.",
                        hint=f"Pass --prefix {existing} to join it.",
                    )
        finally:
            store.close()
        town.write()
    except BaseException:
        if created:
            shutil.rmtree(path, ignore_errors=True)
        raise
    return town


def environ() -> Mapping[str, str]:
    return os.environ
