"""Load tools from MCP servers' tool lists with the official ``mcp`` client.

``server`` is a Streamable HTTP URL (``http://host:port/mcp``) or a command line for a stdio
server (``["python", "server.py"]``). Every page of ``tools/list`` is read; each MCP tool
becomes a :class:`Tool` (its ``inputSchema`` as ``parameters``), tagged ``mcp:<label>``.
Connection and protocol failures raise :class:`core.errors.UpstreamUnavailableError`; a tool the
server describes badly raises ToolValidationError naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import UpstreamUnavailableError
from tools_kb.tool import Tool, parse_tool


async def tools_from_mcp(
    server: str | Sequence[str],
    *,
    label: str | None = None,
    tenants: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
) -> list[Tool]:
    """Connect, list every tool, disconnect."""
    from mcp import Client, StdioServerParameters

    target: Any
    if isinstance(server, str):
        target = server
        name = label or server
    else:
        target = StdioServerParameters(command=server[0], args=list(server[1:]), env=env)
        name = label or " ".join(server)
    listed: list[Any] = []
    try:
        async with Client(target) as client:
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                listed.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
    except Exception as exc:  # transport / protocol errors of any kind → our error
        raise UpstreamUnavailableError(f"MCP server {name!r}: {type(exc).__name__}: {exc}") from exc
    out: list[Tool] = []
    for item in listed:
        raw: dict[str, Any] = {
            "name": item.name,
            "description": item.description or item.title or "",
            "parameters": item.input_schema or None,
            "tags": [f"mcp:{name}"],
        }
        if tenants is not None:
            raw["tenants"] = list(tenants)
        out.append(parse_tool(raw, where=f"mcp:{name}"))
    return out
