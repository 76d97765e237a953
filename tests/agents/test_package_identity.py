"""`agents` is also the OpenAI Agents SDK's import name: make sure ours is the one imported."""

from pathlib import Path

import agents

REPO = Path(__file__).resolve().parents[2]


def test_agents_package_is_this_repository() -> None:
    assert agents.__file__ is not None
    assert Path(agents.__file__).resolve().is_relative_to(REPO)
