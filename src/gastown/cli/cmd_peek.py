"""`gt peek`: a run's transcript read as a conversation, or followed live with `-f`.

`cmd_runs` registers the command; this module reads. A run records where its transcript is
as soon as its agent starts, and every run writes it to the same place, so a follower can
begin before the first line exists and read from that first line on. A run whose agent runs
on another host is read from what that host ships to the ledger (`transcript.Source`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from gastown.cli.app import App
from gastown.errors import NotFound
from gastown.model import Run
from gastown.polecat.conversation import Conversation, Line, as_text
from gastown.polecat.transcript import Source, event_of

COLORS = {"think": "2", "spent": "2", "unread": "2", "start": "2", "stderr": "2", "tool": "36"}
"""ANSI styles by line kind on a terminal: quiet lines dim, tool calls cyan; failures red."""


def find_run(app: App, target: str) -> Run:
    """A run by its id, or a polecat's current (or last) run by the polecat's name."""
    with app.store.reader() as tx:
        run = tx.get_run(target)
        if run is None:
            polecat = tx.get_polecat(target)
            if polecat is not None and polecat.run_id:
                run = tx.get_run(polecat.run_id)
    if run is None:
        raise NotFound(
            f"There is no polecat or run '{target}'.",
            hint="`gt agents` lists polecats; `gt runs` lists runs.",
        )
    return run


def peek_run(app: App) -> int:
    run = find_run(app, app.args.target)
    source = Source(app.town.path, run.id, run.transcript, app.store)
    follow = bool(app.args.follow)
    if not source.exists() and not (follow and run.active):
        if run.active:
            app.emit(
                [],
                f"Run {run.id} is {run.status} and has written nothing yet; "
                f"`gt peek -f {run.id}` waits for its first line.",
            )
            return 0
        raise NotFound(
            f"Run {run.id} ({run.status}) has no transcript: it ended before its agent started.",
            hint=f"`gt runs --bead {run.bead_id}` shows why.",
        )
    if not (app.json or app.args.raw):
        app.print(f"# {run.id}: {run.polecat} on {run.bead_id} ({run.status})")
    reader = Reader(app, source)
    reader.start(app.args.lines)
    while follow:
        with app.store.reader() as tx:
            current = tx.get_run(run.id)
        reader.more()
        if current is None or not current.active:
            break
        time.sleep(app.args.interval)
    reader.done()
    return 0


class Reader:
    """Prints a transcript as it grows: raw lines, JSON events, or conversation lines."""

    def __init__(self, app: App, source: Source) -> None:
        self.app, self.source, self.offset = app, source, 0
        self.talk = Conversation()
        self.raw = bool(app.args.raw)
        self.color = not app.json and not self.raw and _is_terminal(app)

    def start(self, last: int) -> None:
        """From the first line, or only the last `last` events."""
        if last:
            lines, self.offset = self.source.tail_lines(last)
            if self.raw:
                self._write(line + "\n" for line in lines)
            else:
                self._print_events([event_of(line) for line in lines])
        self.more()

    def more(self) -> None:
        """Everything written since the last read. A call still waiting for its result is
        shown (as running) once a read finds nothing new: a quick call keeps its one line."""
        start = self.offset
        while True:
            before = self.offset
            if self.raw:
                lines, self.offset = self.source.read_lines(self.offset)
                self._write(line + "\n" for line in lines)
            else:
                events, self.offset = self.source.read(self.offset)
                self._print_events(events)
            if self.offset == before:
                break
        if self.offset == start:
            self._print_lines(self.talk.flush())

    def done(self) -> None:
        self._print_lines(self.talk.flush())

    def _print_events(self, events: list[dict[str, Any]]) -> None:
        if self.app.json:
            self._write(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
        else:
            self._print_lines(self.talk.feed_all(events))

    def _print_lines(self, lines: list[Line]) -> None:
        if not self.app.json and not self.raw:
            self._write(self._styled(line) + "\n" for line in lines)

    def _styled(self, line: Line) -> str:
        text = as_text(line)
        style = "31" if line.failed else COLORS.get(line.kind)
        return f"\x1b[{style}m{text}\x1b[0m" if self.color and style else text

    def _write(self, chunks: Any) -> None:
        out = self.app.out
        for chunk in chunks:
            out.write(chunk)
        out.flush()


def _is_terminal(app: App) -> bool:
    isatty = getattr(app.out, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in app.environ
