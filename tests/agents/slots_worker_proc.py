"""A worker process for the global slots test: the real agents.worker.Worker with a GlobalSlots
gate, and a model whose calls count themselves in Redis (in flight now, peak) so the test sees
the concurrency per deployment across every worker process.

Usage: python -m tests.agents.slots_worker_proc REDIS_URL CONSUMER GLOBAL_LIMIT LOCAL_SLOTS
(GLOBAL_LIMIT 0: no gate, per-worker slots only)
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import redis.asyncio as aioredis

from agents.checkpoint import RedisSaver
from agents.runs import RunStore
from agents.scheduler import RoundRobinPolicy
from agents.scheduler.global_slots import GlobalSlots
from agents.tools import RedisToolLedger, Toolbox
from agents.worker import Worker, WorkerConfig
from core.clock import SystemClock
from core.deadline import Deadline
from core.wire import ChatRequest, ChatResponse
from tests.agents.fakes import ScriptedAgentBackend
from tests.agents.worker_proc import SPEC, effect_tool

# KEYS: in-flight counter, peak, calls. Entering: count in, raise the peak; leaving: count out.
_ENTER = """
local n = redis.call('INCR', KEYS[1])
redis.call('INCR', KEYS[3])
local p = tonumber(redis.call('GET', KEYS[2]) or '0')
if n > p then redis.call('SET', KEYS[2], n) end
return n
"""


class CountedBackend(ScriptedAgentBackend):
    """The scripted model; every call counts in Redis under ``model:{deployment}:…``."""

    def __init__(self, client: Any) -> None:
        super().__init__(tool_rounds=3, delay_s=0.05)
        self._enter = client.register_script(_ENTER)
        self._r = client
        self._keys = ["model:fake:in_flight", "model:fake:peak", "model:fake:calls"]

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        await self._enter(keys=self._keys)
        try:
            return await super().complete(request, deadline)
        finally:
            await asyncio.shield(self._r.decr(self._keys[0]))


async def main(redis_url: str, consumer: str, global_limit: int, local_slots: int) -> None:
    client = aioredis.Redis.from_url(redis_url)
    store = RunStore(client)
    lease_s = 2.0
    gate = GlobalSlots(client, {"fake": global_limit}, ttl_s=lease_s) if global_limit > 0 else None
    worker = Worker(
        store,
        {"adder": SPEC},
        CountedBackend(client),
        Toolbox([effect_tool(client)]),
        RedisToolLedger(client),
        RedisSaver(client),
        RoundRobinPolicy(slice_steps=2),  # preempted every 2 steps: each dispatch gates again
        SystemClock(),
        WorkerConfig(
            consumer=consumer,
            slots={"fake": local_slots},
            max_inflight=2 * local_slots,
            lease_s=lease_s,
            heartbeat_s=0.2,
            block_ms=100,
        ),
        global_slots=gate,
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, worker.stop)
    async with worker:
        print("ready", flush=True)
        await worker.run()
    if gate is not None:
        await gate.aclose()
        await client.incrby("gate:waits", gate.waits)
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
