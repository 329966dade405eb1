"""Each closed set of words in the glossary has a `Literal` type for the type checker and a
tuple for the code; the two must name the same words."""

from __future__ import annotations

from typing import get_args

from gastown import model


def test_each_literal_type_names_exactly_its_tuples_words() -> None:
    assert get_args(model.BeadStatus) == model.BEAD_STATUSES
    assert set(get_args(model.RunStatus)) == set(model.RUN_STATUSES)
    assert get_args(model.MrStatus) == model.MR_STATUSES
    assert get_args(model.Severity) == model.SEVERITIES
