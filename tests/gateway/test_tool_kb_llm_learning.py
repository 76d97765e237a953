"""The tool KB's language-model stages and learning from logs in the served gateway: ``tools.llm``
reranks through the routed backend (a real fake upstream answers as the model), and with
``tools.learn_from_logs`` a conversation's successful tool call teaches the KB its request."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.harness import GatewayServer, fake_config, tool_kb_gateway
from tests.gateway.test_tool_kb_wiring import CATALOG

pytestmark = pytest.mark.slow

MASTER = "sk-master-kb-llm"
AUTH = {"authorization": f"Bearer {MASTER}"}
EXTRA = """  - name: retrieval-helper
    candidates: [fast]
tools:
  llm: {model: retrieval-helper, decompose: false, rerank: true, rerank_depth: 3}
  learn_from_logs: true
"""


@pytest.fixture(scope="module")
def server(prepared_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    fake = FakeUpstream().start()
    try:
        with tool_kb_gateway(fake_config(fake.base_url, extra=EXTRA), tmp_path_factory.mktemp("kbllm"),
                             master_key=MASTER, models_dir=prepared_models_dir) as gw:
            r = httpx.post(f"{gw.url}/admin/tools", json={"tools": CATALOG}, headers=AUTH, timeout=60)
            assert r.status_code == 200, r.text
            gw.fake = fake  # type: ignore[attr-defined]
            yield gw
    finally:
        fake.stop()


def _fake(server: GatewayServer) -> FakeUpstream:
    fake: FakeUpstream = server.fake  # type: ignore[attr-defined]
    return fake


def test_search_is_reranked_by_the_configured_model(server: GatewayServer) -> None:
    fake = _fake(server)
    fake.reset()
    fake.set_default(Reply.ok("3"))  # "the third candidate is the most useful"
    r = httpx.post(f"{server.url}/v1/tools/search", json={"query": "what is the weather in Paris", "k": 3},
                   headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    asked = fake.requests_for("m-fast")
    assert asked, "the rerank prompt did not reach the model"
    prompt = asked[-1].body["messages"][-1]["content"]
    third = re.search(r"^3\. (\w+):", prompt, re.MULTILINE)
    assert third is not None, prompt
    assert r.json()["data"][0]["name"] == third.group(1)


def test_a_failing_model_leaves_search_working(server: GatewayServer) -> None:
    fake = _fake(server)
    fake.reset()
    fake.set_default(Reply.error(500))
    r = httpx.post(f"{server.url}/v1/tools/search", json={"query": "what is the weather in Paris", "k": 2},
                   headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["data"][0]["name"] == "get_weather"


def _learned(server: GatewayServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    m = re.search(r"^switchboard_tool_examples_learned_total (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def _conversation(result: str) -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "convert_currency", "arguments": "{}"}}
    return [{"role": "user", "content": "How many dollars do I get for 250 euros?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": result}]


def test_successful_tool_calls_are_learned_once(server: GatewayServer) -> None:
    fake = _fake(server)
    fake.reset()
    fake.set_default(Reply.ok("You get about 270 dollars."))
    before = _learned(server)
    for result in ('{"error": "rates unavailable"}', '{"amount": 270.1}', '{"amount": 270.1}'):
        r = httpx.post(f"{server.url}/v1/chat/completions", headers=AUTH, timeout=60,
                       json={"model": "main", "messages": _conversation(result)})
        assert r.status_code == 200, r.text
    deadline = time.monotonic() + 20
    while _learned(server) < before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the duplicate is not counted again
    assert _learned(server) == before + 1
