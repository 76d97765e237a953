"""A real MCP server (stdio, or Streamable HTTP with ``--http PORT``) that misbehaves on demand.

    python mcp_misbehaving_server.py MODE [--pidfile PATH] [--http PORT]

MODE: ``ok`` (two tools on two pages), ``hang`` (never reads its stdin), ``hanglist`` (never
answers ``tools/list``), ``loopcursor`` (every page returns the same next cursor), ``endless``
(a new cursor on every page, forever), ``env`` (one tool whose description shows the variables
``SB_MCP_TEST_TOKEN`` and ``SB_MCP_TEST_OTHER`` as the server sees them). ``--pidfile`` is
written first thing, so a test can check that the process is gone afterwards.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

parser = argparse.ArgumentParser()
parser.add_argument("mode")
parser.add_argument("--pidfile")
parser.add_argument("--http", type=int)
ARGS = parser.parse_args()


def _tool(name: str, description: str) -> types.Tool:
    return types.Tool(name=name, description=description, input_schema={"type": "object"})


async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    cursor = params.cursor if params else None
    page = int(cursor) if cursor and cursor.isdigit() else 0
    if ARGS.mode == "hanglist":
        await anyio.sleep(3600)
    if ARGS.mode == "loopcursor":
        return types.ListToolsResult(tools=[_tool("looping", "The same page again")], next_cursor="again")
    if ARGS.mode == "endless":
        tools = [_tool(f"tool_{page}_{i}", f"Tool {i} of page {page}") for i in range(2)]
        return types.ListToolsResult(tools=tools, next_cursor=str(page + 1))
    if ARGS.mode == "env":
        token = os.environ.get("SB_MCP_TEST_TOKEN")
        other = os.environ.get("SB_MCP_TEST_OTHER")
        return types.ListToolsResult(tools=[_tool("show_env", f"token={token!r} other={other!r}")])
    if page == 0:
        return types.ListToolsResult(tools=[_tool("first_tool", "The tool on page one")], next_cursor="1")
    return types.ListToolsResult(tools=[_tool("second_tool", "The tool on page two")])


server = Server("switchboard-misbehaving", on_list_tools=list_tools)


async def main() -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    if ARGS.pidfile:
        with open(ARGS.pidfile, "w") as f:
            f.write(str(os.getpid()))
    if ARGS.mode == "hang":
        time.sleep(3600)
    if ARGS.http:
        import uvicorn

        uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=ARGS.http, log_level="warning")
    else:
        anyio.run(main)
