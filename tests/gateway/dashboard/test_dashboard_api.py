"""The dashboard's JSON endpoints against the real gateway (uvicorn) over the fake upstream.

Each module-scoped gateway is this file's own, so the totals it reads are only this file's
requests; tests still look decisions up by their request id."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fastapi import APIRouter

from gateway.agents_api import AgentsHolder, agents_api
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.harness import GatewayServer, fake_config

MSGS = [{"role": "user", "content": "What is two plus two?"}]
MASTER = "sk-master-dashboard"
# the fake upstream answers 11 prompt + 7 completion tokens; fast costs $1 / $2 per Mtok
FAST_COST = 25e-6


@pytest.fixture(scope="module")
def gw(_fake_upstream_session: FakeUpstream) -> Iterator[GatewayServer]:
    with GatewayServer(fake_config(_fake_upstream_session.base_url)) as server:
        yield server


@pytest.fixture
def client(gw: GatewayServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-anything", max_retries=0)


def _get(gw: GatewayServer, path: str, key: str | None = None) -> Any:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    resp = httpx.get(gw.url + path, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _decision(gw: GatewayServer, request_id: str) -> dict[str, Any]:
    found = [d for d in _get(gw, "/admin/dashboard/decisions?limit=1000")["data"] if d["request_id"] == request_id]
    assert len(found) == 1, found
    return found[0]


def _rid() -> str:
    return "dash-" + uuid.uuid4().hex[:12]


def test_a_routed_request_is_logged_with_its_decision(gw: GatewayServer, client: openai.OpenAI,
                                                       fake_upstream: FakeUpstream) -> None:
    rid = _rid()
    client.chat.completions.create(model="auto", messages=MSGS, extra_headers={"x-request-id": rid})  # type: ignore[arg-type]
    d = _decision(gw, rid)
    assert (d["policy"], d["deployment"], d["tier"], d["router"], d["status"], d["error"]) == (
        "main", "fast", "cloud", "fallback", 200, "")
    assert "fast" in d["reason"] and d["ranked"][0] == "fast"
    assert (d["prompt_tokens"], d["completion_tokens"]) == (11, 7)
    assert d["cost_usd"] == pytest.approx(FAST_COST) and d["latency_ms"] > 0


def test_cost_saved_is_measured_against_the_policys_most_expensive_deployment(
        gw: GatewayServer, client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rid = _rid()
    client.chat.completions.create(model="edge-first", messages=MSGS, extra_headers={"x-request-id": rid})  # type: ignore[arg-type]
    d = _decision(gw, rid)
    assert (d["deployment"], d["tier"], d["cost_usd"]) == ("edge", "edge", 0)
    assert d["baseline_cost_usd"] == pytest.approx(FAST_COST)  # edge-first could have used fast
    policies = {p["policy"]: p for p in _get(gw, "/admin/dashboard/traffic")["policies"]}
    assert policies["edge-first"]["saved_usd"] >= FAST_COST * 0.999


def test_a_stream_is_logged_when_it_ends_with_its_ttft(gw: GatewayServer, client: openai.OpenAI,
                                                        fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("one two three", chunks=3))
    rid = _rid()
    stream = client.chat.completions.create(model="auto", messages=MSGS, stream=True,  # type: ignore[arg-type]
                                            extra_headers={"x-request-id": rid})
    list(stream)
    d = _decision(gw, rid)
    assert (d["deployment"], d["status"], d["completion_tokens"]) == ("fast", 200, 7)
    assert d["ttft_ms"] is not None and d["cost_usd"] == pytest.approx(FAST_COST)


def test_a_failed_request_keeps_its_decision_and_error_code(gw: GatewayServer, client: openai.OpenAI,
                                                             fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.error(500), Reply.error(500))
    fake_upstream.script("m-backup", Reply.error(500), Reply.error(500))
    rid = _rid()
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="auto", messages=MSGS, extra_headers={"x-request-id": rid})  # type: ignore[arg-type]
    d = _decision(gw, rid)
    assert d["policy"] == "main" and d["status"] >= 500 and d["error"].startswith("upstream")
    traffic = _get(gw, "/admin/dashboard/traffic")
    assert traffic["totals"]["errors"][d["error"]] >= 1


def test_traffic_has_totals_and_latency_percentiles_per_deployment(gw: GatewayServer, client: openai.OpenAI,
                                                                    fake_upstream: FakeUpstream) -> None:
    before = _get(gw, "/admin/dashboard/traffic")["totals"]
    for _ in range(3):
        client.chat.completions.create(model="auto", messages=MSGS)  # type: ignore[arg-type]
    t = _get(gw, "/admin/dashboard/traffic")
    assert t["source"] == "local"
    assert t["totals"]["requests"] == before["requests"] + 3
    assert t["totals"]["prompt_tokens"] == before["prompt_tokens"] + 33
    assert t["totals"]["cost_usd"] == pytest.approx(before["cost_usd"] + 3 * FAST_COST)
    fast = next(d for d in t["deployments"] if d["deployment"] == "fast")
    assert fast["requests"] >= 3 and 0 < fast["p50_ms"] <= fast["p95_ms"]


def test_deployments_show_availability_and_why_not(gw: GatewayServer) -> None:
    rows = {d["name"]: d for d in _get(gw, "/admin/dashboard/deployments")["data"]}
    assert rows["fast"]["available"] is True and rows["fast"]["max_concurrency"] == 64
    assert rows["keyed"]["available"] is False
    assert "SB_TEST_NEVER_SET_KEY" in rows["keyed"]["unavailable_reason"]
    assert rows["edge"]["tier"] == "edge" and rows["fast"]["input_per_mtok"] == 1.0


def test_a_rejected_reload_shows_its_problems_with_locations(gw: GatewayServer, fake_upstream: FakeUpstream) -> None:
    good = gw.config_path.read_text()
    version = _get(gw, "/admin/dashboard/config")["version"]
    gw.config_path.write_text(good.replace("max_attempts: 2", "max_attempts: 0"))
    try:
        assert httpx.post(gw.url + "/admin/config/reload").status_code == 400
        cfg = _get(gw, "/admin/dashboard/config")
        assert cfg["version"] == version and cfg["last_reload"]["ok"] is False
        problems = cfg["last_error"]["problems"]
        assert any(str(gw.config_path) in p and "retry.max_attempts" in p for p in problems), problems
        assert {p["name"] for p in cfg["policies"]} >= {"main", "edge-first"}
    finally:
        gw.config_path.write_text(good)
        assert httpx.post(gw.url + "/admin/config/reload").status_code == 200
    assert _get(gw, "/admin/dashboard/config")["last_error"] is None


def test_the_page_and_its_files_are_served(gw: GatewayServer) -> None:
    page = httpx.get(gw.url + "/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/dashboard/static/app.js" in page.text and "script-src 'self'" in page.headers["content-security-policy"]
    js = httpx.get(gw.url + "/dashboard/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert httpx.get(gw.url + "/dashboard/static/nope.js").status_code == 404


def test_features_follow_the_mounted_routes(_fake_upstream_session: FakeUpstream) -> None:
    tools = APIRouter()

    @tools.post("/v1/tools/search")
    async def search() -> dict[str, str]:
        return {}

    server = GatewayServer(fake_config(_fake_upstream_session.base_url))
    server.app.include_router(tools)
    server.app.include_router(agents_api(AgentsHolder()))
    with server:
        f = _get(server, "/admin/dashboard/features")
    assert (f["tools_search"], f["agents"], f["shared"]) == (True, True, False)


def test_without_tools_or_agents_their_panels_are_off(gw: GatewayServer) -> None:
    f = _get(gw, "/admin/dashboard/features")
    assert (f["tools_search"], f["agents"]) == (False, False)


@pytest.fixture(scope="module")
def locked(_fake_upstream_session: FakeUpstream) -> Iterator[GatewayServer]:
    with GatewayServer(fake_config(_fake_upstream_session.base_url), master_key=MASTER) as server:
        yield server


@pytest.mark.parametrize("path", ["traffic", "decisions", "deployments", "config", "features"])
def test_admin_endpoints_need_the_master_key(locked: GatewayServer, path: str) -> None:
    url = f"{locked.url}/admin/dashboard/{path}"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"authorization": "Bearer sk-wrong"}).status_code == 401
    assert httpx.get(url, headers={"authorization": f"Bearer {MASTER}"}).status_code == 200


def test_the_page_itself_needs_no_key(locked: GatewayServer) -> None:
    assert httpx.get(locked.url + "/dashboard").status_code == 200


def test_replicas_on_one_redis_see_each_others_decisions(clean_redis_url: str,
                                                         _fake_upstream_session: FakeUpstream) -> None:
    cfg = fake_config(_fake_upstream_session.base_url)
    with GatewayServer(cfg, redis_url=clean_redis_url) as a, GatewayServer(cfg, redis_url=clean_redis_url) as b:
        rid = _rid()
        httpx.post(a.url + "/v1/chat/completions", json={"model": "auto", "messages": MSGS},
                   headers={"x-request-id": rid}).raise_for_status()
        _get(a, "/admin/dashboard/decisions")  # reading on a flushes a's records now (else within 1 s)
        seen = [d for d in _get(b, "/admin/dashboard/decisions")["data"] if d["request_id"] == rid]
        assert seen and seen[0]["replica"] == a.runtime.decisions.replica
        traffic = _get(b, "/admin/dashboard/traffic")
        assert traffic["source"] == "shared" and traffic["totals"]["requests"] == 1
