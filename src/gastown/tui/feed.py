"""`gt feed` on a terminal: the agents, the live event feed, the problems and the merge queue,
refreshed from the store every `interval` seconds, with keys to act on the selected row."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, RichLog, Static

from gastown.cli.app import App as Cli
from gastown.clock import duration
from gastown.errors import GastownError
from gastown.tui.dialogs import Nudge, Peek
from gastown.tui.steer import Steering
from gastown.tui.view import FEED_LENGTH, AgentRow, Problem, QueueRow, TownView, town_view

Row = AgentRow | Problem | QueueRow
R = TypeVar("R", AgentRow, Problem, QueueRow)
HINT = "Select a row in the agents, problems or merge queue first (Tab moves between panes)."


class FeedView(App[None]):
    TITLE = "Gas Town"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "peek", "Peek"),
        Binding("n", "nudge", "Nudge"),
        Binding("s", "stop", "Stop"),
        Binding("h", "hold", "Hold/release"),
        Binding("a", "acknowledge", "Acknowledge"),
        Binding("q", "quit", "Quit"),
    ]
    CSS = """
    Screen { layout: grid; grid-size: 2 3; grid-columns: 3fr 2fr; grid-rows: 1 1fr 1fr; }
    #heading { column-span: 2; background: $panel; padding: 0 1; }
    DataTable, RichLog { border: round $primary-darken-2; height: 1fr; }
    DataTable:focus { border: round $accent; }
    """

    def __init__(
        self,
        steering: Steering,
        *,
        quiet_after: float,
        interval: float = 1.0,
        events: Mapping[str, Any] | None = None,
        since: int | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self.steering = steering
        self.quiet_after = quiet_after
        self.interval = interval
        self.events = dict(events or {})
        self.since = since
        self.now = now
        self.cursor = 0
        """The newest event shown: each refresh reads only what came after it."""
        self.view = TownView()
        self.rows: dict[str, Sequence[Row]] = {"agents": [], "problems": [], "queue": []}
        self.shown: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        """What each table shows: its rows' keys and cells."""

    def compose(self) -> ComposeResult:
        yield Static(id="heading")
        yield _table(
            "agents",
            "Agents",
            {"POLECAT": 12, "STATE": 18, "BEAD": 36, "ELAPSED": 9, "COST": 9, "SAYS": 30},
        )
        yield _table("problems", "Problems", {"KIND": 10, "WHAT": 90})
        log = RichLog(id="feed", max_lines=FEED_LENGTH, wrap=False, markup=False)
        log.border_title = "Feed"
        yield log
        yield _table(
            "queue", "Merge queue", {"MR": 10, "STATUS": 8, "BEAD": 30, "AGE": 8, "NOTE": 40}
        )
        yield Footer()

    def on_mount(self) -> None:
        if self.since is not None:
            self.cursor = self.since
        else:  # the feed opens with a little history, as a terminal scrolled back would
            with self.steering.app.store.reader() as tx:
                latest = tx.list_events(**self.events, limit=FEED_LENGTH // 4, newest_first=True)
            self.cursor = latest[-1].id - 1 if latest else 0
        self.refresh_view()
        self.set_interval(self.interval, self.refresh_view)

    def refresh_view(self) -> None:
        """Read the town once and lay it out."""
        try:
            with self.steering.app.store.reader() as tx:
                view = town_view(
                    tx,
                    self.now(),
                    quiet_after=self.quiet_after,
                    after=self.cursor,
                    events=self.events,
                )
        except GastownError as exc:  # a busy or unreachable store: say so, try next time
            self.query_one("#heading", Static).update(f"Cannot read the town: {exc}")
            return
        self.view = view
        town = self.steering.app.town
        self.query_one("#heading", Static).update(
            f"{town.name}: {view.working} working, {len(view.agents)} polecats, "
            f"{len(view.problems)} problems, {len(view.queue)} in the merge queue"
        )
        self._fill(
            "agents",
            view.agents,
            lambda a: a.name,
            lambda a: (
                a.name,
                a.state if a.status in ("-", a.state) else f"{a.state} ({a.status})",
                f"{a.bead_id or '-'} {a.bead_title}"[:48],
                "-" if a.elapsed is None else duration(a.elapsed),
                f"${a.cost_usd:.4f}" if a.cost_usd else "-",
                a.says[:40],
            ),
        )
        self._fill(
            "problems",
            view.problems,
            lambda p: f"{p.kind}:{p.escalation_id or p.bead_id or p.text}",
            lambda p: (p.kind, p.text[:120]),
        )
        self._fill(
            "queue",
            view.queue,
            lambda m: m.id,
            lambda m: (
                m.id,
                m.status,
                f"{m.bead_id or '-'} {m.title}"[:40],
                duration(m.age),
                m.note[:60],
            ),
        )
        log = self.query_one("#feed", RichLog)
        for e in view.events:
            if e.id > self.cursor:
                log.write(e.text)
                self.cursor = e.id

    def _fill(
        self,
        name: str,
        rows: Sequence[R],
        key: Callable[[R], str],
        cells: Callable[[R], tuple[str, ...]],
    ) -> None:
        """Refill a table when what it shows changed, the cursor staying on the row it was on
        (by key). A table redraws every visible cell on any change: an unchanged one is left
        alone."""
        shown = [(key(row), cells(row)) for row in rows]
        if shown == self.shown.get(name):
            self.rows[name] = rows
            return
        table: DataTable[Text] = self.query_one(f"#{name}", DataTable)
        was = table.cursor_row
        before = self.shown.get(name, [])
        wanted = before[was][0] if 0 <= was < len(before) else None
        table.clear()
        place = 0
        for i, (k, texts) in enumerate(shown):
            # Text, not str: a str cell is read as Rich markup (a title may hold brackets).
            table.add_row(*(Text(t, no_wrap=True, overflow="ellipsis") for t in texts), key=k)
            if k == wanted:
                place = i
        self.rows[name], self.shown[name] = rows, shown
        if rows:
            table.move_cursor(row=place, animate=False)

    def selected(self, name: str | None = None) -> Row | None:
        """The row under the cursor of table `name` (default: the focused one)."""
        if name is None:
            focused = self.focused
            name = focused.id if isinstance(focused, DataTable) else None
        rows = self.rows.get(name or "")
        if not rows:
            return None
        table: DataTable[Text] = self.query_one(f"#{name}", DataTable)
        return rows[table.cursor_row] if 0 <= table.cursor_row < len(rows) else None

    def _polecat(self) -> str | None:
        row = self.selected()
        name = row.name if isinstance(row, AgentRow) else getattr(row, "polecat", None)
        if name is None:
            self.notify("Select an agent (or a problem about one) first.", severity="warning")
        return name

    def _act(self, work: Callable[[], str]) -> None:
        """Say what happened, or the refusal's own sentence; then show the change."""
        try:
            self.notify(work())
        except GastownError as exc:
            hint = f" {exc.hint}" if getattr(exc, "hint", None) else ""
            self.notify(f"{exc}{hint}", severity="error")
        self.refresh_view()

    def action_peek(self) -> None:
        polecat = self._polecat()
        if polecat is not None:
            try:
                self.push_screen(Peek(self.steering, polecat))
            except GastownError as exc:
                self.notify(str(exc), severity="error")

    def action_nudge(self) -> None:
        polecat = self._polecat()
        if polecat is None:
            return

        def send(text: str | None) -> None:
            if text:
                self._act(lambda: self.steering.nudge(polecat, text))

        self.push_screen(Nudge(polecat), send)

    def action_stop(self) -> None:
        polecat = self._polecat()
        if polecat is not None:
            self._act(lambda: self.steering.stop(polecat))

    def action_hold(self) -> None:
        row = self.selected()
        bead_id = row.bead_id if row is not None else None
        if bead_id is None:
            self.notify(HINT if row is None else "This row is about no bead.", severity="warning")
            return
        self._act(lambda: self.steering.hold(bead_id))

    def action_acknowledge(self) -> None:
        row = self.selected()
        if not isinstance(row, Problem) or row.escalation_id is None:
            self.notify("Select an escalation in the problems pane first.", severity="warning")
            return
        found = row.escalation_id
        self._act(lambda: self.steering.acknowledge(found))


def _table(name: str, title: str, columns: Mapping[str, int]) -> DataTable[Text]:
    """A table of fixed column widths: cells are cut to them rather than measured, which
    a refresh would do for every cell."""
    table: DataTable[Text] = DataTable(id=name, cursor_type="row")
    table.border_title = title
    for label, width in columns.items():
        table.add_column(label, width=width)
    return table


def run(app: Cli, events: Mapping[str, Any], since: int | None, interval: float) -> int:
    """`gt feed` on a terminal: the full-screen view until `q`."""
    from gastown import config
    from gastown.sections import sections

    polecat = sections(config.resolve(app.town.settings, None, app.environ)).polecat
    # A third of the stall timeout: flagged well before the town stops the run.
    quiet_after = float(polecat.stall_timeout_seconds) / 3
    view = FeedView(
        Steering(app), quiet_after=quiet_after, interval=interval, events=events, since=since
    )
    view.run()
    return 0
