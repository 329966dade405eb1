"""`gt mr diff ID` and `gt runs diff RUN`: what a merge request or a run changed, as a patch
(coloured on a terminal), as counts per file (`--stat`), or as JSON (`--json`: the files and
their counts). The reviewer's comments on a merge request print under their lines."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gastown.cli.app import App
from gastown.git.diff import FileDiff

if TYPE_CHECKING:
    from gastown.services.diffs import Change

Paint = Callable[[str, str], str]

_PAINT = {"file": "1", "hunk": "36", "+": "32", "-": "31", "note": "33"}


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stat", action="store_true", help="only the files and their counts")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the patch (auto: on a terminal, unless NO_COLOR is set)",
    )


def add_mr_diff(verbs: Any, shared: argparse.ArgumentParser) -> None:
    diff = verbs.add_parser(
        "diff",
        parents=[shared],
        help="what it would bring onto its target",
        description="The change from the merge base of the target and the merge request's "
        "head, as git computes it in the rig's clone; the reviewer's comments under the "
        "lines they are about.",
    )
    diff.add_argument("id", metavar="ID", help="a merge request id (or its start)")
    add_options(diff)
    diff.set_defaults(handler=show_mr_diff)


def add_run_diff(verbs: Any, shared: argparse.ArgumentParser) -> None:
    diff = verbs.add_parser(
        "diff",
        parents=[shared],
        help="the commits one run made",
        description="The change from the commit the run's worktree started at to the head "
        "it left (its branch as it is now while it works).",
    )
    diff.add_argument("run", metavar="RUN", help="a run id")
    add_options(diff)
    diff.set_defaults(handler=show_run_diff)


def show_mr_diff(app: App) -> int:
    from gastown.services import diffs

    with app.store.reader() as tx:
        change = diffs.of_merge_request(tx, app.town.path, app.args.id)
    return _show(app, change)


def show_run_diff(app: App) -> int:
    from gastown.services import diffs

    with app.store.reader() as tx:
        change = diffs.of_run(tx, app.town.path, app.args.run)
    return _show(app, change)


def _show(app: App, change: Change) -> int:
    diff = change.diff

    def human() -> None:
        if diff is None:
            app.print(change.empty or "Nothing changed.")
        elif app.args.stat:
            app.print(stat(diff.files))
        else:
            paint = _painter(app)
            for line in patch(diff.files, change.comments, paint):
                app.print(line)
            if diff.cut:
                app.print(paint("note", "(cut: the rest is too large to print; see --stat)"))

    app.emit(change.to_json(), human)
    return 0


def stat(files: list[FileDiff]) -> str:
    """One line per file with its counts, and the totals."""
    if not files:
        return "No files changed."
    width = min(max(len(f.path) for f in files), 60)
    lines = []
    for f in files:
        counts = "binary" if f.binary else f"+{f.added} -{f.removed}"
        moved = f" (from {f.old_path})" if f.old_path else ""
        lines.append(f" {f.path:<{width}}  {counts}{moved}")
    added, removed = sum(f.added for f in files), sum(f.removed for f in files)
    many = "s" if len(files) != 1 else ""
    lines.append(f" {len(files)} file{many} changed, +{added} -{removed}")
    return "\n".join(lines)


def patch(files: list[FileDiff], comments: list[dict[str, Any]], paint: Paint) -> list[str]:
    """The change as git prints it, with the reviewer's comments under their lines."""
    at: dict[tuple[str, int], list[str]] = {}
    for c in comments:
        if c.get("path") and isinstance(c.get("line"), int):
            at.setdefault((str(c["path"]), c["line"]), []).append(str(c.get("body") or ""))
    out: list[str] = []
    for f in files:
        out.extend(paint("file", line) for line in f.header)
        if not f.shown:
            counts = f"+{f.added} -{f.removed}"
            out.append(paint("note", f"(not printed: past the size limit, {counts})"))
        if f.not_utf8:
            out.append(paint("note", "(not UTF-8: bytes that are not show as \ufffd)"))
        for hunk in f.hunks:
            out.append(paint("hunk", hunk.header))
            for line in hunk.lines:
                text = line.kind + line.text
                out.append(paint(line.kind, text) if line.kind != " " else text)
                for body in at.get((f.path, line.new), []) if line.new is not None else []:
                    out.append(paint("note", f"    ^ reviewer: {body}"))
    return out


def _painter(app: App) -> Paint:
    wanted = app.args.color
    if wanted == "auto":
        tty = getattr(app.out, "isatty", lambda: False)()
        wanted = "always" if tty and not app.environ.get("NO_COLOR") else "never"
    if wanted == "never":
        return lambda _kind, text: text
    return lambda kind, text: f"\x1b[{_PAINT[kind]}m{text}\x1b[0m"
