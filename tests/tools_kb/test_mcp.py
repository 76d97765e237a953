from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.errors import UpstreamUnavailableError
from tools_kb.mcp_source import tools_from_mcp

SERVER = Path(__file__).parent / "fakes" / "mcp_tool_server.py"


@pytest.mark.slow
async def test_tools_are_listed_from_a_real_stdio_mcp_server() -> None:
    tools = await tools_from_mcp([sys.executable, str(SERVER)], label="test", tenants=["acme"])
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"get_weather", "convert_currency", "search_flights"}
    weather = by_name["get_weather"]
    assert weather.description.startswith("Current weather")
    assert weather.parameters is not None and weather.parameters["required"] == ["city"]
    assert weather.tags == ("mcp:test",)
    assert weather.tenants == frozenset({"acme"})


async def test_unreachable_server_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamUnavailableError):
        await tools_from_mcp([sys.executable, "-c", "raise SystemExit(3)"], label="dead")
