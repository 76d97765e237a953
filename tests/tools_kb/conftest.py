from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.loaders import load_tools_file
from tools_kb.tool import Tool

DATA = Path(__file__).parent / "data"


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def catalog() -> list[Tool]:
    return load_tools_file(DATA / "catalog.jsonl")
