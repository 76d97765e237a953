"""A real MCP server over stdio with three small tools (run as a script by the tests)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("switchboard-test-tools")


@server.tool()
def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather and temperature forecast for a city."""
    return f"sunny in {city}"


@server.tool()
def convert_currency(amount: float, source: str, target: str) -> float:
    """Convert an amount of money between two currencies at today's exchange rate."""
    return amount


@server.tool()
def search_flights(origin: str, destination: str, date: str) -> list[str]:
    """Find flights between two airports on a date."""
    return []


if __name__ == "__main__":
    server.run("stdio")
