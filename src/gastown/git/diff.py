"""A change between two commits as files and hunks, read from git as bytes.

    read        `git diff --numstat -z` and the patch of base → head, the patch cut at a size
    parse       the two outputs → `FileDiff`s: path, counts, binary, hunks of numbered lines
    merge_base, has_commit, commits   what a caller needs to choose the base and head

Content is bytes in git. Lines are decoded as UTF-8; a file where that fails is decoded with
replacement characters and says so (`not_utf8`), so a Latin-1 file shows instead of failing.
Paths come from the `-z` numstat (never quoted); git's own header lines are kept for printing.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Literal

from gastown.errors import GitError
from gastown.git.repo import QUIET_ENV, git
from gastown.record import Record, field

LIMIT = 8_000_000
"""Bytes of patch read at most: past it, the remaining files are named with their counts."""

_OPTIONS = (
    "-c",
    "core.quotepath=false",
    "diff",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--find-renames",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)
_HUNK = re.compile(rb"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")

LineKind = Literal[" ", "+", "-"]
FileStatus = Literal["added", "deleted", "modified", "renamed", "copied"]


class Line(Record):
    kind: LineKind
    """`+` added, `-` removed, ` ` context."""
    old: int | None
    """Its number in the old version (None for an added line)."""
    new: int | None
    """Its number in the new version (None for a removed line)."""
    text: str
    """The line without its newline."""


class Hunk(Record):
    header: str
    """git's `@@ -a,b +c,d @@ context` line."""
    lines: list[Line]
    """Its lines in order."""


class FileDiff(Record):
    """One file's change."""

    path: str
    """The file's path (its new one when renamed or copied)."""
    old_path: str | None
    """The path before a rename or copy (None otherwise)."""
    status: FileStatus
    """How the file changed: added, deleted, modified, renamed or copied."""
    added: int
    """Lines added."""
    removed: int
    """Lines removed."""
    binary: bool = False
    """git shows no lines for it: only that it changed."""
    header: list[str] = field(default_factory=list)
    """git's own lines before the first hunk (`diff --git`, modes, `---`/`+++`)."""
    hunks: list[Hunk] = field(default_factory=list)
    """Its hunks in order."""
    not_utf8: bool = False
    """Some bytes were not UTF-8 and show as replacement characters."""
    shown: bool = True
    """False when the patch was cut before this file: only its counts are known."""
    no_newline: bool = False
    """A side ends without a newline (git's `\\ No newline at end of file`)."""

    @property
    def changed(self) -> int:
        """Lines added and removed together."""
        return self.added + self.removed

    def summary(self) -> dict[str, object]:
        """The file in brief (paths, status, counts), as the API lists files."""
        return {
            "path": self.path,
            "old_path": self.old_path,
            "status": self.status,
            "added": self.added,
            "removed": self.removed,
            "binary": self.binary,
            "not_utf8": self.not_utf8,
            "shown": self.shown,
        }


class Diff(Record):
    base: str
    """The commit the change is measured from."""
    head: str
    """The commit that holds the change."""
    files: list[FileDiff]
    """Each changed file, in git's order."""
    cut: bool = False
    """The patch was larger than the limit: files past it have counts only."""

    @property
    def added(self) -> int:
        """Lines added over every file."""
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        """Lines removed over every file."""
        return sum(f.removed for f in self.files)


def read(repo: Path, base: str, head: str, limit: int = LIMIT) -> Diff:
    """The change from commit `base` to commit `head` in `repo`."""
    numstat = _run(repo, [*_OPTIONS, "--numstat", "-z", base, head], None)[0]
    patch, cut = _run(repo, [*_OPTIONS, base, head], limit)
    return Diff(base, head, parse(numstat, patch, cut), cut)


def _run(repo: Path, args: list[str], limit: int | None) -> tuple[bytes, bool]:
    """git's output as bytes (at most `limit`, and whether it was cut)."""
    env = {**os.environ, **QUIET_ENV}
    try:
        proc = subprocess.Popen(
            ["git", *args], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH.") from None
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read(limit + 1) if limit is not None else proc.stdout.read()
    cut = limit is not None and len(out) > limit
    if cut:
        proc.kill()  # the rest is not wanted; a huge change must not cost its whole size
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    code = proc.wait()
    if code != 0 and not cut:
        said = err.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git diff failed: {said[0] if said else f'exit {code}'}")
    return (out[:limit], True) if cut else (out, False)


def parse(numstat: bytes, patch: bytes, cut: bool = False) -> list[FileDiff]:
    """Files from `--numstat -z` output, each with its part of `patch` (the same files in the
    same order). With `cut`, the last part is incomplete and is dropped with the rest."""
    files = _numstat(numstat)
    chunks = _chunks(patch)
    if cut and chunks:
        chunks.pop()
    for found, chunk in zip(files, chunks, strict=False):
        _fill(found, chunk)
    for found in files[len(chunks) :]:
        found.shown = False
    return files


def _numstat(raw: bytes) -> list[FileDiff]:
    parts = raw.split(b"\0")
    files: list[FileDiff] = []
    at = 0
    while at < len(parts) and parts[at]:
        added, removed, path = parts[at].split(b"\t", 2)
        old = None
        if not path:  # a rename or copy: the old and new paths follow
            old, path = parts[at + 1], parts[at + 2]
            at += 3
        else:
            at += 1
        binary = added == b"-"
        files.append(
            FileDiff(
                path=_text(path),
                old_path=_text(old) if old is not None else None,
                status="renamed" if old is not None else "modified",
                added=0 if binary else int(added),
                removed=0 if binary else int(removed),
                binary=binary,
            )
        )
    return files


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape").encode("utf-8", "replace").decode("utf-8")


def _chunks(patch: bytes) -> list[list[bytes]]:
    chunks: list[list[bytes]] = []
    for line in patch.split(b"\n"):
        if line.startswith(b"diff --git "):
            chunks.append([line])
        elif chunks:
            chunks[-1].append(line)
    if chunks and chunks[-1] and chunks[-1][-1] == b"":
        chunks[-1].pop()  # the patch's final newline
    return chunks


def _fill(found: FileDiff, chunk: list[bytes]) -> None:
    try:
        lines = [raw.decode("utf-8") for raw in chunk]
    except UnicodeDecodeError:
        lines = [raw.decode("utf-8", "replace") for raw in chunk]
        found.not_utf8 = True
    hunk: Hunk | None = None
    old = new = 0
    for raw, text in zip(chunk, lines, strict=True):
        head = _HUNK.match(raw) if raw.startswith(b"@@") else None
        if head is not None:
            old, new = int(head.group(1)), int(head.group(2))
            hunk = Hunk(text, [])
            found.hunks.append(hunk)
        elif hunk is None:
            found.header.append(text)
            if text.startswith("new file mode"):
                found.status = "added"
            elif text.startswith("deleted file mode"):
                found.status = "deleted"
            elif text.startswith("copy from"):
                found.status = "copied"
        elif text.startswith("+"):
            hunk.lines.append(Line("+", None, new, text[1:].rstrip("\r")))
            new += 1
        elif text.startswith("-"):
            hunk.lines.append(Line("-", old, None, text[1:].rstrip("\r")))
            old += 1
        elif text.startswith("\\"):
            found.no_newline = True
        else:
            hunk.lines.append(Line(" ", old, new, text[1:].rstrip("\r")))
            old += 1
            new += 1


def has_commit(repo: Path, sha: str) -> bool:
    """Whether `sha` names a commit in `repo` (a pruned branch's may be gone)."""
    return git("cat-file", "-e", f"{sha}^{{commit}}", cwd=repo, check=False).code == 0


def merge_base(repo: Path, one: str, other: str) -> str | None:
    """The best common ancestor of `one` and `other`, or None when they have none."""
    found = git("merge-base", one, other, cwd=repo, check=False)
    return found.out.strip() if found.code == 0 else None


def commits(repo: Path, base: str, head: str) -> int:
    """How many commits `head` has that `base` lacks."""
    return int(git("rev-list", "--count", f"{base}..{head}", cwd=repo).out.strip() or 0)
