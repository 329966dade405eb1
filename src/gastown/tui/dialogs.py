"""The terminal view's pop-ups: a run's transcript followed live (peek), and the box a nudge
is typed in."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, RichLog

from gastown.tui.steer import Steering

FOLLOW_SECONDS = 0.5


class Peek(ModalScreen[None]):
    """The selected agent's transcript, its newest lines followed until closed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,p", "dismiss", "Close"),
    ]
    DEFAULT_CSS = """
    Peek { align: center middle; }
    Peek > Vertical { width: 95%; height: 90%; border: round $accent; background: $surface; }
    Peek RichLog { height: 1fr; }
    """

    def __init__(self, steering: Steering, polecat: str) -> None:
        super().__init__()
        self.heading, self.follower = steering.peek(polecat)
        self.lines = list(self.follower.first)
        """Every line shown, oldest first."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.heading}   (Esc closes)", id="peek-heading")
            yield RichLog(id="transcript", wrap=True, markup=False)

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        for line in self.lines or ["(nothing written yet)"]:
            log.write(line)
        self.set_interval(FOLLOW_SECONDS, self.follow)

    def follow(self) -> None:
        lines = self.follower.more()
        log = self.query_one(RichLog)
        for line in lines:
            log.write(line)
        self.lines.extend(lines)


class Nudge(ModalScreen[str | None]):
    """One line to send the agent; Enter sends it, Esc gives up."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    Nudge { align: center middle; }
    Nudge > Vertical { width: 80%; height: auto; border: round $accent; background: $surface;
                       padding: 0 1; }
    """

    def __init__(self, polecat: str) -> None:
        super().__init__()
        self.polecat = polecat

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Tell {self.polecat} (Enter sends, Esc cancels):")
            yield Input(placeholder="e.g. Please wrap up and push what you have", id="nudge")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
