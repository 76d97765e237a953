"""Agents through the served gateway (real uvicorn, real sockets, httpx): runs priced by the
deployment that answered, tenant isolation between virtual keys, the run list, and the same on
both run stores: a real redis-server and the embedded default without Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from gateway.agents_api import AgentsHolder, agents_api
from gateway.runtime import Hooks
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.harness import GatewayServer, fake_config

MASTER = "sk-master-agents-e2e"
AGENT = """
name: helper
system_prompt: Answer briefly.
policy: main
max_steps: 2
"""
LOOPER = """
name: looper
system_prompt: Use tools until done.
policy: main
max_steps: 6
"""
STUCK = """
name: stuck
system_prompt: Nothing can answer.
policy: dead
max_steps: 2
"""


@pytest.fixture(params=["redis", "embedded"])
def server(
    request: pytest.FixtureRequest, fake_upstream: FakeUpstream, tmp_path: Path
) -> Iterator[GatewayServer]:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "helper.yaml").write_text(AGENT)
    (tmp_path / "agents" / "looper.yaml").write_text(LOOPER)
    (tmp_path / "agents" / "stuck.yaml").write_text(STUCK)
    holder = AgentsHolder()
    hooks = Hooks(env={}, extensions=[holder.extension(agents_dir=tmp_path / "agents", workers=1)])
    redis_url = request.getfixturevalue("clean_redis_url") if request.param == "redis" else None
    with GatewayServer(
        fake_config(fake_upstream.base_url),
        hooks=hooks,
        extra_routers=[agents_api(holder)],
        master_key=MASTER,
        redis_url=redis_url,
        state_path=tmp_path / "state" / "store.json",
    ) as gw:
        yield gw


def client(gw: GatewayServer, key: str | None) -> httpx.Client:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=gw.url, headers=headers, timeout=30)


def new_key(gw: GatewayServer, tenant: str) -> str:
    with client(gw, MASTER) as admin:
        resp = admin.post("/admin/keys", json={"name": tenant, "tenant": tenant})
        assert resp.status_code == 201
        return str(resp.json()["key"])


def wait_done(c: httpx.Client, run_id: str) -> dict[str, Any]:
    for _ in range(600):
        body: dict[str, Any] = c.get(f"/v1/agents/runs/{run_id}").json()
        if body["status"] in ("succeeded", "failed", "cancelled"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish: {body}")


def test_run_is_priced_by_the_deployment_that_answered(
    server: GatewayServer, fake_upstream: FakeUpstream
) -> None:
    with client(server, new_key(server, "team-a")) as a:
        created = a.post("/v1/agents/helper/runs", json={"input": "hello"})
        assert created.status_code == 202
        run = wait_done(a, created.json()["id"])
        events = a.get(f"/v1/agents/runs/{run['id']}/events").text
    assert run["status"] == "succeeded" and run["output"] == "Hello from the fake upstream."
    assert run["tenant"] == "team-a" and run["steps"] == 1
    # policy main answers with deployment fast: $1 / $2 per million tokens; the fake reports 11 + 7 tokens
    assert run["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    assert run["cost_usd"] == pytest.approx((11 * 1.0 + 7 * 2.0) / 1e6)
    steps = [json.loads(line[6:]) for line in events.splitlines() if line.startswith("data: ")]
    llm = [s for s in steps if s.get("node") == "llm"]
    assert llm[0]["deployment"] == "fast" and llm[0]["cost_usd"] == pytest.approx(25e-6)
    assert steps[-1]["status"] == "succeeded" and steps[-1]["cost_usd"] == pytest.approx(25e-6)
    # the step was streamed from the upstream: its text arrived as token events first
    tokens = [s["text"] for s in steps if set(s) == {"text"}]
    assert len(tokens) >= 2 and "".join(tokens) == "Hello from the fake upstream."
    sent = fake_upstream.requests_for("m-fast")[-1].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_a_tenant_cannot_reach_another_tenants_runs(
    server: GatewayServer, fake_upstream: FakeUpstream
) -> None:
    key_a, key_b = new_key(server, "team-a"), new_key(server, "team-b")
    with client(server, key_a) as a, client(server, key_b) as b, client(server, MASTER) as master:
        run_a = a.post("/v1/agents/helper/runs", json={"input": "mine"}).json()["id"]
        run_b = b.post("/v1/agents/helper/runs", json={"input": "theirs"}).json()["id"]
        wait_done(a, run_a)
        wait_done(b, run_b)
        for method, path in [
            ("GET", ""),
            ("GET", "/events"),
            ("POST", "/cancel"),
            ("POST", "/suspend"),
            ("POST", "/resume"),
        ]:
            resp = b.request(method, f"/v1/agents/runs/{run_a}{path}")
            assert resp.status_code == 404, (method, path)
            err = resp.json()["error"]
            assert (
                err["code"] == "not_found"
                and err["type"] == "invalid_request_error"
                and err["param"] == "run_id"
            )
            # the same answer as for a run that does not exist: ids cannot be probed
            assert err["message"] == b.request(method, f"/v1/agents/runs/run_nope{path}").json()["error"][
                "message"
            ].replace("run_nope", run_a)
        # threads are per tenant: B naming A's thread starts its own conversation, interrupts nothing
        a_thread = a.post("/v1/agents/helper/runs", json={"input": "a secret", "thread_id": "shared"}).json()
        wait_done(a, a_thread["id"])
        b_thread = b.post(
            "/v1/agents/helper/runs",
            json={"input": "b asks", "thread_id": "shared", "on_active_run": "interrupt"},
        ).json()
        assert b_thread["thread_id"] == "shared" and b_thread["status"] == "queued"
        wait_done(b, b_thread["id"])
        last = fake_upstream.requests_for("m-fast")[-1].body["messages"]
        assert [m["content"] for m in last if m["role"] == "user"] == ["b asks"]
        assert a.get(f"/v1/agents/runs/{a_thread['id']}").json()["status"] == "succeeded"
        run_ids_a = [r["id"] for r in a.get("/v1/agents/runs").json()["data"]]
        assert run_ids_a == [a_thread["id"], run_a]
        assert [r["id"] for r in b.get("/v1/agents/runs").json()["data"]] == [b_thread["id"], run_b]
        # the master key sees and controls every tenant's runs
        assert {r["id"] for r in master.get("/v1/agents/runs").json()["data"]} == {
            run_a,
            run_b,
            a_thread["id"],
            b_thread["id"],
        }
        assert master.get(f"/v1/agents/runs/{run_a}").json()["tenant"] == "team-a"
        assert master.post(f"/v1/agents/runs/{run_b}/cancel").json()["status"] == "succeeded"  # idempotent
    with client(server, None) as anon:
        resp = anon.get(f"/v1/agents/runs/{run_a}")
        assert resp.status_code == 401 and resp.json()["error"]["type"] == "authentication_error"
        assert anon.get("/v1/agents/runs").status_code == 401


def test_runs_are_charged_to_the_key_and_admitted_by_its_limits(server: GatewayServer) -> None:
    with client(server, MASTER) as admin:
        capped = admin.post("/admin/keys", json={"tenant": "team-d", "budget_usd": 0.00002}).json()
        edge_only = admin.post(
            "/admin/keys", json={"tenant": "team-e", "allowed_models": ["edge-first"]}
        ).json()
    with client(server, capped["key"]) as c:
        run = wait_done(c, c.post("/v1/agents/helper/runs", json={"input": "spend"}).json()["id"])
        assert run["status"] == "succeeded" and run["cost_usd"] == pytest.approx(25e-6)
        assert "key_id" not in run
        refused = c.post("/v1/agents/helper/runs", json={"input": "more"})  # $0.000025 of $0.00002 spent
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "insufficient_quota"
    with client(server, MASTER) as admin:
        spend = admin.get(f"/admin/keys/{capped['id']}").json()["spend"]
    assert spend["period_usd"] == pytest.approx(25e-6)
    with client(server, edge_only["key"]) as c:
        denied = c.post("/v1/agents/helper/runs", json={"input": "x"})  # helper's policy is main
        assert denied.status_code == 403 and denied.json()["error"]["param"] == "model"
        assert c.get("/v1/agents/runs").json()["data"] == []  # nothing was accepted


def test_list_filters_and_bad_input(server: GatewayServer) -> None:
    with client(server, new_key(server, "team-c")) as c:
        ids = [c.post("/v1/agents/helper/runs", json={"input": f"q{i}"}).json()["id"] for i in range(3)]
        for rid in ids:
            wait_done(c, rid)
        page = c.get("/v1/agents/runs", params={"agent": "helper", "state": "succeeded", "limit": 2}).json()
        assert [r["id"] for r in page["data"]] == ids[:0:-1] and page["has_more"] is True
        assert all(r["cost_usd"] > 0 for r in page["data"])
        assert c.get("/v1/agents/runs", params={"state": "queued"}).json()["data"] == []
        bad = c.get("/v1/agents/runs", params={"limit": 1000})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "limit"
        unknown = c.post("/v1/agents/nobody/runs", json={"input": "x"})
        assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "name"
        malformed = c.post(
            "/v1/agents/helper/runs", content=b"{", headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 400 and malformed.json()["error"]["type"] == "invalid_request_error"


def test_embedded_threads_survive_a_gateway_restart(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    """Without Redis, checkpoints live in SQLite beside the state file: a thread continues after a
    restart (run records themselves are in process memory and do not survive it)."""
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "helper.yaml").write_text(AGENT)
    state = tmp_path / "state" / "store.json"
    for text in ("first question", "second question"):
        holder = AgentsHolder()
        hooks = Hooks(env={}, extensions=[holder.extension(agents_dir=tmp_path / "agents", workers=1)])
        with (
            GatewayServer(
                fake_config(fake_upstream.base_url),
                hooks=hooks,
                extra_routers=[agents_api(holder)],
                state_path=state,
            ) as gw,
            client(gw, None) as c,
        ):
            run = c.post("/v1/agents/helper/runs", json={"input": text, "thread_id": "kept"}).json()
            assert wait_done(c, run["id"])["status"] == "succeeded"
    assert (tmp_path / "state" / "agents-checkpoints.sqlite").is_file()
    last = fake_upstream.requests_for("m-fast")[-1].body["messages"]
    assert [m["content"] for m in last if m["role"] == "user"] == ["first question", "second question"]


def test_embedded_run_unfinished_at_shutdown_finishes_after_restart(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    """Without Redis, accepted runs are written through to SQLite beside the state file: a run
    whose LLM step is still in flight when the gateway stops is admitted again on the next start
    and finishes from its checkpoint; a finished run's event stream still ends with ``done``."""
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "helper.yaml").write_text(AGENT)
    state = tmp_path / "state" / "store.json"
    config = fake_config(fake_upstream.base_url).replace("request_timeout_s: 10", "request_timeout_s: 600")

    def gateway() -> GatewayServer:
        holder = AgentsHolder()
        hooks = Hooks(env={}, extensions=[holder.extension(agents_dir=tmp_path / "agents", workers=1)])
        return GatewayServer(config, hooks=hooks, extra_routers=[agents_api(holder)], state_path=state)

    fake_upstream.script("m-fast", Reply.stall())  # the first step hangs until the gateway stops
    with gateway() as gw, client(gw, None) as c:
        run_id = c.post("/v1/agents/helper/runs", json={"input": "survive"}).json()["id"]
        assert fake_upstream.wait_requests("m-fast", 1)
        assert c.get(f"/v1/agents/runs/{run_id}").json()["status"] == "running"
    with gateway() as gw, client(gw, None) as c:
        done = wait_done(c, run_id)
        assert done["status"] == "succeeded" and done["output"] == "Hello from the fake upstream."
        events = c.get(f"/v1/agents/runs/{run_id}/events").text
    assert (tmp_path / "state" / "agents-runs.sqlite").is_file()
    with gateway() as gw, client(gw, None) as c:  # a third start: history gone, record kept
        assert c.get(f"/v1/agents/runs/{run_id}").json()["status"] == "succeeded"
        assert "event: done" in c.get(f"/v1/agents/runs/{run_id}/events").text
    assert "event: done" in events


def _samples(metrics_text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(metrics_text)
        for s in family.samples
        if s.name == name
    }


def test_agent_steps_count_like_requests_in_metrics_and_the_decision_log(server: GatewayServer) -> None:
    """Each LLM step of a run is a gateway request with endpoint ``agent_step``: Prometheus
    requests / tokens / cost / latency by policy and deployment, and a decision log entry with
    the routing decision, the run id as request id and the agent's name."""
    with client(server, MASTER) as m:
        run = wait_done(m, m.post("/v1/agents/helper/runs", json={"input": "observe me"}).json()["id"])
        stuck = wait_done(m, m.post("/v1/agents/stuck/runs", json={"input": "nobody"}).json()["id"])
        metrics = m.get("/metrics").text
        decisions = m.get("/admin/dashboard/decisions", params={"limit": 50}).json()["data"]
        traffic = m.get("/admin/dashboard/traffic").json()
    assert run["status"] == "succeeded" and stuck["status"] == "failed"
    requests = _samples(metrics, "switchboard_requests_total")
    ok = (("deployment", "fast"), ("endpoint", "agent_step"), ("policy", "main"), ("status", "200"))
    assert requests[ok] == 1.0
    assert (
        _samples(metrics, "switchboard_tokens_total")[
            (("deployment", "fast"), ("endpoint", "agent_step"), ("kind", "completion"), ("policy", "main"))
        ]
        == 7.0
    )
    assert _samples(metrics, "switchboard_cost_usd_total")[
        (("deployment", "fast"), ("endpoint", "agent_step"), ("policy", "main"))
    ] == pytest.approx(25e-6)
    latency = _samples(metrics, "switchboard_request_latency_seconds_count")
    assert latency[(("deployment", "fast"), ("endpoint", "agent_step"), ("policy", "main"))] == 1.0
    # the stuck agent's policy has no available deployment: its step is a failed request
    errors = _samples(metrics, "switchboard_errors_total")
    assert [k for k in errors if ("endpoint", "agent_step") in k and ("type", "no_candidate") in k]
    step = next(d for d in decisions if d["request_id"] == run["id"])
    assert step["endpoint"] == "agent_step" and step["agent"] == "helper"
    assert (step["policy"], step["deployment"], step["status"], step["error"]) == ("main", "fast", 200, "")
    assert (step["prompt_tokens"], step["completion_tokens"]) == (11, 7)
    assert step["cost_usd"] == pytest.approx(25e-6) and step["ttft_ms"] is not None and step["reason"]
    failed = [d for d in decisions if d["endpoint"] == "agent_step" and d["error"]]
    assert failed and failed[0]["status"] == 503
    fast = next(d for d in traffic["deployments"] if d["deployment"] == "fast")
    assert fast["requests"] == 1 and fast["cost_usd"] == pytest.approx(25e-6)
    assert traffic["totals"]["requests"] == 2


def test_finished_runs_get_the_configured_retention_on_redis(
    fake_upstream: FakeUpstream, tmp_path: Path, clean_redis_url: str
) -> None:
    """SWITCHBOARD_AGENTS_RETENTION_S reaches the Redis run store: a finished run's record and
    events carry it as their TTL (the pruner drops the list entries; see the store contract)."""
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "helper.yaml").write_text(AGENT)
    holder = AgentsHolder()
    hooks = Hooks(env={}, extensions=[holder.extension(agents_dir=tmp_path / "agents", workers=1)])
    with (
        GatewayServer(
            fake_config(fake_upstream.base_url),
            hooks=hooks,
            extra_routers=[agents_api(holder)],
            redis_url=clean_redis_url,
            agents_retention_s=3600,
        ) as gw,
        client(gw, None) as c,
    ):
        run = wait_done(c, c.post("/v1/agents/helper/runs", json={"input": "keep me an hour"}).json()["id"])
    r = redis.Redis.from_url(clean_redis_url)
    try:
        assert run["status"] == "succeeded"
        assert 0 < r.ttl(f"agents:run:{run['id']}") <= 3600
        assert 0 < r.ttl(f"agents:run:{run['id']}:events") <= 3600
        assert r.zscore("agents:finished", run["id"]) is not None
    finally:
        r.close()


def test_a_run_stops_at_the_step_boundary_where_its_keys_budget_ran_out(
    server: GatewayServer, fake_upstream: FakeUpstream
) -> None:
    """The key's budget is checked (the admission path's check) at every step boundary: a run
    whose key spent its budget mid-run fails there with 'budget exceeded', after the step that
    crossed it was charged; it does not go on to its remaining steps."""
    fake_upstream.script("m-fast", *[Reply.tool_call("lookup", '{"q": "x"}')] * 3, Reply.ok("never reached"))
    with client(server, MASTER) as admin:
        capped = admin.post("/admin/keys", json={"tenant": "team-f", "budget_usd": 0.00003}).json()
    with client(server, capped["key"]) as c:
        created = c.post("/v1/agents/looper/runs", json={"input": "loop"})
        assert created.status_code == 202
        run = wait_done(c, created.json()["id"])
        refused = c.post("/v1/agents/looper/runs", json={"input": "again"})
    # each LLM step costs $0.000025 (11 + 7 tokens at $1 / $2 per M): the second one crosses $0.00003
    assert run["status"] == "failed" and run["error"].startswith("budget exceeded: key budget exhausted")
    assert run["steps"] == 2 and run["cost_usd"] == pytest.approx(50e-6)
    assert len(fake_upstream.requests_for("m-fast")) == 2
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "insufficient_quota"
    with client(server, MASTER) as admin:
        assert admin.get(f"/admin/keys/{capped['id']}").json()["spend"]["period_usd"] == pytest.approx(50e-6)


def test_a_run_stops_at_the_next_step_boundary_once_its_key_is_revoked(
    server: GatewayServer, fake_upstream: FakeUpstream
) -> None:
    """Revoking a key stops its running runs, as it refuses the key's next request: the step in
    flight when the key is revoked finishes (and is charged), the run fails at that step's
    boundary with 'key revoked', and it makes no further upstream call."""
    fake_upstream.script(
        "m-fast",
        Reply.tool_call("lookup", '{"q": "x"}'),
        Reply.tool_call("lookup", '{"q": "y"}', delay_s=1.0),
        *[Reply.tool_call("lookup", '{"q": "z"}')] * 3,
        Reply.ok("never reached"),
    )
    with client(server, MASTER) as admin:
        key = admin.post("/admin/keys", json={"tenant": "team-r"}).json()
    with client(server, key["key"]) as c:
        created = c.post("/v1/agents/looper/runs", json={"input": "loop"})
        assert created.status_code == 202
        assert fake_upstream.wait_requests("m-fast", 2, timeout_s=10)  # the second step is in flight
        with client(server, MASTER) as admin:
            assert admin.post(f"/admin/keys/{key['id']}/revoke").status_code == 200
        with client(server, MASTER) as admin:
            run = wait_done(admin, created.json()["id"])
    assert run["status"] == "failed" and run["error"].startswith("key revoked:"), run
    assert key["id"] in run["error"] and run["steps"] == 2
    assert len(fake_upstream.requests_for("m-fast")) == 2
