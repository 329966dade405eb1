"""A town on disk: `town.toml`, `secrets.toml`, the state database, rig clones, worktrees and
logs.

Settings marked secret (`config.Setting.secret`: API keys, tokens, `env_vars`) are kept in
`secrets.toml`, readable by the owner only, and never in `town.toml`, which is safe to share or
commit. Both are read as one town layer of settings; `Town.write` puts each setting in its file.
A town.toml from an older gt that still holds secrets is read as before, and the next write
moves them out. The town folder, the database, `logs/` and `run/` are the owner's alone too.

Commands find their town from `--town PATH`, else `GT_TOWN`, else by walking up from the
current directory to the first folder holding a `town.toml`.

Every command reads `town.toml`, and importing a TOML parser takes several milliseconds, a
tenth of `gt ready`; so what it parses to is kept beside it as JSON (`.town.toml.json`), used
only while `town.toml` is the very file it was made from (same inode, size, modification and
change times). Whoever changes `town.toml`, gt or a person with an editor, changes those, and
the next command parses it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gastown.errors import InvalidValue, NotFound, UserError
from gastown.record import Record, field
from gastown.store import Store, open_store, redact

TOWN_FILE = "town.toml"
SECRETS_FILE = "secrets.toml"
MIRROR_FILE = ".town.toml.json"
"""What `town.toml` parses to, with the file times it was parsed from; gt rewrites it as
needed, and deleting it is harmless. `secrets.toml` has one too, `.secrets.toml.json`; both
are readable by the owner only."""
SETTLED_S = 3.0
"""How long `town.toml` must have been left alone before it is mirrored. File times tick
coarsely (every few milliseconds, or every one or two seconds on some file systems), so a
second change within the tick of the first could leave every time as it was; mirroring only
a file older than any tick means every later change shows in its times."""
DEFAULT_DB = "sqlite:///state.db"
FOLDERS = ("rigs", "worktrees", "logs")
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


class Town(Record):
    path: Path
    """The town folder."""
    name: str
    """The town's name, as `gt init` gave it."""
    prefix: str
    """Bead id prefix: `gt` gives `gt-4k2x9`."""
    db_url: str
    """Where its ledger is: a SQLite or PostgreSQL URL (see `store.open_store`)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The town layer of settings, dotted keys: `town.toml` and `secrets.toml` together."""
    exposed: tuple[str, ...] = ()
    """Secret settings found in `town.toml` (an older gt kept them there); the next `write`
    moves them to `secrets.toml`."""
    joined: bool = False
    """Made by `gt init` for a town its database already held (another host's)."""

    @property
    def toml_path(self) -> Path:
        """The town's `town.toml`."""
        return self.path / TOWN_FILE

    def open_store(self) -> Store:
        """Open (and migrate) the town's ledger; close it after."""
        return open_store(self.db_url, self.path)

    def rig_path(self, rig: str) -> Path:
        """The canonical clone of `rig`."""
        return self.path / "rigs" / rig

    @property
    def secrets_path(self) -> Path:
        """The town's `secrets.toml`, readable by its user only."""
        return self.path / SECRETS_FILE

    def write(self) -> None:
        """Rewrite town.toml, and secrets.toml, from this record (each atomically: a crash
        leaves the old file). Secrets are written first, so a crash between the two leaves
        them in both files rather than in neither."""
        import tomli_w

        from gastown import config

        secret = {k: config.setting(k).secret for k in self.settings}
        shared = {k: v for k, v in self.settings.items() if not secret[k]}
        hidden = {k: v for k, v in self.settings.items() if secret[k] and v != {}}  # no empty map
        if hidden:
            text = tomli_w.dumps({"settings": config.nest(hidden)})
            _replace(self.secrets_path, text, PRIVATE_FILE)
        else:  # the last one unset: no file, and no mirror still holding the old values
            self.secrets_path.unlink(missing_ok=True)
            self.path.joinpath(f".{SECRETS_FILE}.json").unlink(missing_ok=True)
        doc: dict[str, Any] = {
            "town": {"name": self.name, "prefix": self.prefix, "db": self.db_url},
            "settings": config.nest(shared),
        }
        _replace(self.toml_path, tomli_w.dumps(doc), None)
        self.exposed = ()

    def make_private(self) -> None:
        """Make what the town itself writes readable by its owner only: the database (and
        its -wal and -shm), `logs/` and `run/`, the secrets and the mirrors. For a town made
        by an older gt; a new one is made so. The town folder is left as its owner set it."""
        files = [self.secrets_path, *(self.path / f".{n}.json" for n in (TOWN_FILE, SECRETS_FILE))]
        if self.db_url.startswith("sqlite:///"):
            db = self.path / self.db_url.removeprefix("sqlite:///")  # an absolute path stays
            files += [db.with_name(db.name + end) for end in ("", "-wal", "-shm")]
        for file in files:
            _tighten(file, PRIVATE_FILE)
        for folder in ("logs", "run"):
            _tighten(self.path / folder, PRIVATE_DIR)


def load(path: Path, now: float | None = None) -> Town:
    """Read the town at `path` (the folder); `now` (default: the clock) decides whether
    `town.toml` and `secrets.toml` have settled enough to be mirrored."""
    now = time.time() if now is None else now
    file = path / TOWN_FILE
    try:
        doc = _parsed(file, now, mirrored=lambda doc: not _secrets_in(_settings(doc, file)))
    except FileNotFoundError:
        raise _no_town(file) from None
    head = doc.get("town", {})
    if not isinstance(head, dict):
        raise InvalidValue(
            f"In {file}: [town] must be a table (name, prefix, db).", hint=f"Fix it in {file}."
        )
    settings = _settings(doc, file)
    exposed = _secrets_in(settings)
    if exposed:  # an older gt's mirror may hold them too, readable by anyone
        file.with_name(MIRROR_FILE).unlink(missing_ok=True)
    try:
        hidden = _settings(_parsed(path / SECRETS_FILE, now), path / SECRETS_FILE)
    except FileNotFoundError:
        hidden = {}
    for key, value in hidden.items():  # secrets.toml wins; a map gets both files' entries
        old = settings.get(key)
        settings[key] = {**old, **value} if isinstance(old, dict) else value
    return Town(
        path=path,
        name=str(head.get("name", path.name)),
        prefix=str(head.get("prefix", "gt")),
        db_url=str(head.get("db", DEFAULT_DB)),
        settings=settings,
        exposed=exposed,
    )


def _settings(doc: Mapping[str, Any], file: Path) -> dict[str, Any]:
    if not doc.get("settings"):
        return {}
    from gastown import config

    return config.flatten(doc["settings"], str(file))


def _secrets_in(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The secret settings among `settings` (dotted keys)."""
    if not settings:
        return ()
    from gastown import config

    return tuple(k for k in settings if config.setting(k).secret)


def _parsed(
    file: Path, now: float, mirrored: Callable[[dict[str, Any]], bool] = lambda doc: True
) -> dict[str, Any]:
    """A settings file parsed: from its mirror when that was made from this very file, else
    by parsing it (and mirroring it once it has settled, if `mirrored` says it may be).
    FileNotFoundError when there is no such file."""
    stat = file.stat()
    mirror = file.with_name(f".{file.name}.json")
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
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(f"{file} is not valid TOML: {exc}.") from None
    settled = now - max(stat.st_mtime, stat.st_ctime) >= SETTLED_S
    if settled and _times(file.stat()) == _times(stat) and mirrored(doc):  # unchanged meanwhile
        _mirror(mirror, {"toml": _times(stat), "doc": doc})
    return doc


def _no_town(file: Path) -> NotFound:
    return NotFound(f"There is no town at {file.parent} (no {TOWN_FILE} there).")


def _times(stat: os.stat_result) -> list[int]:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _mirror(mirror: Path, content: dict[str, Any]) -> None:
    """Write the mirror atomically, for the owner only; without it (a read-only folder, a
    TOML date JSON cannot hold) every command parses the file, which is slower and no less
    right."""
    with contextlib.suppress(TypeError, OSError):
        _replace(mirror, json.dumps(content), PRIVATE_FILE)


def _replace(path: Path, text: str, mode: int | None) -> None:
    """Write `path` atomically: a reader sees the old file or the new, whole. With `mode`,
    the file has that mode from the moment it exists; else the usual (0666 less the umask)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            if mode is not None:
                os.fchmod(out.fileno(), mode)  # a leftover tmp file keeps its old mode
            out.write(text)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _tighten(path: Path, mode: int) -> None:
    """Take away what `mode` does not grant (group and other access); a missing path is fine."""
    try:
        current = path.stat().st_mode & 0o777
        if current & ~mode:
            path.chmod(current & mode)
    except FileNotFoundError:
        pass


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
    path: Path, prefix: str | None = None, db_url: str | None = None, name: str | None = None
) -> Town:
    """Create a town folder with its state database, or, when `db_url` already holds a town,
    a folder of this host's own for that town (`Town.joined`): its name, prefix and settings
    as its leader keeps them. Leaves nothing behind if it fails."""
    import shutil

    from gastown import ids

    if prefix is not None and not ids.valid_prefix(prefix):
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
    town = Town(
        path=path, name=name or path.name, prefix=prefix or "gt", db_url=db_url or DEFAULT_DB
    )
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        for folder in FOLDERS:
            (path / folder).mkdir(mode=PRIVATE_DIR, exist_ok=True)
        store = town.open_store()
        try:
            with store.transaction() as tx:
                _claim_or_join(tx, town, prefix, name)
        finally:
            store.close()
        town.write()
        town.make_private()
        path.chmod(PRIVATE_DIR)  # an existing folder too: it now holds the town's secrets
    except BaseException:
        if created:
            shutil.rmtree(path, ignore_errors=True)
        raise
    return town


def _claim_or_join(tx: Any, town: Town, prefix: str | None, name: str | None) -> None:
    """Record a new town in its database, or take the town the database already holds."""
    existing = tx.get_meta("prefix")
    if existing is None:
        tx.set_meta("prefix", town.prefix)
        tx.set_meta("town_record.name", town.name)
        return
    if prefix is not None and existing != prefix:
        raise UserError(
            f"The database at {redact(town.db_url)} already belongs to a town with prefix "
            f"'{existing}'.",
            hint=f"Pass --prefix {existing} (or no --prefix) to join it.",
        )
    kept = tx.get_meta("town_record.name")
    layer = tx.get_meta("town_record.settings")
    town.prefix, town.joined = existing, True
    town.name = name or kept or town.name
    town.settings = dict(json.loads(layer)) if layer else {}


def environ() -> Mapping[str, str]:
    """The process environment (a seam: callers below the entry points take it as a
    parameter)."""
    return os.environ
