"""The mayor's read-only view of the code: `list_files`, `read_file` and `search_code` on a
rig's target branch as the remote has it.

Everything is read from git objects in the rig's clone (`git ls-tree`, `git cat-file`, `git
grep` on a commit), never from a working tree, so there is nothing the mayor could write to.
Before reading, the target branch is fetched into a ref of the mayor's own
(`refs/gastown/mayor/<branch>`), at most once every `Context.fetch_every` seconds per rig (the
time of the last fetch is kept in the store, so separate `gt mayor ask` processes share it).
That fetch writes only objects and that ref: no branch, no remote-tracking ref and no lock that
a polecat's dispatch takes. When it fails, the last copy fetched (or else the clone's own view
of the remote) is read, and the result says so.

Output is bounded: paths that leave the repository are refused, binary files are named but not
shown, and long listings, files and searches are cut with a note saying how to see more.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import subprocess
import threading
from pathlib import Path
from typing import Any

from gastown.errors import GitError, InvalidValue, NotFound
from gastown.git.repo import QUIET_ENV, git
from gastown.mayor.toolkit import Arg, Context, Tool
from gastown.record import Record
from gastown.services import rigs

MAX_FILES = 300
"""Paths `list_files` shows at most."""
MAX_LINES = 400
"""Lines `read_file` shows at most in one call."""
MAX_LINE_CHARS = 400
"""A longer line is cut (in `read_file` and in search matches)."""
MAX_READ_CHARS = 30_000
"""Characters of lines `read_file` shows at most in one call."""
MAX_READ_BYTES = 2_000_000
"""A bigger file is read only this far."""
MAX_MATCHES = 100
"""Matching lines `search_code` shows at most."""
BINARY_SNIFF = 8000
"""A NUL byte in this many first bytes makes a file binary (as git itself decides)."""
GIT_TIMEOUT = 60.0
"""Seconds a fetch, listing or search may take before it is stopped."""
SYMLINK = "120000"
"""The git mode of a symbolic link."""
FETCHED_KEY = "mayor.fetched."
"""The `meta` key (plus the rig's name) holding when its target branch was last fetched."""


class Snapshot(Record):
    """The commit of a rig's target branch that a code tool reads."""

    rig: str
    """The rig read."""
    clone: Path
    """The rig's canonical clone, where the commit is read from."""
    branch: str
    """The rig's target branch."""
    commit: str
    """The commit read."""
    note: str = ""
    """Why this copy may be older than the remote's (a fetch that failed); else empty."""

    def header(self, what: str) -> str:
        """The first line of a code tool's answer: what it shows, from which commit."""
        note = f"\n({self.note})" if self.note else ""
        return f"# {what} — rig {self.rig}, {self.branch} at {self.commit[:10]}{note}"


def snapshot(ctx: Context, rig_name: str) -> Snapshot:
    """The newest commit of the rig's target branch this clone can have (fetched when the last
    fetch is older than `ctx.fetch_every`)."""
    rig = rigs.get(ctx.ledger, rig_name)
    clone = ctx.town.path / rig.path
    own = f"refs/gastown/mayor/{rig.branch}"
    note = _refresh(ctx, rig.name, clone, rig.branch, own)
    for ref in (own, f"refs/remotes/origin/{rig.branch}"):
        found = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=clone, check=False)
        if found.code == 0:
            return Snapshot(rig.name, clone, rig.branch, found.out.strip(), note)
    raise NotFound(f"The clone of rig '{rig.name}' has no copy of its branch '{rig.branch}'.")


def _refresh(ctx: Context, rig: str, clone: Path, branch: str, own: str) -> str:
    """Fetch the target branch into `own` unless that was done lately; a note when it failed."""
    now = ctx.ledger.clock.now().timestamp()
    key = FETCHED_KEY + rig
    with ctx.ledger.store.reader() as tx:
        last = tx.mayor_meta(key)
    if last is not None and now - float(last) < ctx.fetch_every:
        return ""
    with ctx.ledger.store.transaction() as tx:
        tx.set_mayor_meta(key, repr(now))
    # `--refmap=` keeps git from also moving `origin/<branch>`, which dispatch fetches under
    # its own lock; without FETCH_HEAD nothing else in the clone is written.
    fetched = git(
        "fetch",
        "--quiet",
        "--no-write-fetch-head",
        "--refmap=",
        "origin",
        f"+refs/heads/{branch}:{own}",
        cwd=clone,
        check=False,
        timeout=GIT_TIMEOUT,
    )
    if fetched.code == 0:
        return ""
    why = fetched.err.strip().splitlines()[-1] if fetched.err.strip() else "no message"
    return f"the remote could not be fetched ({why}); this is the copy fetched before"


def repo_path(path: str | None) -> str:
    """`path` relative to the repository's root (`""` for the root itself); a path that
    would leave the repository is refused."""
    text = (path or "").strip().replace("\\", "/")
    if any(c in text for c in "\0\n\r"):
        raise InvalidValue("A path cannot hold control characters.")
    if text.startswith("/"):
        raise InvalidValue(
            f"'{path}' is not inside the repository: give a path relative to its root."
        )
    clean = posixpath.normpath(text) if text else "."
    if clean == ".." or clean.startswith("../"):
        raise InvalidValue(f"'{path}' leads out of the repository; paths stay inside it.")
    return "" if clean == "." else clean


def bounded(clone: Path, args: list[str], limit: int) -> tuple[bytes, bool, int, str]:
    """Run git, reading at most `limit` bytes of its output: (output, cut, exit code, stderr).
    A git that outruns `GIT_TIMEOUT` is stopped."""
    with subprocess.Popen(
        ["git", "--literal-pathspecs", *args],
        cwd=clone,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **QUIET_ENV},
    ) as proc:
        timer = threading.Timer(GIT_TIMEOUT, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            out = proc.stdout.read(limit + 1)
            cut = len(out) > limit
            if cut:
                proc.kill()
            _, err = proc.communicate()
        finally:
            timer.cancel()
    return out[:limit], cut, proc.returncode, err.decode("utf-8", "replace")


def _list_files(ctx: Context, a: dict[str, Any]) -> Any:
    path, pattern = repo_path(a.get("path")), a.get("pattern")
    snap = snapshot(ctx, a["rig"])
    where = ["--", path] if path else []
    out, _, code, err = bounded(
        snap.clone, ["ls-tree", "-r", "-z", "--name-only", snap.commit, *where], 16_000_000
    )
    if code != 0:
        raise GitError(f"git ls-tree failed: {err.strip()}")
    names = [n for n in out.decode("utf-8", "replace").split("\0") if n]
    if not names:
        raise NotFound(f"There is no '{path}' on {snap.branch} of rig {snap.rig}.")
    if pattern:
        # A pattern without a slash matches file names; with one, whole paths.
        names = [
            n
            for n in names
            if fnmatch.fnmatchcase(n if "/" in pattern else posixpath.basename(n), pattern)
        ]
    shown = names[:MAX_FILES]
    what = f"{len(names)} files under {path or 'the root'}" + (
        f" matching {pattern}" if pattern else ""
    )
    lines = [snap.header(what), *shown]
    if len(names) > MAX_FILES:
        lines.append(f"(… and {len(names) - MAX_FILES} more: narrow with `path` or `pattern`)")
    return "\n".join(lines)


def _read_file(ctx: Context, a: dict[str, Any]) -> Any:
    path = repo_path(a["path"])
    if not path:
        raise InvalidValue("`read_file` needs a file's path; `list_files` lists them.")
    first, end = max(1, a.get("start_line") or 1), a.get("end_line")
    if end is not None and end < first:
        raise InvalidValue(f"`end_line` ({end}) comes before `start_line` ({first}).")
    snap = snapshot(ctx, a["rig"])
    entry = git("ls-tree", "-l", snap.commit, "--", path, cwd=snap.clone)
    fields = entry.out.split("\t", 1)[0].split()
    if not fields:
        raise NotFound(f"There is no '{path}' on {snap.branch} of rig {snap.rig}.")
    mode, kind, oid, size_text = fields
    if kind == "tree":
        raise InvalidValue(f"'{path}' is a directory, not a file: `list_files` lists it.")
    if kind != "blob":
        raise InvalidValue(f"'{path}' is a submodule: its files are in another repository.")
    size = int(size_text)
    data, cut, _, _ = bounded(snap.clone, ["cat-file", "blob", oid], MAX_READ_BYTES)
    if mode == SYMLINK:  # git keeps where the link points; nothing is followed
        target = data.decode("utf-8", "replace")
        return snap.header(f"{path}: a symbolic link to {target}")
    if b"\0" in data[:BINARY_SNIFF]:
        return snap.header(f"{path}: a binary file of {size:,} bytes, which cannot be shown")
    lines = _lines(data)
    if cut and lines:
        lines.pop()  # the last line read is likely cut short
    if not lines and not cut:
        return snap.header(f"{path}: an empty file")
    last = min(len(lines), end or len(lines), first + MAX_LINES - 1)
    if first > len(lines):
        if cut:
            raise InvalidValue(
                f"'{path}' is {size:,} bytes; only its first {len(lines):,} lines can be read."
            )
        raise InvalidValue(f"'{path}' has {len(lines)} lines; line {first} is past its end.")
    width, used = len(str(last)), 0
    body: list[str] = []
    for n in range(first, last + 1):
        shown = f"{n:>{width}}  {_cut(lines[n - 1])}"
        used += len(shown) + 1
        if used > MAX_READ_CHARS and body:
            last = n - 1
            break
        body.append(shown)
    total = f"{len(lines):,}+" if cut else f"{len(lines):,}"
    out = [snap.header(f"{path}, lines {first}-{last} of {total}"), *body]
    if last < len(lines) or cut:
        more = f"call again with start_line={last + 1}" if last < len(lines) else ""
        big = f"the file is {size:,} bytes and is read only to {MAX_READ_BYTES:,}" if cut else ""
        out.append("(… " + "; ".join(p for p in (more, big) if p) + ")")
    return "\n".join(out)


def _search_code(ctx: Context, a: dict[str, Any]) -> Any:
    query = a["query"]
    if not query:
        raise InvalidValue("`search_code` needs something to search for.")
    path = repo_path(a.get("path"))
    snap = snapshot(ctx, a["rig"])
    how = "-E" if a.get("regex") else "-F"
    where = ["--", path] if path else []
    args = ["grep", "-n", "-I", "-z", "--no-color", how, "-e", query, snap.commit, *where]
    out, cut, code, err = bounded(snap.clone, args, 1_000_000)
    if code not in (0, 1) and not cut:
        raise InvalidValue(f"The search failed: {err.strip() or f'git grep exited {code}'}.")
    found = []
    prefix = f"{snap.commit}:"
    for line in _lines(out):
        parts = line.split("\0", 2)
        if len(parts) == 3:
            found.append(f"{parts[0].removeprefix(prefix)}:{parts[1]}: {_cut(parts[2])}")
    if not found:
        return snap.header(f"no match for {query!r}" + (f" under {path}" if path else ""))
    shown = found[:MAX_MATCHES]
    many = len(found) > MAX_MATCHES or cut
    count = f"more than {len(shown)}" if many else str(len(found))
    noun = "line" if count == "1" else "lines"
    lines = [snap.header(f"{count} matching {noun} for {query!r}"), *shown]
    if many:
        lines.append("(… more matches: narrow with `path` or a longer query)")
    return "\n".join(lines)


def _lines(data: bytes) -> list[str]:
    """The lines of `data` as git counts them (split at newlines only)."""
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


_RIG = Arg("rig", "string", "the rig (repository)", required=True)

TOOLS: tuple[Tool, ...] = (
    Tool(
        "list_files",
        "List the files of a rig's target branch as the remote has it (read-only).",
        [
            _RIG,
            Arg("path", "string", "a directory (or file) relative to the root; default all"),
            Arg("pattern", "string", "a glob such as *.py (a name) or src/*/test_*.py (a path)"),
        ],
        _list_files,
    ),
    Tool(
        "read_file",
        f"Read a file of a rig's target branch, with line numbers (at most {MAX_LINES} lines "
        "a call; read-only).",
        [
            _RIG,
            Arg("path", "string", "the file, relative to the repository root", required=True),
            Arg("start_line", "integer", "first line to show (default 1)"),
            Arg("end_line", "integer", "last line to show (default: as far as allowed)"),
        ],
        _read_file,
    ),
    Tool(
        "search_code",
        f"Search a rig's target branch for text: matching lines with file and line number (at "
        f"most {MAX_MATCHES}; binary files skipped; read-only).",
        [
            _RIG,
            Arg("query", "string", "the text to find (exact, case-sensitive)", required=True),
            Arg("path", "string", "only under this directory or file"),
            Arg("regex", "boolean", "the query is an extended regular expression"),
        ],
        _search_code,
    ),
)
