"""Health probes and Prometheus metrics."""

from __future__ import annotations

import httpx

from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.harness import GatewayServer

MSGS = [{"role": "user", "content": "hi"}]


def test_liveness_and_readiness(gateway: GatewayServer) -> None:
    assert httpx.get(gateway.url + "/health/liveness").json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/health/readiness")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_readiness_is_false_before_the_runtime_is_up(fake_upstream: FakeUpstream) -> None:
    from starlette.testclient import TestClient

    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    app = create_app(GatewaySettings(config="/nonexistent.yaml", state_path=None))
    client = TestClient(app)  # not entered: the lifespan never ran
    resp = client.get("/health/readiness")
    assert resp.status_code == 503
    assert resp.json()["status"] == "not_ready"


def test_metrics_count_requests_tokens_cost_and_errors(gateway: GatewayServer, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("x"))
    httpx.post(gateway.url + "/v1/chat/completions", json={"model": "auto", "messages": MSGS})
    with httpx.stream("POST", gateway.url + "/v1/chat/completions",
                      json={"model": "auto", "messages": MSGS, "stream": True}) as resp:
        resp.read()
    httpx.post(gateway.url + "/v1/chat/completions", json={"model": "nope", "messages": MSGS})
    text = httpx.get(gateway.url + "/metrics").text
    assert 'switchboard_requests_total{deployment="fast",endpoint="chat",policy="main",status="200"}' in text
    assert 'switchboard_tokens_total{deployment="fast",endpoint="chat",kind="completion",policy="main"}' in text
    assert 'switchboard_cost_usd_total{deployment="fast",endpoint="chat",policy="main"}' in text
    assert 'switchboard_time_to_first_token_seconds_bucket{deployment="fast",endpoint="chat"' in text
    assert 'switchboard_request_latency_seconds_bucket{deployment="fast",endpoint="chat"' in text
    assert 'switchboard_errors_total{deployment="",endpoint="chat",policy="",type="model_not_found"}' in text
    assert 'switchboard_upstream_attempts_total{deployment="fast",outcome="ok"}' in text
