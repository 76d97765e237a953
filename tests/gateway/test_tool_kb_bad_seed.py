"""An invalid file in the seed folder (config/tools/) of an empty catalog: tool search answers 503
(the problems themselves are for admins), chat requests are still served (without KB tools), the admin API keeps
working and clears the problem, and fixing the file seeds the catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway.harness import GatewayServer, fake_config, tool_kb_gateway

pytestmark = pytest.mark.slow

MASTER = "sk-master-bad-seed"
AUTH = {"authorization": f"Bearer {MASTER}"}
BROKEN = "tools:\n  - name: list_things\n    description: Lists things.\n    parameters: {type: array}\n"
FIXED = "tools:\n  - name: list_things\n    description: Lists things.\n    parameters: {type: object}\n"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather and forecast for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def server(prepared_models_dir: Path, tmp_path: Path, fake_upstream: FakeUpstream) -> Iterator[GatewayServer]:
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "mine.yaml").write_text(BROKEN)
    with tool_kb_gateway(
        fake_config(fake_upstream.base_url), tmp_path, master_key=MASTER, models_dir=prepared_models_dir
    ) as gw:
        yield gw


def _search(server: GatewayServer, query: str = "list things") -> httpx.Response:
    return httpx.post(f"{server.url}/v1/tools/search", json={"query": query}, headers=AUTH, timeout=60)


def test_search_is_a_503_that_points_admins_to_the_problems(server: GatewayServer) -> None:
    r = _search(server)
    assert r.status_code == 503, r.text
    err = r.json()["error"]
    assert (err["type"], err["code"]) == ("api_error", "tool_catalog_unavailable")
    assert "GET /admin/tools" in err["message"]
    assert "list_things" not in err["message"]  # tool names and server paths: admins only
    anonymous = httpx.post(f"{server.url}/v1/tools/search", json={"query": "list things"}, timeout=60)
    assert anonymous.status_code == 401, anonymous.text  # who is asking comes first


def test_admin_lists_the_problem_and_readiness_stays_ready(server: GatewayServer) -> None:
    r = httpx.get(f"{server.url}/admin/tools", headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == []
    assert any("mine.yaml:2:5" in p for p in r.json()["problems"])
    assert httpx.get(f"{server.url}/health/readiness", timeout=10).status_code == 200


def test_chat_asking_for_kb_tools_is_served_without_them(
    server: GatewayServer, fake_upstream: FakeUpstream
) -> None:
    own = {
        "type": "function",
        "function": {"name": "mine", "parameters": {"type": "object", "properties": {}}},
    }
    body: dict[str, Any] = {
        "model": "main",
        "tools": [own],
        "messages": [{"role": "user", "content": "list things"}],
    }
    r = httpx.post(
        f"{server.url}/v1/chat/completions",
        json=body,
        headers={**AUTH, "x-switchboard-tool-kb": "1"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    sent = fake_upstream.requests_for("m-fast")[-1].body
    assert isinstance(sent, dict) and sent["tools"] == [own]
    assert r.headers["x-switchboard-tools-kept"] == "mine"


def test_an_admin_upsert_clears_the_problem(server: GatewayServer) -> None:
    r = httpx.post(f"{server.url}/admin/tools", json={"tools": [WEATHER]}, headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    r = _search(server, "weather in Paris")
    assert r.status_code == 200, r.text
    assert [h["name"] for h in r.json()["data"]] == ["get_weather"]
    assert httpx.get(f"{server.url}/admin/tools", headers=AUTH, timeout=60).json()["problems"] == []


def test_fixing_the_file_seeds_the_catalog(server: GatewayServer, tmp_path: Path) -> None:
    assert _search(server).status_code == 503
    (tmp_path / "seed" / "mine.yaml").write_text(FIXED + "# fixed\n")
    r = _search(server)
    assert r.status_code == 200, r.text
    assert [h["name"] for h in r.json()["data"]] == ["list_things"]
