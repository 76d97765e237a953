"""A worker process for the crash test: the real agents.worker.Worker, with the deterministic
fake backend (through the ChatBackend seam) and a tool whose side effect lands in Redis.

Usage: python -m tests.agents.worker_proc REDIS_URL CONSUMER
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis

from agents.checkpoint import RedisSaver
from agents.runs import RunStore
from agents.scheduler import RoundRobinPolicy
from agents.spec import AgentSpec
from agents.tools import FunctionTool, RedisToolLedger, Toolbox, ToolContext
from agents.worker import Worker, WorkerConfig
from core.clock import SystemClock
from tests.agents.fakes import ScriptedAgentBackend

SPEC = AgentSpec(name="adder", system_prompt="Add things.", max_steps=8, tools=[{"name": "add"}])  # type: ignore[list-item]

# The side effect honours the idempotency key (as an HTTP API given Idempotency-Key would):
# applied at most once per key; every attempt is counted so the test can see re-executions.
_EFFECT = """
redis.call('INCR', KEYS[3])
if redis.call('SET', KEYS[1], '1', 'NX') then redis.call('RPUSH', KEYS[2], ARGV[1]) end
"""


def effect_tool(client: Any) -> FunctionTool:
    script = client.register_script(_EFFECT)

    async def fn(args: Mapping[str, Any], ctx: ToolContext) -> str:
        await asyncio.sleep(0.02)
        await script(
            keys=[f"effect:{ctx.idempotency_key}", "effects", "effect_attempts"], args=[ctx.idempotency_key]
        )
        return str(int(args["a"]) + int(args["b"]))

    return FunctionTool(
        "add",
        "Add two integers.",
        fn,
        {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
    )


async def main(redis_url: str, consumer: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    store = RunStore(client)
    worker = Worker(
        store,
        {"adder": SPEC},
        ScriptedAgentBackend(delay_s=0.05),
        Toolbox([effect_tool(client)]),
        RedisToolLedger(client),
        RedisSaver(client),
        RoundRobinPolicy(slice_steps=2),
        SystemClock(),
        WorkerConfig(
            consumer=consumer, slots={"fake": 3}, max_inflight=6, lease_s=1.0, heartbeat_s=0.2, block_ms=100
        ),
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, worker.stop)
    async with worker:
        print("ready", flush=True)
        await worker.run()
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
