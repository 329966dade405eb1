"""Typed sections of the settings: one read, real types, and no change once built."""

from __future__ import annotations

import pytest

from gastown import config
from gastown.sections import sections


def test_sections_read_the_layers_in_force() -> None:
    settings = config.resolve(
        {"refinery.max_reworks": 2, "role_models.refinery": "judge", "default_model": "m"},
        {"refinery.gates": ["make test"], "budget.daily_usd": 3.5},
        {"GT_POLECAT__STALL_TIMEOUT_SECONDS": "60"},
    )
    read = sections(settings)
    assert read.refinery.max_reworks == 2
    assert read.refinery.gates == ("make test",)
    assert read.budget.daily_usd == 3.5
    assert read.budget.per_bead_usd is None
    assert read.polecat.stall_timeout_seconds == 60
    assert (read.agents.refinery_model, read.agents.polecat_model) == ("judge", "m")
    assert read.intake.labels == ("gastown",)


def test_a_section_cannot_change_once_built() -> None:
    read = sections(config.resolve({}))
    with pytest.raises(AttributeError, match="cannot be changed"):
        read.refinery.max_reworks = 9  # type: ignore[misc]
    assert read.refinery.max_reworks == 5


def test_every_runtime_setting_has_an_adapter_and_every_adapter_a_name() -> None:
    from gastown.runtimes.registry import REGISTRY

    assert tuple(REGISTRY) == config.RUNTIMES
    assert config.setting("runtime").choices == config.RUNTIMES
    assert all(REGISTRY[name].name == name for name in config.RUNTIMES)
