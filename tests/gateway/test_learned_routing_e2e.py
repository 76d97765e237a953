"""The served gateway routes with the shipped default router (as `switchboard serve` wires it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from gateway.wiring import default_hooks
from tests.fakes.upstream import FakeUpstream
from tests.gateway.harness import GatewayServer

pytestmark = pytest.mark.slow


def learned_config(base_url: str) -> str:
    return f"""
deployments:
  - {{name: strong, kind: openai_compatible, base_url: "{base_url}", model: gpt-4o,
      capabilities: [streaming, tools]}}
  - {{name: weak, kind: openai_compatible, base_url: "{base_url}", model: gpt-4o-mini,
      capabilities: [streaming, tools]}}
  - {{name: edge, kind: openai_compatible, base_url: "{base_url}", model: smollm2-135m-instruct, tier: edge,
      price: {{input_per_mtok: 0, output_per_mtok: 0}}}}
policies:
  - name: smart
    aliases: [auto]
    candidates: [strong, weak, edge]
    router: {{kind: learned, path: default}}
    cost_weight: 20
  - name: always-strong
    candidates: [strong, weak]
    router: {{kind: learned, path: default, params: {{strong: strong, weak: weak, threshold: 0.0}}}}
  - name: always-weak
    candidates: [strong, weak]
    router: {{kind: learned, path: default, params: {{strong: strong, weak: weak, threshold: 1.01}}}}
  - name: cascade-keep
    candidates: [strong, edge]
    cascade: true
    router: {{kind: learned, path: default, params: {{cascade_threshold: 0.0}}}}
  - name: cascade-escalate
    candidates: [strong, edge]
    cascade: true
    router: {{kind: learned, path: default, params: {{cascade_threshold: 1.01}}}}
"""


@pytest.fixture(scope="module")
def server(prepared_models_dir: Path, _fake_upstream_session: FakeUpstream) -> Iterator[GatewayServer]:
    with GatewayServer(learned_config(_fake_upstream_session.base_url), hooks=default_hooks(),
                       models_dir=prepared_models_dir) as srv:
        yield srv


def ask(server: GatewayServer, model: str, prompt: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/chat/completions", headers=headers, timeout=30,
                      json={"model": model, "messages": [{"role": "user", "content": prompt}]})


def test_learned_policy_scores_candidates_and_says_why(server: GatewayServer) -> None:
    client = OpenAI(base_url=f"{server.url}/v1", api_key="sk-anything")
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Prove that the square root of 2 is irrational."}])
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-switchboard-deployment"] in {"strong", "weak", "edge"}
    assert raw.headers["x-switchboard-route-reason"].startswith("router=learned")


@pytest.mark.parametrize(("policy", "expected"), [
    pytest.param("always-strong", "strong", id="threshold-0-goes-strong"),
    pytest.param("always-weak", "weak", id="threshold-above-1-goes-weak"),
])
def test_strong_weak_threshold_mode(server: GatewayServer, policy: str, expected: str) -> None:
    resp = ask(server, policy, "What is the capital of France?")
    assert resp.status_code == 200
    assert resp.headers["x-switchboard-deployment"] == expected
    assert "strong_needed=" in resp.headers["x-switchboard-route-reason"]


def test_caller_tier_header_keeps_the_request_on_the_edge(server: GatewayServer) -> None:
    resp = ask(server, "auto", "Write a haiku about routers.", **{"x-switchboard-tier": "edge"})
    assert resp.status_code == 200
    assert resp.headers["x-switchboard-deployment"] == "edge"


def test_unmeetable_cost_cap_is_a_503_naming_the_constraint(server: GatewayServer) -> None:
    resp = ask(server, "always-strong", "Summarise the history of Rome.",
               **{"x-switchboard-max-cost-usd": "0.0000001"})
    assert resp.status_code == 503
    err = resp.json()["error"]
    assert err["code"] == "no_candidate"
    assert "cost" in err["message"]


@pytest.mark.parametrize(("policy", "answered_by", "strong_calls"), [
    pytest.param("cascade-keep", "edge", 0, id="confident-edge-answer-stands"),
    pytest.param("cascade-escalate", "strong", 1, id="unsure-edge-answer-escalates"),
])
def test_cascade_answers_on_the_edge_first(server: GatewayServer, fake_upstream: FakeUpstream, policy: str,
                                           answered_by: str, strong_calls: int) -> None:
    resp = ask(server, policy, "Explain quicksort in two sentences.")
    assert resp.status_code == 200
    assert resp.headers["x-switchboard-deployment"] == answered_by
    assert "cascade: edge first" in resp.headers["x-switchboard-route-reason"]
    assert len(fake_upstream.requests_for("smollm2-135m-instruct")) == 1
    assert len(fake_upstream.requests_for("gpt-4o")) == strong_calls


def test_streaming_requests_do_not_cascade(server: GatewayServer) -> None:
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", timeout=30, json={
            "model": "cascade-escalate", "stream": True,
            "messages": [{"role": "user", "content": "Explain quicksort."}]}) as resp:
        assert resp.status_code == 200
        assert "cascade" not in resp.headers["x-switchboard-route-reason"]
        assert any(line.startswith("data: [DONE]") for line in resp.iter_lines())
