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
        ("max_polecats_per_rig", "many", "expects an integer from 1 to 256"),
        ("max_polecats_per_rig", "0", "expects an integer from 1 to 256"),
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


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("env_vars.A=B", "v", "'A=B' cannot name an environment variable"),
        ("env_vars.1ST", "v", "'1ST' cannot name an environment variable"),
        ("env_vars", '{"A B": "v"}', "'A B' cannot name an environment variable"),
        ("env_vars.TOKEN", "a\x00b", "cannot hold control characters (U+0000)"),
        ("github.api_url", "notaurl", "expects an http:// or https:// URL with a host"),
        ("github.api_url", "", "expects an http:// or https:// URL"),
        ("github.api_url", "file:///etc/passwd", "expects an http:// or https:// URL"),
        ("github.api_url", "https://", "expects an http:// or https:// URL"),
        ("github.api_url", "http://host:port/", "expects an http:// or https:// URL"),
        ("model_base_url", "localhost:8080", "expects an http:// or https:// URL"),
        ("github.repo", "../../etc", "expects a GitHub repository as owner/name"),
        ("max_polecats_per_rig", "257", "expects an integer from 1 to 256, not 257"),
        ("max_polecats_per_rig", "9" * 30, "expects an integer from 1 to 256"),
        ("max_polecats_per_rig", "9" * 5000, "expects an integer from 1 to 256"),
        ("refinery.gate_timeout_seconds", "99999999", "from 1 to 604800"),
        ("refinery.auto_merge_delay_minutes", "-1", "from 0 to 527040, or off"),
        ("refinery.batch_size", "65", "from 1 to 64"),
        ("default_model", "claude\nsonnet", "cannot hold control characters (U+000A)"),
        ("refinery.gates", '["make\\u0000test"]', "cannot hold control characters"),
        ("custom_instructions.mayor", "x" * 20_000, "at most 16384 characters"),
    ],
)
def test_values_programs_could_not_use_are_refused(key: str, text: str, message: str) -> None:
    """Given a value that would break an agent, the refinery or the GitHub client later,
    when it is set, then it is refused at once with a sentence saying what is expected."""
    with pytest.raises(InvalidValue) as caught:
        config.parse(key, text)
    assert message in caught.value.message
    assert len(caught.value.message) < 300


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("env_vars.API_KEY", "sk-1\nline two"),
        ("env_vars._private", ""),
        ("model_base_url", ""),
        ("model_base_url", "http://127.0.0.1:8080/v1"),
        ("github.api_url", "https://ghe.example.com/api/v3"),
        ("github.repo", "acme/web.app"),
        ("github.repo", ""),
        ("max_polecats_per_rig", "256"),
        ("custom_instructions.polecat", "Run the tests.\n\tThen lint."),
        ("refinery.gates", '["make test", "ruff check ."]'),
    ],
)
def test_sane_values_still_pass(key: str, text: str) -> None:
    config.parse(key, text)


def test_a_hand_edited_town_toml_names_the_bad_value_and_where_to_fix_it() -> None:
    with pytest.raises(InvalidValue) as caught:
        config.flatten({"env_vars": {"A=B": "v"}}, "/t/town.toml")
    assert caught.value.message.startswith("In /t/town.toml: 'A=B' cannot name")
    assert caught.value.hint is not None and "/t/town.toml" in caught.value.hint
    with pytest.raises(InvalidValue, match=r"\[settings\] must be a table"):
        config.flatten(5, "/t/town.toml")  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="from 1 to 256"):
        config.flatten({"max_polecats_per_rig": 10**30}, "/t/town.toml")
