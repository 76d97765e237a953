"""The tools HTTP API and chat-path tool selection, served by a real ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from core.config.models import Policy
from gateway.http_errors import install_error_handlers
from gateway.tool_request import KB_HEADER
from gateway.tool_selection import ToolSelector
from gateway.tools_api import tools_api
from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.catalog import SqliteCatalogStore
from tools_kb.kb import ToolKB
from tools_kb.tool import Tool


@pytest.fixture
async def kb(tmp_path: Path, catalog: list[Tool]) -> AsyncIterator[ToolKB]:
    async with ToolKB(SqliteCatalogStore(tmp_path / "tools.sqlite"), HashingEmbedder()) as store:
        await store.upsert(catalog)
        yield store


@pytest.fixture
async def client(kb: ToolKB) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(tools_api(kb))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def test_search_returns_hits_with_scores(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/tools/search", json={"query": "weather forecast in Rome", "k": 2})
    assert r.status_code == 200
    data = r.json()["data"]
    assert [d["name"] for d in data][0] == "getWeatherForecast"
    assert data[0]["score"] >= data[1]["score"]
    assert data[0]["tool"]["function"]["name"] == "getWeatherForecast"


async def test_search_respects_tenant(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/tools/search", json={"query": "payroll", "k": 20, "tenant": "globex"})
    names = {d["name"] for d in r.json()["data"]}
    assert "globex_payroll_export" in names and "acme_internal_payroll" not in names


async def test_bad_search_body_is_a_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/tools/search", json={"query": "", "k": 0})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


async def test_admin_upsert_then_search_finds_the_new_tool(client: httpx.AsyncClient) -> None:
    tool = {"name": "orderPizza", "description": "Order a pizza for delivery", "parameters": None}
    r = await client.post("/admin/tools", json={"tools": [tool]})
    assert r.status_code == 200
    r = await client.post("/v1/tools/search", json={"query": "order a pizza delivery", "k": 1})
    assert r.json()["data"][0]["name"] == "orderPizza"


async def test_search_says_which_hit_needs_a_prerequisite(client: httpx.AsyncClient) -> None:
    token = {"type": "object", "properties": {"token": {"type": "string"}}}
    login = {"type": "object", "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}
    tools = [
        {"name": "CloseAccount", "description": "Close an account for good", "parameters": token},
        {"name": "GetUserToken", "description": "Log in with a username and password", "parameters": login},
    ]
    assert (await client.post("/admin/tools", json={"tools": tools})).status_code == 200
    r = await client.post("/v1/tools/search", json={"query": "please close my account", "k": 2})
    data = r.json()["data"]
    assert [(d["name"], d["needed_by"]) for d in data] == [
        ("CloseAccount", None),
        ("GetUserToken", "CloseAccount"),
    ]


async def test_invalid_upsert_names_tool_and_field_and_loses_nothing(
    client: httpx.AsyncClient, kb: ToolKB
) -> None:
    before = (kb.version, len(await kb.tools()))
    good = {"name": "fine", "description": "ok"}
    bad = {"name": "broken", "parameters": {"type": "string"}}
    r = await client.post("/admin/tools", json={"tools": [good, bad]})
    assert r.status_code == 400
    assert "tool 'broken': parameters.type" in r.json()["error"]["message"]
    assert (kb.version, len(await kb.tools())) == before


async def test_admin_remove_unknown_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.delete("/admin/tools/nope")).status_code == 404


async def test_admin_remove_drops_the_tool(client: httpx.AsyncClient, kb: ToolKB) -> None:
    assert (await client.delete("/admin/tools/sendEmail")).status_code == 200
    assert kb.index.get("sendEmail") is None


def _body(tools: list[Tool], prompt: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "auto",
        "messages": [{"role": "user", "content": prompt}],
        "tools": [t.openai_schema() for t in tools],
        **extra,
    }


async def test_selection_is_a_no_op_under_max_tools(catalog: list[Tool]) -> None:
    selector = ToolSelector(HashingEmbedder())
    body = _body(catalog[:3], "weather")
    result = await selector.select(body, Policy(name="p", candidates=("m",)))
    assert result.body is body and result.reason == "none"


async def test_selection_keeps_the_relevant_top_k_when_over_max_tools(catalog: list[Tool]) -> None:
    selector = ToolSelector(HashingEmbedder())
    body = _body(catalog, "What is the weather forecast in Oslo?")
    result = await selector.select(body, Policy(name="p", candidates=("m",), max_tools=3))
    assert result.reason == "max_tools"
    assert len(result.body["tools"]) == 3 and result.kept[0] == "getWeatherForecast"
    assert result.dropped == len(catalog) - 3


async def test_selection_keeps_the_login_tool_a_kept_tool_needs(catalog: list[Tool]) -> None:
    token = {"type": "object", "properties": {"token": {"type": "string"}}}
    login = {"type": "object", "properties": {"username": {"type": "string"}}}
    own = [
        *catalog,
        Tool("CloseAccount", "Close an account for good", token),
        Tool("GetUserToken", "Log in with a username and password", login),
    ]
    selector = ToolSelector(HashingEmbedder())
    result = await selector.select(
        _body(own, "Please close my account"), Policy(name="p", candidates=("m",), max_tools=2)
    )
    assert result.kept == ("CloseAccount", "GetUserToken")


async def test_forced_and_previously_called_tools_are_kept(catalog: list[Tool]) -> None:
    selector = ToolSelector(HashingEmbedder())
    body = _body(
        catalog,
        "What is the weather forecast in Oslo?",
        tool_choice={"type": "function", "function": {"name": "findRecipes"}},
    )
    body["messages"].insert(
        0,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "sendEmail", "arguments": "{}"}}
            ],
        },
    )
    result = await selector.select(body, Policy(name="p", candidates=("m",), max_tools=3))
    assert result.kept[:2] == ("findRecipes", "sendEmail")
    assert "getWeatherForecast" in result.kept


async def test_kb_tools_are_added_when_the_header_asks(kb: ToolKB) -> None:
    selector = ToolSelector(HashingEmbedder(), kb)
    body = {"model": "auto", "messages": [{"role": "user", "content": "convert 20 euros to yen currency"}]}
    body["tools"] = []
    result = await selector.select(
        body, Policy(name="p", candidates=("m",), max_tools=4), headers={KB_HEADER: "1"}, tenant=None
    )
    assert result.reason == "kb" and result.kept[0] == "convert_currency" and result.added >= 1
