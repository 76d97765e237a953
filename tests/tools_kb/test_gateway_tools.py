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
from tools_kb.tool import Tool, ToolValidationError


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
    assert r.json()["decomposition"] in {"all", "connectives", "none"}


async def test_search_respects_tenant(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/tools/search", json={"query": "payroll", "k": 20, "tenant": "globex"})
    names = {d["name"] for d in r.json()["data"]}
    assert "globex_payroll_export" in names and "acme_internal_payroll" not in names


async def test_bad_search_body_is_a_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/tools/search", json={"query": "", "k": 0})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


BAD_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("missing", {"k": 3}),
    ("empty", {"query": ""}),
    ("not-a-string", {"query": 5}),
    ("blank", {"query": "   "}),
]


@pytest.mark.parametrize("body", [b[1] for b in BAD_QUERIES], ids=[b[0] for b in BAD_QUERIES])
async def test_bad_query_is_a_400_naming_query(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    r = await client.post("/v1/tools/search", json=body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert (err["type"], err["param"]) == ("invalid_request_error", "query")
    assert "'query'" in err["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"query": "x", "k": "3"}, "k"),
        ({"query": "x", "k": True}, "k"),
        ({"query": "x", "adaptive": "yes"}, "adaptive"),
    ],
    ids=["k-string", "k-bool", "adaptive-string"],
)
async def test_wrong_types_are_not_coerced(
    client: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    r = await client.post("/v1/tools/search", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


async def test_search_is_a_503_while_the_catalog_cannot_serve_and_admin_lists_why(kb: ToolKB) -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(tools_api(kb, problems=lambda: ["config/tools/mine.yaml:3:5: tools[0]: broken"]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/v1/tools/search", json={"query": "weather"})
        listed = await c.get("/admin/tools")
    assert r.status_code == 503
    err = r.json()["error"]
    assert err["code"] == "tool_catalog_unavailable" and "GET /admin/tools" in err["message"]
    assert "mine.yaml" not in err["message"]  # file paths and tool names are for admins only
    assert listed.status_code == 200
    assert listed.json()["problems"] == ["config/tools/mine.yaml:3:5: tools[0]: broken"]


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
    assert (
        r.json()["error"]["message"]
        == "tool 'broken': tools[1].parameters.type: must be 'object', got 'string'"
    )
    assert (kb.version, len(await kb.tools())) == before


PARAM_OF_BAD_ENTRY: list[tuple[str, dict[str, Any], str]] = [
    ("flat", {"name": "broken", "parameters": {"type": "string"}}, "tools[1].parameters.type"),
    (
        "chat-completions",
        {"type": "function", "function": {"name": "broken", "parameters": {"type": "string"}}},
        "tools[1].function.parameters.type",
    ),
    ("empty-tenants", {"name": "hidden", "tenants": []}, "tools[1].tenants"),
    ("description-too-long", {"name": "huge", "description": "x" * 20_000}, "tools[1].description"),
    ("name-twice", {"name": "fine", "description": "again"}, "tools[1].name"),
]


@pytest.mark.parametrize(
    ("bad", "param"), [(c[1], c[2]) for c in PARAM_OF_BAD_ENTRY], ids=[c[0] for c in PARAM_OF_BAD_ENTRY]
)
async def test_invalid_upsert_param_names_the_list_entry(
    client: httpx.AsyncClient, kb: ToolKB, bad: dict[str, Any], param: str
) -> None:
    before = (kb.version, len(await kb.tools()))
    r = await client.post("/admin/tools", json={"tools": [{"name": "fine", "description": "ok"}, bad]})
    assert r.status_code == 400
    err = r.json()["error"]
    assert (err["type"], err["param"]) == ("invalid_request_error", param)
    assert f": {param}: " in err["message"]
    assert (kb.version, len(await kb.tools())) == before


async def test_strict_is_kept_by_admin_and_search(client: httpx.AsyncClient) -> None:
    params = {"type": "object", "properties": {"size": {"type": "string"}}, "required": ["size"]}
    tool = {
        "type": "function",
        "function": {
            "name": "orderPizza",
            "description": "Order a pizza for delivery",
            "parameters": params,
            "strict": True,
        },
    }
    assert (await client.post("/admin/tools", json={"tools": [tool]})).status_code == 200
    listed = {t["name"]: t for t in (await client.get("/admin/tools")).json()["data"]}
    assert listed["orderPizza"]["strict"] is True and "strict" not in listed["sendEmail"]
    r = await client.post("/v1/tools/search", json={"query": "order a pizza delivery", "k": 1})
    assert r.json()["data"][0]["tool"] == tool


async def test_responses_style_tool_is_accepted(client: httpx.AsyncClient) -> None:
    tool = {
        "type": "function",
        "name": "resp_style",
        "description": "Order a pizza for delivery",
        "parameters": {"type": "object", "properties": {}},
        "strict": False,
    }
    assert (await client.post("/admin/tools", json={"tools": [tool]})).status_code == 200
    listed = {t["name"]: t for t in (await client.get("/admin/tools")).json()["data"]}
    assert listed["resp_style"]["strict"] is False


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


REPEATS: list[tuple[str, Any, str]] = [
    ("chat-completions", lambda t: t.openai_schema(), "tools[12].function.name"),
    (
        "responses",
        lambda t: {"type": "function", "name": t.name, "description": t.description},
        "tools[12].name",
    ),
]


@pytest.mark.parametrize(("form", "param"), [(r[1], r[2]) for r in REPEATS], ids=[r[0] for r in REPEATS])
async def test_a_repeated_function_name_is_a_400_naming_both_places(
    catalog: list[Tool], form: Any, param: str
) -> None:
    body = _body(catalog, "What is the weather forecast in Oslo?")
    body["tools"] = [form(t) for t in catalog] + [form(catalog[0])]
    with pytest.raises(ToolValidationError) as info:
        await ToolSelector(HashingEmbedder()).select(body, Policy(name="p", candidates=("m",), max_tools=3))
    assert info.value.param == param
    assert (
        info.value.message == f"tool 'getWeatherForecast': {param}: duplicate function name (also tools[0])"
    )


async def test_a_repeated_function_name_is_a_400_when_kb_tools_are_added(
    catalog: list[Tool], kb: ToolKB
) -> None:
    body = _body(catalog[:2] + catalog[:1], "convert 20 euros to yen currency")
    with pytest.raises(ToolValidationError) as info:
        await ToolSelector(HashingEmbedder(), kb).select(
            body, Policy(name="p", candidates=("m",), max_tools=4), headers={KB_HEADER: "1"}
        )
    assert info.value.param == "tools[2].function.name"


async def test_responses_style_request_tools_are_ranked(catalog: list[Tool]) -> None:
    body = _body(catalog, "What is the weather forecast in Oslo?")
    body["tools"] = [
        {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
        for t in catalog
    ]
    result = await ToolSelector(HashingEmbedder()).select(
        body, Policy(name="p", candidates=("m",), max_tools=3)
    )
    assert result.kept[0] == "getWeatherForecast"
    assert result.body["tools"][0] == body["tools"][0]


async def test_kb_tools_are_added_when_the_header_asks(kb: ToolKB) -> None:
    selector = ToolSelector(HashingEmbedder(), kb)
    body = {"model": "auto", "messages": [{"role": "user", "content": "convert 20 euros to yen currency"}]}
    body["tools"] = []
    result = await selector.select(
        body, Policy(name="p", candidates=("m",), max_tools=4), headers={KB_HEADER: "1"}, tenant=None
    )
    assert result.reason == "kb" and result.kept[0] == "convert_currency" and result.added >= 1
