from __future__ import annotations

import pytest

from core.config import GatewayConfig, load_model_text
from core.config.yaml_source import parse_yaml
from core.errors import ConfigError

VALID = """\
deployments:
  - name: gpt-4o-mini
    kind: openai_compatible
    model: gpt-4o-mini
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY
policies:
  - name: default
    aliases: [auto]
    candidates: [gpt-4o-mini]
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_model_text(text, GatewayConfig, source="cfg.yaml")
    return info.value.problems


def test_valid_config_loads() -> None:
    cfg = load_model_text(VALID, GatewayConfig, source="cfg.yaml")
    assert cfg.policies[0].aliases == ("auto",)


def test_duplicate_key_is_an_error_with_both_lines() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: 1\nb: 2\na: 3\n", "dup.yaml")
    assert info.value.problems == ["dup.yaml:3:1: a: duplicate key 'a' (first defined at line 1)"]


def test_syntax_error_names_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: [1, 2\nb: 3\n", "bad.yaml")
    assert info.value.problems[0].startswith("bad.yaml:")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            ("    model: gpt-4o-mini\n", "    model: gpt-4o-mini\n    timeout_s: -1\n"),
            "cfg.yaml:5:16: deployments[0].timeout_s: Input should be greater than 0",
            id="bad-number-in-union-member",
        ),
        pytest.param(
            ("    api_key_env: OPENAI_API_KEY\n", "    api_key_env: OPENAI_API_KEY\n    colour: red\n"),
            "cfg.yaml:7:13: deployments[0].colour: Extra inputs are not permitted",
            id="unknown-field",
        ),
        pytest.param(
            ("    candidates: [gpt-4o-mini]\n", "    candidates: gpt-4o-mini\n"),
            "cfg.yaml:10:17: policies[0].candidates: Input should be a valid tuple",
            id="wrong-type",
        ),
    ],
)
def test_validation_errors_point_at_file_line_col(edit: tuple[str, str], expected: str) -> None:
    assert expected in problems_of(VALID.replace(*edit))
