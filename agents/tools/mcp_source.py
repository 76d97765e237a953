"""Tools from an MCP server (official ``mcp`` package, stdio transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from agents.spec import McpServerSpec
from agents.tools.base import ToolCallError, ToolContext


class McpTool:
    def __init__(
        self, server: str, session: ClientSession, name: str, description: str, parameters: Mapping[str, Any]
    ) -> None:
        self._server = server
        self._session = session
        self._name = name
        self._description = description
        self._parameters = dict(parameters)

    @property
    def name(self) -> str:
        return self._name

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self._name,
                "description": self._description,
                "parameters": self._parameters,
            },
        }

    async def call(self, arguments: Mapping[str, Any], ctx: ToolContext) -> str:
        try:
            # the key travels in the arguments' sibling ``_meta`` only for servers that read it;
            # stdio MCP tools are local, so the ledger's at-most-once gate is what protects them
            result = await self._session.call_tool(self._name, dict(arguments))
        except Exception as exc:
            raise ToolCallError(f"mcp tool {self._server}/{self._name} failed: {type(exc).__name__}") from exc
        content = getattr(result, "content", None) or []
        text = "\n".join(getattr(c, "text", "") for c in content if getattr(c, "type", "") == "text")
        if getattr(result, "is_error", None) or getattr(result, "isError", None):
            raise ToolCallError(f"mcp tool {self._server}/{self._name}: {text[:500]}")
        return text


@asynccontextmanager
async def mcp_tools(spec: McpServerSpec) -> AsyncIterator[list[McpTool]]:
    """Start the server, list its tools, yield them; the server stops on exit."""
    params = StdioServerParameters(command=spec.command[0], args=spec.command[1:], env=spec.env or None)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = await session.list_tools()
        yield [
            McpTool(
                spec.name,
                session,
                t.name,
                t.description or "",
                getattr(t, "input_schema", None) or getattr(t, "inputSchema", None) or {},
            )
            for t in listed.tools
        ]
