"""A deployment's slots are shared by every worker on one Redis: two workers with two local slots
each never run more than the deployment's two steps at once; a dead holder's slot frees itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from agents.checkpoint import RedisSaver
from agents.runs import TERMINAL, RunRecord, RunStore
from agents.scheduler import FifoPolicy
from agents.scheduler.global_slots import GlobalSlots
from agents.tools import RedisToolLedger, Toolbox
from agents.worker import Worker, WorkerConfig
from core.clock import SystemClock
from core.deadline import Deadline
from core.wire import ChatRequest, ChatResponse
from tests.agents.fakes import ScriptedAgentBackend
from tests.agents.worker_proc import SPEC, effect_tool


class CountingBackend(ScriptedAgentBackend):
    """The scripted model, counting how many calls are in flight at once."""

    def __init__(self) -> None:
        super().__init__(tool_rounds=1, delay_s=0.05)
        self.in_flight = 0
        self.peak = 0

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await super().complete(request, deadline)
        finally:
            self.in_flight -= 1


async def test_slot_of_a_dead_holder_expires(clean_redis_url: str) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    try:
        slots = GlobalSlots(client, {"d": 1}, ttl_s=0.3)
        assert await slots.try_acquire("d", "a")
        assert not await slots.try_acquire("d", "b")
        assert await slots.try_acquire("unlimited", "b")  # no limit: never gated
        await asyncio.sleep(0.4)  # "a" never renewed: as if its worker died
        assert await slots.try_acquire("d", "b")
        await slots.release("d", "b")
        assert await slots.try_acquire("d", "c")
    finally:
        await client.aclose()


@pytest.mark.slow
async def test_two_workers_share_the_deployments_slots(clean_redis_url: str) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    store = RunStore(client)
    backend = CountingBackend()
    workers: list[Worker] = []
    gates: list[GlobalSlots] = []
    for name in ("w-1", "w-2"):
        gate = GlobalSlots(client, {"fake": 2}, ttl_s=5.0)
        gates.append(gate)
        workers.append(
            Worker(
                store,
                {"adder": SPEC},
                backend,
                Toolbox([effect_tool(client)]),
                RedisToolLedger(client),
                RedisSaver(client),
                FifoPolicy(),
                SystemClock(),
                WorkerConfig(
                    consumer=name,
                    slots={"fake": 2},
                    max_inflight=4,
                    lease_s=5.0,
                    heartbeat_s=0.2,
                    block_ms=50,
                ),
                global_slots=gate,
            )
        )
    try:
        for w in workers:
            await w.__aenter__()
        tasks = [asyncio.create_task(w.run()) for w in workers]
        ids = [f"run-{i}" for i in range(10)]
        for rid in ids:
            await store.create(RunRecord(rid, "adder", f"th-{rid}", f"q {rid}"), "enqueue")

        async def done() -> list[Any]:
            return [await store.get(rid) for rid in ids]

        for _ in range(1200):
            recs = await done()
            if all(r is not None and r.status in TERMINAL for r in recs):
                break
            await asyncio.sleep(0.05)
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)
        recs = await done()
        assert all(r is not None and r.status == "succeeded" for r in recs), recs
        assert {r.owner for r in recs} == {"w-1", "w-2"}  # both workers took runs
        assert backend.peak <= 2  # never more than the deployment's 2 slots, across both workers
        assert sum(g.waits for g in gates) > 0  # the gate did hold runs back
        assert await client.zcard("agents:slots:fake") == 0  # every slot given back
    finally:
        for w in workers:
            await w.__aexit__(None, None, None)
        await client.aclose()
