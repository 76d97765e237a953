"""Agent YAML: the shipped examples load; mistakes are reported as file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.spec import load_agent, load_agents
from core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_agents_load() -> None:
    agents = load_agents(REPO / "config" / "agents")
    assert {"assistant", "oncall"} <= set(agents)
    assert agents["oncall"].priority == "high"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("name: a\nmax_steps: 0\n", ":2:12: max_steps: Input should be greater than or equal to 1"),
        ("name: a\ntools:\n  - name: x\n    tag: y\n", ":3:5: tools[0]: Value error, give exactly one of"),
        ("name: a\npriority: urgent\n", ":2:11: priority: Input should be 'high', 'normal' or 'low'"),
        ("name: a\nname: b\n", ":2:1: name: duplicate key 'name'"),
        (
            "name: a\nhttp_tools:\n  - {name: t, description: d, url: 'https://evil.example/x'}\n",
            "host 'evil.example' is not in allowed_hosts",
        ),
        ("name: a\nbogus: 1\n", ":2:8: bogus: Extra inputs are not permitted"),
    ],
    ids=[
        "max-steps",
        "tool-ref-two-kinds",
        "priority-class",
        "duplicate-key",
        "host-not-allowed",
        "unknown-key",
    ],
)
def test_invalid_agent_reports_position(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_agent(path)
    assert expected in str(err.value)
    assert str(err.value).startswith(str(path))
