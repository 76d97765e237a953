"""Fencing: a worker that stalls past its lease writes no checkpoint afterwards; the run is taken
over (here by another consumer that then goes silent, and back by the same worker's reclaim) and
still finishes once, with its side effect once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from langgraph.checkpoint.base import empty_checkpoint

from agents.checkpoint import RedisSaver
from agents.checkpoint.fenced import FencedSaver, LeaseLost
from agents.runs import TERMINAL, RunRecord, RunStore
from agents.scheduler import RoundRobinPolicy
from agents.tools import FunctionTool, RedisToolLedger, Toolbox, ToolContext
from agents.worker import Worker, WorkerConfig
from core.clock import SystemClock
from tests.agents.fakes import ScriptedAgentBackend
from tests.agents.worker_proc import SPEC, effect_tool


async def test_fenced_saver_refuses_writes_but_reads(clean_redis_url: str) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    held = [True]
    saver = FencedSaver(RedisSaver(client), lambda: held[0])
    config: Any = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
    try:
        stored = await saver.aput(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
        assert await saver.aget_tuple(stored) is not None
        held[0] = False
        with pytest.raises(LeaseLost):
            await saver.aput(stored, empty_checkpoint(), {"source": "loop", "step": 0}, {})
        with pytest.raises(LeaseLost):
            await saver.aput_writes(stored, [("messages", [])], "task-1")
        assert (await saver.aget_tuple(config)) is not None  # reads still pass
        assert len([c async for c in saver.alist(config)]) == 1  # nothing was written while fenced
    finally:
        await client.aclose()


@pytest.mark.slow
async def test_a_stalled_worker_drops_the_run_and_it_still_finishes_once(clean_redis_url: str) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    store = RunStore(client)
    inner = effect_tool(client)
    stalled: list[bool] = []

    async def stalling(args: Mapping[str, Any], ctx: ToolContext) -> str:
        out = await inner.fn(args, ctx)
        if not stalled:  # block the event loop (no heartbeats) well past the lease, once
            stalled.append(True)
            time.sleep(1.5)  # noqa: ASYNC251 - the stall is the point
            # meanwhile another worker took the run over (and then died): whichever of this
            # worker's heartbeat or its next checkpoint write comes first must give the run up
            sync = redis.Redis.from_url(clean_redis_url)
            try:
                pending = sync.xpending_range(store.queue_key, RunStore.GROUP, "-", "+", 10)
                sync.xclaim(store.queue_key, RunStore.GROUP, "w-ghost", 0, [p["message_id"] for p in pending])
            finally:
                sync.close()
        return out

    tool = FunctionTool("add", inner.description, stalling, inner.parameters)
    worker = Worker(
        store,
        {"adder": SPEC},
        ScriptedAgentBackend(delay_s=0.01),
        Toolbox([tool]),
        RedisToolLedger(client),
        RedisSaver(client),
        RoundRobinPolicy(slice_steps=8),
        SystemClock(),
        WorkerConfig(
            consumer="w-1", slots={"fake": 1}, max_inflight=1, lease_s=0.5, heartbeat_s=0.1, block_ms=50
        ),
    )
    try:
        async with worker:
            task = asyncio.create_task(worker.run())
            await store.create(RunRecord("run-f", "adder", "th-f", "question run-f"), "enqueue")
            for _ in range(600):
                rec = await store.get("run-f")
                if rec is not None and rec.status in TERMINAL:
                    break
                await asyncio.sleep(0.05)
            worker.stop()
            await task
        rec = await store.get("run-f")
        assert rec is not None and rec.status == "succeeded", rec
        assert rec.completions == 1 and rec.output.startswith("total=")
        # given up once: at the fenced checkpoint write or at the heartbeat, whichever ran first
        assert worker.leases_lost + worker.runs_taken_over >= 1
        effects = await client.lrange("effects", 0, -1)
        assert len(effects) == len(set(effects)) == 3  # every tool effect once, the stalled one too
    finally:
        await client.aclose()
