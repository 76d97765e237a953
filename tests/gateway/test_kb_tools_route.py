"""A request that asks for KB tools (and carries none) is routed as a tool-calling request: the
deployment that answers must declare the ``tools`` capability."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway.harness import GatewayServer, tool_kb_gateway

pytestmark = pytest.mark.slow

MASTER = "sk-master-kb-route"
AUTH = {"authorization": f"Bearer {MASTER}"}
TOOL = {"name": "convert_currency", "description": "Convert an amount of money between two currencies.",
        "parameters": {"type": "object", "properties": {"amount": {"type": "number"},
                                                        "target": {"type": "string"}}}}


def _config(base_url: str) -> str:
    return f"""
deployments:
  - {{name: plain, kind: openai_compatible, base_url: "{base_url}", model: m-plain, capabilities: [streaming]}}
  - {{name: tooly, kind: openai_compatible, base_url: "{base_url}", model: m-tooly,
      capabilities: [streaming, tools]}}
policies:
  - name: main
    candidates: [plain, tooly]
"""


@pytest.fixture(scope="module")
def server(prepared_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    fake = FakeUpstream().start()
    try:
        with tool_kb_gateway(_config(fake.base_url), tmp_path_factory.mktemp("kbroute"), master_key=MASTER,
                             models_dir=prepared_models_dir) as gw:
            r = httpx.post(f"{gw.url}/admin/tools", json={"tools": [TOOL]}, headers=AUTH, timeout=60)
            assert r.status_code == 200, r.text
            gw.fake = fake  # type: ignore[attr-defined]
            yield gw
    finally:
        fake.stop()


def _chat(server: GatewayServer, headers: dict[str, str]) -> httpx.Response:
    body: dict[str, Any] = {"model": "main", "messages": [{"role": "user", "content": "Convert 100 EUR to USD"}]}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, headers={**AUTH, **headers}, timeout=60)


def test_without_tools_the_first_candidate_answers(server: GatewayServer) -> None:
    r = _chat(server, {})
    assert r.status_code == 200, r.text
    assert r.headers["x-switchboard-deployment"] == "plain"


def test_kb_tools_route_to_a_tool_capable_deployment(server: GatewayServer) -> None:
    r = _chat(server, {"x-switchboard-tool-kb": "1"})
    assert r.status_code == 200, r.text
    assert r.headers["x-switchboard-deployment"] == "tooly"
    assert r.headers["x-switchboard-tools-kept"] == "convert_currency"
    fake: FakeUpstream = server.fake  # type: ignore[attr-defined]
    body = fake.requests_for("m-tooly")[-1].body
    assert isinstance(body, dict)
    assert [t["function"]["name"] for t in body["tools"]] == ["convert_currency"]
