"""The agents HTTP API with an in-process worker and the fake backend, on both run stores: a real
Redis (``redis``) and the embedded in-process queue (``embedded``, no Redis)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agents.bootstrap import open_agents
from agents.spec import AgentSpec, Budget, ToolRef
from core.clock import SystemClock
from core.config.models import PriceOverride
from core.pricing import DeploymentPricing, PriceBook
from gateway.agents_api import AgentsHolder, agents_api
from gateway.http_errors import install_error_handlers
from tests.agents.fakes import StreamingScriptedBackend, add_tool

SPECS = {
    "adder": AgentSpec(name="adder", tools=[ToolRef(name="add")], max_steps=8),
    "echo": AgentSpec(name="echo", max_steps=2),
    "cheap": AgentSpec(name="cheap", tools=[ToolRef(name="add")], budget=Budget(max_cost_usd=1e-5)),
    "short": AgentSpec(name="short", tools=[ToolRef(name="add")], budget=Budget(max_tokens=20)),
}
# the scripted backend answers as deployment "fake": $1 / $2 per million prompt / completion tokens
PRICES = PriceBook(
    [DeploymentPricing("fake", "m-fake", price=PriceOverride(input_per_mtok=1.0, output_per_mtok=2.0))],
    price_map={},
)


async def make_client(redis_url: str | None, workers: int) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    holder = AgentsHolder()
    app.include_router(agents_api(holder))
    async with open_agents(
        redis_url,
        SPECS,
        StreamingScriptedBackend(),  # steps stream their tokens (the complete path: test_agent_graph)
        SystemClock(),
        workers=workers,
        slots={"fake": 2},
        extra_tools=[add_tool([])],
        heartbeat_s=0.2,
        cost=PRICES.cost_usd,
    ) as rt:
        holder.service = rt.service
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield client


@pytest.fixture(params=["redis", "embedded"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """A clean real redis-server's URL, or None: the embedded in-process run store."""
    return str(request.getfixturevalue("clean_redis_url")) if request.param == "redis" else None


@pytest.fixture
async def api(store_url: str | None) -> AsyncIterator[httpx.AsyncClient]:
    async for c in make_client(store_url, workers=1):
        yield c


@pytest.fixture
async def idle_api(store_url: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """No worker: accepted runs stay queued."""
    async for c in make_client(store_url, workers=0):
        yield c


async def wait_status(client: httpx.AsyncClient, run_id: str, status: str, *also: str) -> dict[str, Any]:
    """Poll until the run's status is ``status`` (or one of ``also``); return the run."""
    for _ in range(400):
        body: dict[str, Any] = (await client.get(f"/v1/agents/runs/{run_id}")).json()
        if body["status"] in (status, *also):
            return body
        await asyncio.sleep(0.025)
    raise AssertionError(f"run {run_id} never reached {status}: {body}")


async def test_run_completes_with_usage(api: httpx.AsyncClient) -> None:
    resp = await api.post("/v1/agents/adder/runs", json={"input": "hello", "priority": "high"})
    assert resp.status_code == 202
    run = resp.json()
    assert run["object"] == "agent.run" and run["status"] == "queued"
    done = await wait_status(api, run["id"], "succeeded")
    assert done["output"].startswith("total=") and done["steps"] == 4
    assert done["usage"]["total_tokens"] > 0
    # every LLM step priced at the answering deployment's price: $1/M prompt, $2/M completion
    expected = (done["usage"]["prompt_tokens"] * 1.0 + done["usage"]["completion_tokens"] * 2.0) / 1e6
    assert done["cost_usd"] == pytest.approx(expected, rel=1e-9) and done["cost_usd"] > 0


async def read_events(
    client: httpx.AsyncClient, run_id: str, headers: dict[str, str] | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, event type, data) of the run's SSE stream until it ends."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    eid = kind = ""
    async with client.stream("GET", f"/v1/agents/runs/{run_id}/events", headers=headers or {}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        async for line in resp.aiter_lines():
            if line.startswith("id: "):
                eid = line.removeprefix("id: ")
            elif line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                out.append((eid, kind, json.loads(line.removeprefix("data: "))))
    return out


async def test_events_stream_steps_then_done(api: httpx.AsyncClient) -> None:
    run = (await api.post("/v1/agents/adder/runs", json={"input": "hi"})).json()
    events = await read_events(api, run["id"])
    kinds = [k for _, k, _ in events]
    assert kinds[-1] == "done" and "step" in kinds
    llm_steps = [d for _, k, d in events if k == "step" and d["node"] == "llm"]
    assert len(llm_steps) == 4 and all(d["deployment"] == "fake" for d in llm_steps)
    assert all(
        d["cost_usd"]
        == pytest.approx((d["usage"]["prompt_tokens"] + 2 * d["usage"]["completion_tokens"]) / 1e6)
        for d in llm_steps
    )
    # the running total grows step by step and the done event carries the run's final cost
    totals = [d["run_cost_usd"] for d in llm_steps]
    assert totals == sorted(totals) and totals[-1] == pytest.approx(sum(d["cost_usd"] for d in llm_steps))
    # the final answer was streamed as token events, before its step event
    tokens = [d["text"] for _, k, d in events if k == "token"]
    assert "".join(tokens).startswith("total=") and len(tokens) > 1
    last_token = max(i for i, (_, k, _) in enumerate(events) if k == "token")
    assert (
        events[last_token + 1][1] == "step"
        and "".join(tokens) == events[last_token + 1][2]["messages"][0]["content"]
    )
    done = events[-1][2]
    assert (
        done["status"] == "succeeded" and done["cost_usd"] == pytest.approx(totals[-1]) and done["steps"] == 4
    )
    final = (await api.get(f"/v1/agents/runs/{run['id']}")).json()
    assert final["cost_usd"] == pytest.approx(done["cost_usd"])
    # Last-Event-ID resumes after that event: only what followed it
    after = await read_events(api, run["id"], {"last-event-id": events[-3][0]})
    assert [e[0] for e in after] == [e[0] for e in events[-2:]]


@pytest.mark.parametrize(
    ("agent", "steps", "why"), [("cheap", 1, "max_cost_usd"), ("short", 2, "max_tokens")]
)
async def test_run_over_its_budget_fails_at_the_step_boundary(
    api: httpx.AsyncClient, agent: str, steps: int, why: str
) -> None:
    # step 1: 10 prompt + 5 completion tokens = $0.00002 (> $0.00001); step 2 brings tokens to 50 (> 20)
    run = (await api.post(f"/v1/agents/{agent}/runs", json={"input": "hi"})).json()
    done = await wait_status(api, run["id"], "failed")
    assert done["error"].startswith("budget exceeded") and why in done["error"]
    assert done["steps"] == steps and done["output"] == ""


async def test_bad_last_event_id_is_400(idle_api: httpx.AsyncClient) -> None:
    run = (await idle_api.post("/v1/agents/adder/runs", json={"input": "x"})).json()
    resp = await idle_api.get(f"/v1/agents/runs/{run['id']}/events", headers={"last-event-id": "abc"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "last-event-id"


async def test_list_runs_newest_first_with_filters(idle_api: httpx.AsyncClient) -> None:
    ids = [
        (await idle_api.post(f"/v1/agents/{agent}/runs", json={"input": f"q{i}"})).json()["id"]
        for i, agent in enumerate(["adder", "echo", "adder", "echo", "adder"])
    ]
    await idle_api.post(f"/v1/agents/runs/{ids[2]}/cancel")
    page = (await idle_api.get("/v1/agents/runs")).json()
    assert page["object"] == "list" and page["has_more"] is False
    assert [r["id"] for r in page["data"]] == ids[::-1]
    assert all(r["object"] == "agent.run" and "cost_usd" in r for r in page["data"])
    adders = (await idle_api.get("/v1/agents/runs", params={"agent": "adder"})).json()["data"]
    assert [r["id"] for r in adders] == [ids[4], ids[2], ids[0]]
    queued_adders = (
        await idle_api.get("/v1/agents/runs", params={"agent": "adder", "state": "queued"})
    ).json()
    assert [r["id"] for r in queued_adders["data"]] == [ids[4], ids[0]]
    cancelled = (await idle_api.get("/v1/agents/runs", params={"state": "cancelled"})).json()["data"]
    assert [r["id"] for r in cancelled] == [ids[2]]
    first_two = (await idle_api.get("/v1/agents/runs", params={"limit": 2})).json()
    assert [r["id"] for r in first_two["data"]] == [ids[4], ids[3]] and first_two["has_more"] is True
    assert (await idle_api.get("/v1/agents/runs", params={"agent": "nobody"})).json()["data"] == []


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"state": "sleeping"}, "state"),
    ],
)
async def test_list_runs_bad_query_is_400(
    idle_api: httpx.AsyncClient, params: dict[str, Any], param: str
) -> None:
    resp = await idle_api.get("/v1/agents/runs", params=params)
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param


@pytest.mark.parametrize(
    ("path", "body", "status", "param"),
    [
        ("/v1/agents/nobody/runs", {"input": "x"}, 404, "name"),
        ("/v1/agents/adder/runs", {"input": "x", "deadline": -1}, 400, "deadline"),
        ("/v1/agents/adder/runs", {"input": ""}, 400, "input"),
        ("/v1/agents/adder/runs", {"input": "x", "priority": "urgent"}, 400, "priority"),
        ("/v1/agents/adder/runs", {"input": "x", "colour": "red"}, 400, "colour"),
    ],
    ids=["unknown-agent", "negative-deadline", "empty-input", "bad-priority", "unknown-field"],
)
async def test_bad_input_gets_openai_error(
    idle_api: httpx.AsyncClient, path: str, body: dict[str, Any], status: int, param: str
) -> None:
    resp = await idle_api.post(path, json=body)
    assert resp.status_code == status
    err = resp.json()["error"]
    assert err["param"] == param and err["type"] == "invalid_request_error"


async def test_malformed_json_is_400(idle_api: httpx.AsyncClient) -> None:
    resp = await idle_api.post(
        "/v1/agents/adder/runs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"


async def test_unknown_run_is_404(idle_api: httpx.AsyncClient) -> None:
    resp = await idle_api.get("/v1/agents/runs/run_nope")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"


async def test_thread_policies_reject_enqueue_then_cancel_hands_thread_on(
    idle_api: httpx.AsyncClient,
) -> None:
    first = (await idle_api.post("/v1/agents/adder/runs", json={"input": "a", "thread_id": "t1"})).json()
    rejected = await idle_api.post(
        "/v1/agents/adder/runs", json={"input": "b", "thread_id": "t1", "on_active_run": "reject"}
    )
    assert rejected.status_code == 409 and rejected.json()["error"]["code"] == "conflict"
    waiting = (
        await idle_api.post(
            "/v1/agents/adder/runs", json={"input": "c", "thread_id": "t1", "on_active_run": "enqueue"}
        )
    ).json()
    assert waiting["status"] == "waiting"
    cancelled = (await idle_api.post(f"/v1/agents/runs/{first['id']}/cancel")).json()
    assert cancelled["status"] == "cancelled"
    assert (await idle_api.get(f"/v1/agents/runs/{waiting['id']}")).json()["status"] == "queued"


async def test_interrupt_requests_cancel_of_active_run(idle_api: httpx.AsyncClient) -> None:
    first = (await idle_api.post("/v1/agents/adder/runs", json={"input": "a", "thread_id": "t2"})).json()
    second = (
        await idle_api.post(
            "/v1/agents/adder/runs", json={"input": "b", "thread_id": "t2", "on_active_run": "interrupt"}
        )
    ).json()
    assert second["status"] == "waiting"
    assert (await idle_api.get(f"/v1/agents/runs/{first['id']}")).json()["status"] == "queued"


async def test_suspend_and_resume_queued_run(idle_api: httpx.AsyncClient) -> None:
    run = (await idle_api.post("/v1/agents/adder/runs", json={"input": "a"})).json()
    assert (await idle_api.post(f"/v1/agents/runs/{run['id']}/suspend")).json()["status"] == "suspended"
    assert (await idle_api.post(f"/v1/agents/runs/{run['id']}/resume")).json()["status"] == "queued"
    again = await idle_api.post(f"/v1/agents/runs/{run['id']}/resume")
    assert again.status_code == 409


async def test_suspended_running_run_resumes_and_finishes(api: httpx.AsyncClient) -> None:
    run = (await api.post("/v1/agents/adder/runs", json={"input": "long one"})).json()
    await api.post(f"/v1/agents/runs/{run['id']}/suspend")
    # the suspension takes effect at the next step boundary; the run may finish before that
    body = await wait_status(api, run["id"], "suspended", "succeeded")
    if body["status"] == "suspended":
        await api.post(f"/v1/agents/runs/{run['id']}/resume")
        body = await wait_status(api, run["id"], "succeeded")
    assert body["output"].startswith("total=")


async def test_a_keyed_run_stops_when_its_key_is_over_budget(store_url: str | None) -> None:
    """``key_check`` (the gateway: the key's budget, after ``on_spend`` charged the step) is asked
    at every step boundary and when a run is taken from the queue: a run whose key ran out fails
    with its reason at the next boundary, and one taken with a spent key fails before any step."""
    spent: dict[str, float] = {"k-step": 0.0, "k-spent": 1.0}

    async def charge(rec: Any, prompt: int, completion: int, cost: float) -> None:
        spent[rec.key_id] += cost

    async def key_check(rec: Any) -> str | None:
        return f"budget exceeded: key {rec.key_id} spent" if spent[rec.key_id] > 1e-6 else None

    backend = StreamingScriptedBackend()
    async with open_agents(
        store_url,
        SPECS,
        backend,
        SystemClock(),
        workers=1,
        slots={"fake": 2},
        extra_tools=[add_tool([])],
        cost=PRICES.cost_usd,
        on_spend=charge,
        key_check=key_check,
    ) as rt:
        mid, _ = await rt.service.submit("adder", "hello", key_id="k-step")  # 4 steps unchecked
        spent_first, _ = await rt.service.submit("adder", "hello", key_id="k-spent")
        free, _ = await rt.service.submit("echo", "hello")  # no key: never checked
        for _ in range(400):
            runs = [await rt.service.get(r.run_id) for r in (mid, spent_first, free)]
            if all(r.status in ("succeeded", "failed", "cancelled") for r in runs):
                break
            await asyncio.sleep(0.025)
    by_id = {r.run_id: r for r in runs}
    assert (by_id[mid.run_id].status, by_id[mid.run_id].steps) == ("failed", 1)
    assert by_id[mid.run_id].error == "budget exceeded: key k-step spent"
    assert (by_id[spent_first.run_id].status, by_id[spent_first.run_id].steps) == ("failed", 0)
    assert by_id[spent_first.run_id].error == "budget exceeded: key k-spent spent"
    assert by_id[free.run_id].status == "succeeded"
    assert backend.calls == 1 + by_id[free.run_id].steps  # k-step's first step and the keyless run's
