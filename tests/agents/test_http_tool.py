"""HTTP tools: a real loopback server; allow-listed hosts only; Idempotency-Key sent; bad
arguments never leave the process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from agents.spec import HttpToolSpec
from agents.tools import ToolCallError, ToolContext
from agents.tools.http import HttpTool

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        headers = {
            k.lower(): v for k, v in (line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        seen.append(headers | {"body": body.decode()})
        payload = json.dumps({"weather": "sunny", "city": json.loads(body)["city"]}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(payload)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + payload
        )
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield f"http://127.0.0.1:{port}/weather", seen


CTX = ToolContext(idempotency_key="thread-1:call_7", run_id="run-1", thread_id="thread-1")


async def test_calls_with_idempotency_key(server: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = server
    async with httpx.AsyncClient() as client:
        tool = HttpTool(
            HttpToolSpec(name="weather", description="d", url=url, parameters=SCHEMA), ["127.0.0.1"], client
        )
        out = await tool.call({"city": "Oslo"}, CTX)
    assert json.loads(out) == {"weather": "sunny", "city": "Oslo"}
    assert seen[0]["idempotency-key"] == "thread-1:call_7"


async def test_invalid_arguments_are_refused_before_any_request(
    server: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = server
    async with httpx.AsyncClient() as client:
        tool = HttpTool(
            HttpToolSpec(name="weather", description="d", url=url, parameters=SCHEMA), ["127.0.0.1"], client
        )
        with pytest.raises(ToolCallError, match="invalid arguments"):
            await tool.call({"town": "Oslo"}, CTX)
    assert seen == []


async def test_host_not_allow_listed_is_refused() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ValueError, match="not allow-listed"):
            HttpTool(
                HttpToolSpec(name="t", description="d", url="http://169.254.169.254/x"), ["127.0.0.1"], client
            )
