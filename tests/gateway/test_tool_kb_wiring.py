"""The tool knowledge base in the served gateway (gateway.tool_kb, gateway.wiring): /v1/tools/search
and /admin/tools over a real app, and tool selection on the chat path reaching the fake upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway.harness import GatewayServer, fake_config, tool_kb_gateway

pytestmark = pytest.mark.slow

MASTER = "sk-master-tools-test"
AUTH = {"authorization": f"Bearer {MASTER}"}

CATALOG = [
    {"name": "get_weather", "description": "Current weather and forecast for a city.",
     "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                    "required": ["city"]}, "tags": ["weather"]},
    {"name": "convert_currency", "description": "Convert an amount of money between two currencies.",
     "parameters": {"type": "object", "properties": {"amount": {"type": "number"}, "source": {"type": "string"},
                                                     "target": {"type": "string"}}}, "tags": ["finance"]},
    {"name": "send_email", "description": "Send an email message to one recipient.",
     "parameters": {"type": "object", "properties": {"to": {"type": "string"}, "body": {"type": "string"}}},
     "tags": ["mail"]},
]

TOPICS = ["weather forecast", "currency exchange", "email message", "flight booking", "hotel room", "stock price",
          "calendar event", "translate text", "news headlines", "restaurant table", "movie tickets", "train times",
          "package tracking", "recipe search", "music playlist", "bank balance", "parking spot", "taxi ride",
          "pharmacy hours", "gym class", "library book", "doctor appointment", "car rental", "tax return",
          "podcast episode", "sports score", "dictionary word", "time zone", "unit conversion", "shopping list",
          "weather alerts", "air quality", "lottery results", "job listings", "real estate", "pet adoption",
          "wine pairing", "bike share", "museum hours", "concert tickets"]


def _tool(i: int, topic: str) -> dict[str, Any]:
    name = f"tool_{i:02d}_{topic.replace(' ', '_')}"
    return {"type": "function", "function": {
        "name": name, "description": f"Look up {topic} information.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": topic}}}}}


@pytest.fixture(scope="module")
def server(prepared_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    fake = FakeUpstream().start()
    try:  # empty seed folder: the tests upsert their own catalog
        with tool_kb_gateway(fake_config(fake.base_url), tmp_path_factory.mktemp("tools"), master_key=MASTER,
                             models_dir=prepared_models_dir) as gw:
            gw.fake = fake  # type: ignore[attr-defined]
            yield gw
    finally:
        fake.stop()


@pytest.fixture
def fake(server: GatewayServer) -> FakeUpstream:
    up: FakeUpstream = server.fake  # type: ignore[attr-defined]
    up.reset()
    return up


def _upsert(server: GatewayServer) -> None:
    r = httpx.post(f"{server.url}/admin/tools", json={"tools": CATALOG}, headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text


def _chat(server: GatewayServer, tools: list[dict[str, Any]] | None, text: str,
          headers: dict[str, str] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"model": "main", "messages": [{"role": "user", "content": text}]}
    if tools is not None:
        body["tools"] = tools
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, headers={**AUTH, **(headers or {})},
                      timeout=60)


def _sent_tools(fake: FakeUpstream) -> list[str]:
    sent = fake.requests_for("m-fast")
    assert sent, "nothing reached the upstream"
    body = sent[-1].body
    assert isinstance(body, dict)
    return [t["function"]["name"] for t in body.get("tools", [])]


def test_search_after_admin_upsert(server: GatewayServer) -> None:
    _upsert(server)
    r = httpx.post(f"{server.url}/v1/tools/search", json={"query": "what is the weather in Paris", "k": 2},
                   headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data[0]["name"] == "get_weather"
    assert all(isinstance(h["score"], float) for h in data)
    assert len(data) == 2


def test_a_virtual_key_searches_as_its_own_tenant_only(server: GatewayServer) -> None:
    private = {"name": "globex_ledger", "description": "Export the Globex payroll ledger.", "tenants": ["globex"]}
    r = httpx.post(f"{server.url}/admin/tools", json={"tools": [private]}, headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    key = httpx.post(f"{server.url}/admin/keys", json={"tenant": "acme"}, headers=AUTH, timeout=10).json()["key"]
    as_acme = {"authorization": f"Bearer {key}"}
    body = {"query": "export the payroll ledger", "k": 5}
    own = httpx.post(f"{server.url}/v1/tools/search", json=body, headers=as_acme, timeout=60)
    assert own.status_code == 200 and "globex_ledger" not in [h["name"] for h in own.json()["data"]]
    other = httpx.post(f"{server.url}/v1/tools/search", json={**body, "tenant": "globex"}, headers=as_acme,
                       timeout=60)
    assert other.status_code == 403, other.text  # a valid key, not allowed: not a 401
    assert other.json()["error"]["code"] == "permission_denied"
    master = httpx.post(f"{server.url}/v1/tools/search", json={**body, "tenant": "globex"}, headers=AUTH,
                        timeout=60)
    assert master.json()["data"][0]["name"] == "globex_ledger"


def test_admin_needs_master_key(server: GatewayServer) -> None:
    r = httpx.get(f"{server.url}/admin/tools", headers={"authorization": "Bearer sk-wrong"}, timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["type"]


def test_bad_tool_is_400_and_catalog_unchanged(server: GatewayServer) -> None:
    _upsert(server)
    before = httpx.get(f"{server.url}/admin/tools", headers=AUTH, timeout=10).json()
    bad = {"name": "broken_tool", "description": "x", "parameters": {"type": "array"}}
    ok = {"name": "fine_tool", "description": "fine", "parameters": {"type": "object", "properties": {}}}
    r = httpx.post(f"{server.url}/admin/tools", json={"tools": [ok, bad]}, headers=AUTH, timeout=10)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert "broken_tool" in err["message"] and "parameters.type" in err["message"]
    assert err["type"] == "invalid_request_error"
    after = httpx.get(f"{server.url}/admin/tools", headers=AUTH, timeout=10).json()
    assert after == before


def test_forty_tools_cut_to_max_tools(server: GatewayServer, fake: FakeUpstream) -> None:
    tools = [_tool(i, t) for i, t in enumerate(TOPICS)]
    r = _chat(server, tools, "Will it rain tomorrow? Show me the weather forecast for Lyon.")
    assert r.status_code == 200, r.text
    sent = _sent_tools(fake)
    assert len(sent) == 16
    kept = r.headers["x-switchboard-tools-kept"].split(",")
    assert kept == sent
    assert "tool_00_weather_forecast" in sent
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert 'switchboard_tool_selection_tools_total{outcome="dropped",policy="main"}' in metrics


def test_kb_header_adds_kb_tools(server: GatewayServer, fake: FakeUpstream) -> None:
    _upsert(server)
    r = _chat(server, None, "Convert 100 euros to dollars", headers={"x-switchboard-tool-kb": "1"})
    assert r.status_code == 200, r.text
    sent = _sent_tools(fake)
    assert "convert_currency" in sent
    assert "convert_currency" in r.headers["x-switchboard-tools-kept"].split(",")


def test_few_tools_pass_untouched(server: GatewayServer, fake: FakeUpstream) -> None:
    tools = [_tool(i, t) for i, t in enumerate(TOPICS[:3])]
    r = _chat(server, tools, "What is the weather?")
    assert r.status_code == 200, r.text
    body = fake.requests_for("m-fast")[-1].body
    assert isinstance(body, dict)
    assert body["tools"] == tools
    assert "x-switchboard-tools-kept" not in r.headers


def test_a_repeated_tool_name_is_a_400_naming_both_places(server: GatewayServer, fake: FakeUpstream) -> None:
    tools = [_tool(i, t) for i, t in enumerate(TOPICS[:19])] + [_tool(0, TOPICS[0])]
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=MASTER, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="main", messages=[{"role": "user", "content": "Weather in Oslo?"}],
                                       tools=tools)  # type: ignore[arg-type]
    assert info.value.param == "tools[19].function.name"
    assert "duplicate function name (also tools[0])" in info.value.message
    assert not fake.requests_for("m-fast")


def test_kb_tool_keeps_strict_on_its_way_upstream(server: GatewayServer, fake: FakeUpstream) -> None:
    strict_tool = {"name": "book_table", "description": "Book a restaurant table for dinner.", "strict": True,
                   "parameters": {"type": "object", "properties": {"people": {"type": "integer"}},
                                  "required": ["people"], "additionalProperties": False}}
    r = httpx.post(f"{server.url}/admin/tools", json={"tools": [strict_tool]}, headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    r = _chat(server, None, "Book a restaurant table for dinner for four", headers={"x-switchboard-tool-kb": "1"})
    assert r.status_code == 200, r.text
    body = fake.requests_for("m-fast")[-1].body
    assert isinstance(body, dict)
    sent = {t["function"]["name"]: t["function"] for t in body["tools"]}
    assert sent["book_table"]["strict"] is True


def _pinned_chat(server: GatewayServer, tools: list[dict[str, Any]], first: str, second: str) -> httpx.Response:
    """A chat over ``tools`` that forces ``first`` and has already called ``second`` (both kept)."""
    called = {"id": "c1", "type": "function", "function": {"name": second, "arguments": "{}"}}
    body: dict[str, Any] = {
        "model": "main", "tools": tools, "tool_choice": {"type": "function", "function": {"name": first}},
        "messages": [{"role": "user", "content": "Weather forecast for Lyon?"},
                     {"role": "assistant", "content": None, "tool_calls": [called]},
                     {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=AUTH, timeout=60)


def test_kept_header_percent_encodes_each_name(server: GatewayServer, fake: FakeUpstream) -> None:
    tools = [_tool(i, t) for i, t in enumerate(TOPICS[:17])]
    tools[5]["function"]["name"], tools[9]["function"]["name"] = "a,b", "查询天气"
    r = _pinned_chat(server, tools, "a,b", "查询天气")
    assert r.status_code == 200, r.text
    sent = _sent_tools(fake)
    listed = r.headers["x-switchboard-tools-kept"].split(",")
    assert listed[:2] == ["a%2Cb", "%E6%9F%A5%E8%AF%A2%E5%A4%A9%E6%B0%94"]
    assert [unquote(n) for n in listed] == sent
    assert r.headers["x-switchboard-tools-kept-count"] == "16"


def test_kept_header_cut_says_how_many_were_kept(server: GatewayServer, fake: FakeUpstream) -> None:
    tools = [_tool(i, t) for i, t in enumerate(TOPICS[:17])]
    for i, tool in enumerate(tools):  # 256 characters, 2,304 bytes encoded: one name fills the header
        tool["function"]["name"] = chr(0x4E00 + i) * 256
    r = _pinned_chat(server, tools, tools[3]["function"]["name"], tools[4]["function"]["name"])
    assert r.status_code == 200, r.text
    sent = _sent_tools(fake)
    listed = r.headers["x-switchboard-tools-kept"].split(",")
    assert len(r.headers["x-switchboard-tools-kept"]) <= 4096
    assert [unquote(n) for n in listed] == sent[: len(listed)] and len(listed) < len(sent)
    assert r.headers["x-switchboard-tools-kept-count"] == str(len(sent)) == "16"
