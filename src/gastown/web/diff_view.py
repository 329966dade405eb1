"""A change drawn for the dashboard: each file's rows, unified or side by side, highlighted on
the server with Pygments, with the reviewer's comments under the lines they are about.

Rows are built here as markup rather than in a template loop: a 5,000-line change is 5,000
rows, and a loop of string joins draws them several times faster than Jinja would. Every piece
of text is escaped here; the token classes are Pygments' short names, styled by
`static/pygments.css`. Only the hunks' lines are lexed, by `lexing` (Pygments' lexers, driven
several times faster with the same tokens), and each distinct token is escaped and wrapped once.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from functools import cache, lru_cache
from html import escape
from typing import Any, Literal

from markupsafe import Markup
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.token import STANDARD_TYPES, Text, _TokenType
from pygments.util import ClassNotFound

from gastown.git.diff import Diff, FileDiff, Hunk, Line
from gastown.record import Record
from gastown.web import lexing

View = Literal["unified", "split"]
VIEWS: tuple[View, ...] = ("unified", "split")
LARGE = 400
"""Changed lines past which a file starts collapsed."""
HUGE = 20_000
"""Lines of diff past which a file is named with its counts but not drawn."""
_HIGHLIGHT_AT_MOST = 1_000_000
"""Characters of one side of a file past which it is shown plain (minified bundles, dumps)."""

Comment = dict[str, Any]


class DrawnFile(Record):
    """One file as the diff template shows it."""

    anchor: str
    path: str
    old_path: str | None
    status: str
    added: int
    removed: int
    binary: bool
    not_utf8: bool
    shown: bool
    huge: bool
    large: bool
    rows: Markup
    stray: list[Comment]
    """The reviewer's comments on this file at lines the diff does not show."""


_drawn: OrderedDict[tuple[str, ...], list[DrawnFile]] = OrderedDict()
_KEPT = 8
"""Changes kept drawn: two commits never change, so a page seen again (a reload, the other
layout and back, a second person) skips Pygments, which is most of a large page's time."""


def drawn(diff: Diff, comments: Sequence[Comment], view: View) -> list[DrawnFile]:
    """`draw` of a whole change, kept for the next time the same change is asked for."""
    key = (diff.base, diff.head, str(diff.cut), view, json.dumps(comments, sort_keys=True))
    found = _drawn.get(key)
    if found is None:
        found = _drawn[key] = draw(diff.files, comments, view)
        while len(_drawn) > _KEPT:
            _drawn.popitem(last=False)
    _drawn.move_to_end(key)
    return found


def forget() -> None:
    """Drop every change kept drawn (the benchmark measures a first view with it)."""
    _drawn.clear()


def draw(files: Sequence[FileDiff], comments: Sequence[Comment], view: View) -> list[DrawnFile]:
    """Every file of a change, drawn for `view`."""
    by_path: dict[str, list[Comment]] = {}
    for c in comments:
        if c.get("path"):
            by_path.setdefault(str(c["path"]), []).append(c)
    drawn = []
    for n, f in enumerate(files):
        said = by_path.get(f.path, [])
        lines = sum(len(h.lines) for h in f.hunks)
        huge = lines > HUGE
        rows, placed = (Markup(""), set()) if huge or not f.shown else _rows(f, said, view)
        drawn.append(
            DrawnFile(
                anchor=f"file-{n + 1}",
                path=f.path,
                old_path=f.old_path,
                status=f.status,
                added=f.added,
                removed=f.removed,
                binary=f.binary,
                not_utf8=f.not_utf8,
                shown=f.shown,
                huge=huge,
                large=f.changed > LARGE,
                rows=rows,
                stray=[c for c in said if id(c) not in placed],
            )
        )
    return drawn


def general(files: Sequence[FileDiff], comments: Sequence[Comment]) -> list[Comment]:
    """The reviewer's comments on no file of the change (or on none at all)."""
    paths = {f.path for f in files}
    return [c for c in comments if not c.get("path") or str(c["path"]) not in paths]


def _rows(f: FileDiff, said: list[Comment], view: View) -> tuple[Markup, set[int]]:
    at_line: dict[int, list[Comment]] = {}
    for c in said:
        if isinstance(c.get("line"), int):
            at_line.setdefault(c["line"], []).append(c)
    old_html, new_html = _highlighted(f)
    placed: set[int] = set()
    out: list[str] = []
    width = 3 if view == "unified" else 4
    for hunk, olds, news in zip(f.hunks, old_html, new_html, strict=True):
        out.append(f'<tr class="d-hunk"><td colspan="{width}">{escape(hunk.header)}</td></tr>')
        if view == "unified":
            pairs: Iterator[tuple[str, int | None]] = _unified(hunk, olds, news)
        else:
            pairs = _split(hunk, olds, news)
        for row, new in pairs:
            out.append(row)
            for c in at_line.get(new, ()) if new is not None else ():
                placed.add(id(c))
                out.append(_comment(c, width))
    return Markup("".join(out)), placed


def _unified(hunk: Hunk, olds: list[str], news: list[str]) -> Iterator[tuple[str, int | None]]:
    o = n = 0
    for line in hunk.lines:
        if line.kind == "-":
            code, o = olds[o], o + 1
            yield _row("del", line.old, "", "-", code), None
        elif line.kind == "+":
            code, n = news[n], n + 1
            yield _row("add", "", line.new, "+", code), line.new
        else:
            code, o, n = news[n], o + 1, n + 1
            yield _row("ctx", line.old, line.new, " ", code), line.new


def _row(kind: str, old: object, new: object, sign: str, code: str) -> str:
    return (
        f'<tr class="d-{kind}"><td class="ln">{old or ""}</td><td class="ln">{new or ""}</td>'
        f'<td class="code"><span class="sign" aria-hidden="true">{sign}</span>{code}</td></tr>'
    )


def _split(hunk: Hunk, olds: list[str], news: list[str]) -> Iterator[tuple[str, int | None]]:
    """Removed lines beside the added lines that replace them; context on both sides."""
    o = n = 0
    gone: list[tuple[Line, str]] = []
    came: list[tuple[Line, str]] = []

    def flush() -> Iterator[tuple[str, int | None]]:
        for k in range(max(len(gone), len(came))):
            left = gone[k] if k < len(gone) else None
            right = came[k] if k < len(came) else None
            yield (
                "<tr>"
                + (_half("del", left[0].old, left[1]) if left else _blank())
                + (_half("add", right[0].new, right[1]) if right else _blank())
                + "</tr>",
                right[0].new if right else None,
            )
        gone.clear()
        came.clear()

    for line in hunk.lines:
        if line.kind == "-":
            if came:
                yield from flush()
            gone.append((line, olds[o]))
            o += 1
        elif line.kind == "+":
            came.append((line, news[n]))
            n += 1
        else:
            yield from flush()
            left, right = olds[o], news[n]
            o, n = o + 1, n + 1
            row = _half("ctx", line.old, left) + _half("ctx", line.new, right)
            yield f"<tr>{row}</tr>", line.new
    yield from flush()


def _half(kind: str, number: int | None, code: str) -> str:
    return f'<td class="ln d-{kind}">{number or ""}</td><td class="code d-{kind}">{code}</td>'


def _blank() -> str:
    return '<td class="ln d-none"></td><td class="code d-none"></td>'


def _comment(c: Comment, width: int) -> str:
    return (
        f'<tr class="d-comment"><td colspan="{width}"><div class="review-comment" role="note">'
        f"<strong>Reviewer</strong> on line {int(c['line'])}: {escape(str(c.get('body') or ''))}"
        "</div></td></tr>"
    )


def _highlighted(f: FileDiff) -> tuple[list[list[str]], list[list[str]]]:
    """Per hunk, the old side's lines (context and removed) and the new side's (context and
    added) as markup. Each side is lexed as one text, so a string or comment spanning lines
    is coloured as one."""
    olds = [[ln.text for ln in h.lines if ln.kind != "+"] for h in f.hunks]
    news = [[ln.text for ln in h.lines if ln.kind != "-"] for h in f.hunks]
    return _side(f.old_path or f.path, olds), _side(f.path, news)


def _side(path: str, hunks: list[list[str]]) -> list[list[str]]:
    flat = [text for lines in hunks for text in lines]
    lexer = _lexer(path.rsplit("/", 1)[-1])
    size = sum(len(t) for t in flat)
    marked = _lex(lexer, flat) if lexer is not None and size <= _HIGHLIGHT_AT_MOST else None
    if marked is None:
        marked = [escape(t, quote=False) for t in flat]
    out, at = [], 0
    for lines in hunks:
        out.append(marked[at : at + len(lines)])
        at += len(lines)
    return out


def _lex(lexer: Lexer, texts: list[str]) -> list[str] | None:
    # Pygments reads a lone carriage return as a line break; it must not shift the lines.
    source = "\n".join(t.replace("\r", " ") for t in texts) + "\n"
    lines: list[str] = []
    current: list[str] = []
    # a change repeats the same few tokens (names, keywords, brackets, indents) thousands of
    # times: each is escaped and wrapped once
    marked: dict[tuple[_TokenType, str], str] = {}
    for ttype, value in lexing.tokens(lexer, source):
        if "\n" not in value:
            piece = marked.get((ttype, value))
            if piece is None:
                piece = marked[ttype, value] = _span(ttype, value)
            current.append(piece)
            continue
        for k, part in enumerate(value.split("\n")):
            if k:
                lines.append("".join(current))
                current = []
            current.append(_span(ttype, part))
    return lines[: len(texts)] if len(lines) >= len(texts) else None


def _span(ttype: _TokenType, text: str) -> str:
    css = _css(ttype)
    text = escape(text, quote=False)
    return f'<span class="{css}">{text}</span>' if css and text else text


@cache
def _css(ttype: _TokenType) -> str:
    if ttype in Text:  # plain text and spaces need no span (a third of the markup)
        return ""
    while ttype not in STANDARD_TYPES and ttype.parent is not None:
        ttype = ttype.parent
    return str(STANDARD_TYPES.get(ttype, ""))


@lru_cache(maxsize=256)
def _lexer(name: str) -> Lexer | None:
    try:
        return get_lexer_for_filename(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def style_sheet() -> str:
    """The token colours `static/pygments.css` holds: Pygments' default style, scoped to
    `.hl` (its page-wide rules for `pre` and line numbers left out)."""
    from pygments.formatters import HtmlFormatter

    defs = HtmlFormatter(style="default").get_style_defs(".hl").splitlines()
    return "\n".join(line for line in defs if line.startswith(".hl ")) + "\n"
