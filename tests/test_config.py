"""Settings: the schema, parsing what users type, and the layers."""

from __future__ import annotations

import pytest

from gastown import config
from gastown.errors import InvalidValue


def test_defaults_cover_every_documented_key() -> None:
    resolved = config.resolve({})
    assert resolved["max_polecats_per_rig"] == 4
    assert resolved["max_dispatch_attempts"] == 5
    assert resolved["merge_strategy"] == "direct"
    assert resolved["refinery.gates"] == []
    assert resolved["env_vars"] == {}
    for key in (
        "runtime",
        "default_model",
        "role_models.polecat",
        "role_models.refinery",
        "role_models.mayor",
        "refinery.code_review",
        "refinery.auto_merge_delay_minutes",
        "staged_convoys_default",
        "convoy_merge_mode",
        "custom_instructions.polecat",
        "custom_instructions.refinery",
        "custom_instructions.mayor",
    ):
        assert key in config.SETTINGS


def test_layers_stack_defaults_town_rig_environment_flags() -> None:
    resolved = config.resolve(
        {"max_polecats_per_rig": 2, "runtime": "codex", "merge_strategy": "pr"},
        {"max_polecats_per_rig": 3, "runtime": "gemini"},
        {"GT_MAX_POLECATS_PER_RIG": "5", "GT_TOWN": "/elsewhere", "PATH": "/bin"},
        {"max_polecats_per_rig": 6},
    )
    assert resolved["max_polecats_per_rig"] == 6
    assert resolved.origins["max_polecats_per_rig"] == "flag"
    assert resolved["runtime"] == "gemini"
    assert resolved.origins["runtime"] == "rig"
    assert resolved["merge_strategy"] == "pr"
    assert resolved.origins["merge_strategy"] == "town.toml"
    assert resolved.origins["default_model"] == "default"


def test_environment_uses_double_underscore_for_dots() -> None:
    resolved = config.resolve({}, None, {"GT_REFINERY__CODE_REVIEW": "false"})
    assert resolved["refinery.code_review"] is False
    assert config.env_name("refinery.code_review") == "GT_REFINERY__CODE_REVIEW"


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("max_polecats_per_rig", "7", 7),
        ("refinery.code_review", "off", False),
        ("refinery.gates", '["make test", "ruff check ."]', ["make test", "ruff check ."]),
        ("refinery.auto_merge_delay_minutes", "off", None),
        ("refinery.auto_merge_delay_minutes", "15", 15),
        ("env_vars", '{"API_KEY": "s3cret"}', {"API_KEY": "s3cret"}),
        ("env_vars.API_KEY", "s3cret", "s3cret"),
        ("convoy_merge_mode", "review-and-merge", "review-and-merge"),
    ],
)
def test_parse_accepts_what_users_type(key: str, text: str, value: object) -> None:
    assert config.parse(key, text) == value


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("max_polecats_per_rig", "many", "expects an integer ≥ 1"),
        ("max_polecats_per_rig", "0", "expects an integer ≥ 1"),
        ("refinery.code_review", "maybe", "expects true or false"),
        ("refinery.gates", "make test", "expects a list of strings"),
        ("merge_strategy", "yolo", "expects one of direct, pr"),
        ("nonsense", "1", "'nonsense' is not a setting"),
    ],
)
def test_parse_refuses_with_the_key_and_expected_type(key: str, text: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        config.parse(key, text)


def test_secret_values_are_masked_in_display_and_errors() -> None:
    resolved = config.resolve({"env_vars": {"TOKEN": "abc123"}})
    assert resolved.display("env_vars") == {"TOKEN": config.MASK}
    with pytest.raises(InvalidValue) as caught:
        config.check("env_vars", {"TOKEN": 5})
    assert "abc123" not in caught.value.message and "5" not in caught.value.message


def test_flatten_validates_town_toml_tables() -> None:
    assert config.flatten({"refinery": {"gates": ["make"]}}, "town.toml") == {
        "refinery.gates": ["make"]
    }
    with pytest.raises(InvalidValue, match=r"In town\.toml: 'refinery\.gatez' is not a setting"):
        config.flatten({"refinery": {"gatez": []}}, "town.toml")
    with pytest.raises(InvalidValue, match="expects an integer"):
        config.flatten({"max_polecats_per_rig": "4"}, "town.toml")
