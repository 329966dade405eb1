"""The polecat prompt: the bead, what it builds on, the rig's instructions, how to finish."""

from __future__ import annotations

from pathlib import Path

from gastown.model import Bead, Convoy
from gastown.polecat.prompt import Delivered, PromptContext, render


def context(**changes: object) -> PromptContext:
    bead = Bead(id="gt-abc12", title="Tests for --verbose", body="Cover the flag in tests/.")
    values: dict[str, object] = {
        "bead": bead,
        "polecat": "nux",
        "rig": "app",
        "branch": "gt/nux/gt-abc12",
    }
    values.update(changes)
    return PromptContext(**values)  # type: ignore[arg-type]


def test_plain_bead_prompt_says_what_and_how_to_finish() -> None:
    text = render(context())
    assert "# Your bead: gt-abc12 — Tests for --verbose" in text
    assert "Cover the flag in tests/." in text
    assert "branch gt/nux/gt-abc12" in text
    assert "gt done --summary" in text and "gt escalate --severity" in text
    assert "convoy" not in text.lower().split("# how to finish")[0]
    assert "\n\n\n" not in text


def test_convoy_dependencies_rework_and_instructions_appear() -> None:
    convoy = Convoy(id="gt-cv-1", title="Verbose mode", rig="app", total=3)
    text = render(
        context(
            convoy=convoy,
            delivered=[Delivered("gt-flag1", "Add a --verbose flag", "Flag wired into cli.py")],
            instructions="Run `make test` before finishing.",
            rework="The gate `make test` failed:\nFAILED tests/test_cli.py::test_verbose",
        )
    )
    assert 'one of 3 in convoy gt-cv-1, "Verbose mode"' in text
    assert "- gt-flag1 Add a --verbose flag: Flag wired into cli.py" in text
    assert "# Instructions for this rig\n\nRun `make test` before finishing." in text
    assert "# This is rework" in text and "FAILED tests/test_cli.py" in text


def test_a_town_template_overrides_and_unknown_placeholders_survive(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "polecat.md").write_text("Do $title on $rig. $unknown stays.")
    assert render(context(), tmp_path) == "Do Tests for --verbose on app. $unknown stays."
