"""The routed dispatcher: retries, backoff, Retry-After, fallbacks, cooldowns, deadline, streams.

Real backends talk to the fake upstream over HTTP; backoff sleeps go through a ManualClock, so the
tests see exactly how long the dispatcher chose to wait without waiting.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.clock import ManualClock, SystemClock
from core.config import load_model_text
from core.config.models import GatewayConfig
from core.deadline import Deadline
from core.errors import UpstreamError, UpstreamRejectedError, UpstreamTimeoutError
from core.store.memory import MemoryStore
from core.wire import ChatRequest
from gateway.deployment_state import DeploymentStates
from gateway.dispatch import Dispatcher
from gateway.providers.factory import BackendFactory
from gateway.providers.http_pool import HttpPool
from gateway.providers.local_edge import LocalModels
from gateway.routing import SelectorContext, SelectorRegistry
from gateway.snapshot import build_snapshot
from tests.fakes.upstream import FakeUpstream, Reply

CONFIG = """
settings:
  cooldown: {{failures: 2, seconds: 30}}
deployments:
  - {{name: fast, kind: openai_compatible, base_url: "{url}", model: d-fast}}
  - {{name: backup, kind: openai_compatible, base_url: "{url}", model: d-backup}}
policies:
  - name: main
    candidates: [fast]
    fallbacks: [backup]
    retry: {{max_attempts: 2, backoff_base_s: 0.1, backoff_max_s: 2.0}}
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def dispatcher(fake_upstream: FakeUpstream, clock: ManualClock) -> AsyncIterator[Dispatcher]:
    config = load_model_text(CONFIG.format(url=fake_upstream.base_url), GatewayConfig)
    pool = HttpPool()
    factory = BackendFactory(pool, LocalModels(Path("unused"), pool), env={})
    snap = build_snapshot(config, version=1, source="test", loaded_at=0.0, backends=factory,
                          registry=SelectorRegistry(), selector_context=SelectorContext())
    yield Dispatcher(lambda: snap, DeploymentStates(clock), clock, rng=random.Random(7))
    await pool.aclose()


def _req(stream: bool = False) -> ChatRequest:
    return ChatRequest({"model": "main", "messages": [{"role": "user", "content": "hi"}], "stream": stream})


async def _run(d: Dispatcher, clock: ManualClock, seconds: float = 60.0) -> tuple[str, int]:
    plan = await d.plan(_req())
    done = await d.run(plan, Deadline.after(seconds, clock))
    return done.entry.name, done.attempts


async def test_retry_after_a_retryable_failure(dispatcher: Dispatcher, fake_upstream: FakeUpstream,
                                               clock: ManualClock) -> None:
    fake_upstream.script("d-fast", Reply.error(500))
    t0 = clock.now()
    assert await _run(dispatcher, clock) == ("fast", 2)
    assert 0.05 <= clock.now() - t0 <= 0.1  # base 0.1 s with jitter in [0.5, 1.0]


async def test_falls_back_when_retries_are_spent(dispatcher: Dispatcher, fake_upstream: FakeUpstream,
                                                 clock: ManualClock) -> None:
    fake_upstream.script("d-fast", Reply.error(503), Reply.error(502))
    assert await _run(dispatcher, clock) == ("backup", 3)


async def test_rejected_request_is_not_retried(dispatcher: Dispatcher, fake_upstream: FakeUpstream,
                                               clock: ManualClock) -> None:
    fake_upstream.script("d-fast", Reply.error(400))
    with pytest.raises(UpstreamRejectedError):
        await _run(dispatcher, clock)
    assert len(fake_upstream.requests_for("d-fast")) == 1
    assert fake_upstream.requests_for("d-backup") == []


async def test_retry_after_is_waited_for(dispatcher: Dispatcher, fake_upstream: FakeUpstream,
                                         clock: ManualClock) -> None:
    fake_upstream.script("d-fast", Reply.rate_limited("1"))
    t0 = clock.now()
    assert await _run(dispatcher, clock) == ("fast", 2)
    assert clock.now() - t0 >= 1.0


async def test_long_retry_after_moves_on_and_cools_down(dispatcher: Dispatcher, fake_upstream: FakeUpstream,
                                                        clock: ManualClock) -> None:
    fake_upstream.script("d-fast", Reply.rate_limited("20"))
    t0 = clock.now()
    assert await _run(dispatcher, clock) == ("backup", 2)
    assert clock.now() == t0  # no waiting for a Retry-After past backoff_max_s
    assert dispatcher.states.cooling("fast")
    plan = await dispatcher.plan(_req())
    assert plan.decision.ranked == ("backup",)
    clock.advance(21)
    assert (await dispatcher.plan(_req())).decision.ranked == ("fast", "backup")


async def test_cooldown_after_consecutive_failures(dispatcher: Dispatcher, fake_upstream: FakeUpstream,
                                                   clock: ManualClock) -> None:
    fake_upstream.script("d-fast", Reply.error(500), Reply.error(500))
    assert await _run(dispatcher, clock) == ("backup", 3)
    assert dispatcher.states.cooling("fast")
    assert await _run(dispatcher, clock) == ("backup", 1)
    clock.advance(31)
    assert await _run(dispatcher, clock) == ("fast", 1)


async def test_deadline_stops_retries_and_fallbacks(dispatcher: Dispatcher, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("d-fast", Reply.ok(delay_s=3))
    plan = await dispatcher.plan(_req())
    with pytest.raises(UpstreamTimeoutError):
        await dispatcher.run(plan, Deadline.after(0.3, SystemClock()))
    assert fake_upstream.requests_for("d-backup") == []


async def test_stream_fails_over_before_the_first_chunk(dispatcher: Dispatcher, fake_upstream: FakeUpstream,
                                                        clock: ManualClock) -> None:
    fake_upstream.script("d-fast", Reply.error(500), Reply.error(500))
    plan = await dispatcher.plan(_req(stream=True))
    opened = await dispatcher.open_stream(plan, Deadline.after(60, clock))
    chunks = [c async for c in opened]
    assert opened.entry.name == "backup"
    assert all(c.get("choices") for c in chunks)  # the usage chunk the gateway asked for is held back
    assert opened.usage is not None and opened.usage["completion_tokens"] == 7


async def test_stream_failure_after_first_chunk_is_raised(dispatcher: Dispatcher, fake_upstream: FakeUpstream,
                                                          clock: ManualClock) -> None:
    fake_upstream.script("d-fast", Reply.cut(after_chunks=2))
    plan = await dispatcher.plan(_req(stream=True))
    opened = await dispatcher.open_stream(plan, Deadline.after(60, clock))
    with pytest.raises(UpstreamError):
        async for _ in opened:
            pass
    assert fake_upstream.requests_for("d-backup") == []
    assert dispatcher.states.get("fast").in_flight == 0


async def test_in_flight_returns_to_zero(dispatcher: Dispatcher, fake_upstream: FakeUpstream,
                                         clock: ManualClock) -> None:
    fake_upstream.script("d-fast", Reply.error(500))
    await _run(dispatcher, clock)
    assert dispatcher.states.get("fast").in_flight == 0
    assert dispatcher.states.get("backup").in_flight == 0


async def test_dispatcher_is_a_chat_backend(dispatcher: Dispatcher, clock: ManualClock) -> None:
    resp = await dispatcher.complete(_req(), Deadline.after(60, clock))
    assert resp.deployment == "fast"
    chunks = [c async for c in dispatcher.stream(_req(), Deadline.after(60, clock))]
    assert chunks and all(c["object"] == "chat.completion.chunk" for c in chunks)


async def test_backend_face_raises_only_upstream_errors(dispatcher: Dispatcher, clock: ManualClock) -> None:
    with pytest.raises(UpstreamRejectedError):
        await dispatcher.complete(ChatRequest({"model": "nope", "messages": []}), Deadline.after(60, clock))


async def test_latency_stats_reach_the_store(dispatcher: Dispatcher, clock: ManualClock) -> None:
    plan = await dispatcher.plan(_req(stream=True))
    opened = await dispatcher.open_stream(plan, Deadline.after(60, clock))
    async for _ in opened:
        pass
    store = await MemoryStore.open(clock=clock)
    await dispatcher.states.flush(store)
    stored = await store.hgetall("lat:fast")
    assert "ttft_ms" in stored and "e2e_ms" in stored
    fresh = DeploymentStates(clock)
    await fresh.load(store, ["fast"])
    assert fresh.latency("fast")[0] is not None
