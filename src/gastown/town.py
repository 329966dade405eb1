"""A town on disk: `town.toml`, the state database, rig clones, worktrees and logs.

Commands find their town from `--town PATH`, else `GT_TOWN`, else by walking up from the
current directory to the first folder holding a `town.toml`.

Every command reads `town.toml`, and importing a TOML parser takes several milliseconds, a
tenth of `gt ready`; so what it parses to is kept beside it as JSON (`.town.toml.json`), used
only while `town.toml` is the very file it was made from (same inode, size, modification and
change times). Whoever changes `town.toml`, gt or a person with an editor, changes those, and
the next command parses it again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gastown.errors import InvalidValue, NotFound, UserError
from gastown.record import Record, field
from gastown.store import Store, open_store, redact

TOWN_FILE = "town.toml"
MIRROR_FILE = ".town.toml.json"
"""What `town.toml` parses to, with the file times it was parsed from; gt rewrites it as
needed, and deleting it is harmless."""
SETTLED_S = 3.0
"""How long `town.toml` must have been left alone before it is mirrored. File times tick
coarsely (every few milliseconds, or every one or two seconds on some file systems), so a
second change within the tick of the first could leave every time as it was; mirroring only
a file older than any tick means every later change shows in its times."""
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

        from gastown import config

        doc: dict[str, Any] = {
            "town": {"name": self.name, "prefix": self.prefix, "db": self.db_url},
            "settings": config.nest(self.settings),
        }
        tmp = self.toml_path.with_suffix(".toml.tmp")
        tmp.write_text(tomli_w.dumps(doc), encoding="utf-8")
        tmp.replace(self.toml_path)


def load(path: Path, now: float | None = None) -> Town:
    """Read the town at `path` (the folder); `now` (default: the clock) decides whether
    `town.toml` has settled enough to be mirrored."""
    file = path / TOWN_FILE
    doc = _parsed(file, time.time() if now is None else now)
    head = doc.get("town", {})
    settings: dict[str, Any] = {}
    if doc.get("settings"):
        from gastown import config

        settings = config.flatten(doc["settings"], str(file))
    return Town(
        path=path,
        name=str(head.get("name", path.name)),
        prefix=str(head.get("prefix", "gt")),
        db_url=str(head.get("db", DEFAULT_DB)),
        settings=settings,
    )


def _parsed(file: Path, now: float) -> dict[str, Any]:
    """`town.toml` parsed: from its mirror when that was made from this very file, else by
    parsing it (and mirroring it once it has settled)."""
    try:
        stat = file.stat()
    except FileNotFoundError:
        raise _no_town(file) from None
    mirror = file.with_name(MIRROR_FILE)
    try:
        kept = json.loads(mirror.read_bytes())
    except (OSError, ValueError):  # none yet, or not one gt wrote
        kept = None
    if isinstance(kept, dict) and kept.get("toml") == _times(stat):
        doc = kept.get("doc")
        if isinstance(doc, dict):
            return doc
    import tomllib

    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:  # removed since
        raise _no_town(file) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(f"{file} is not valid TOML: {exc}.") from None
    settled = now - max(stat.st_mtime, stat.st_ctime) >= SETTLED_S
    if settled and _times(file.stat()) == _times(stat):  # unchanged while it was read
        _mirror(mirror, {"toml": _times(stat), "doc": doc})
    return doc


def _no_town(file: Path) -> NotFound:
    return NotFound(f"There is no town at {file.parent} (no {TOWN_FILE} there).")


def _times(stat: os.stat_result) -> list[int]:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _mirror(mirror: Path, content: dict[str, Any]) -> None:
    """Write the mirror atomically; without it (a read-only folder, a TOML date JSON cannot
    hold) every command parses `town.toml`, which is slower and no less right."""
    try:
        text = json.dumps(content)
    except TypeError:
        return
    tmp = mirror.with_name(f"{MIRROR_FILE}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(mirror)
    except OSError:
        tmp.unlink(missing_ok=True)


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
