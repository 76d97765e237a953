"""Context-switch cost on real Redis: checkpoint save (aput) and restore (aget_tuple) latency of
the Redis checkpointer for agent states of several sizes."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import redis.asyncio as aioredis
from langgraph.checkpoint.base import empty_checkpoint

from agents.checkpoint import RedisSaver
from agents.scheduler.accounting import percentile
from bench.redis_local import redis_for_bench


async def measure(redis_url: str, sizes: list[int], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"loadavg_1m_before": round(os.getloadavg()[0], 2)}
    client = aioredis.Redis.from_url(redis_url)
    try:
        saver = RedisSaver(client, prefix=f"bench-{uuid.uuid4().hex[:8]}")
        for size in sizes:
            save, restore, total, ping, serde = [], [], [], [], []
            cfg: Any = {"configurable": {"thread_id": f"t{size}", "checkpoint_ns": ""}}
            version = None
            for i in range(n + 20):  # the first 20 warm the connection and allocator up
                ck = empty_checkpoint()
                # a growing conversation: messages as dicts, the state the ReAct graph keeps
                msg = {"role": "assistant", "content": "y" * (size - 64), "step": i}
                version = saver.get_next_version(version, None)
                ck["channel_values"] = {"messages": [msg], "steps": i}
                ck["channel_versions"] = {"messages": version, "steps": version}
                # what the tail is made of: one no-op round trip, and (de)serializing the state
                p0 = time.perf_counter()
                await client.ping()
                p1 = time.perf_counter()
                saver.serde.loads_typed(saver.serde.dumps_typed([msg]))
                p2 = time.perf_counter()
                t0 = time.perf_counter()
                cfg = await saver.aput(cfg, ck, {"step": i}, ck["channel_versions"])
                t1 = time.perf_counter()
                got = await saver.aget_tuple({"configurable": {"thread_id": f"t{size}", "checkpoint_ns": ""}})
                t2 = time.perf_counter()
                assert got is not None and got.checkpoint["channel_values"]["steps"] == i
                if i < 20:
                    continue
                save.append(t1 - t0)
                restore.append(t2 - t1)
                total.append(t2 - t0)
                ping.append(p1 - p0)
                serde.append(p2 - p1)
            out[f"{size // 1000}KB"] = {
                "n": n,
                "save_ms_p50": round(1e3 * percentile(save, 50), 3),
                "save_ms_p99": round(1e3 * percentile(save, 99), 3),
                "restore_ms_p50": round(1e3 * percentile(restore, 50), 3),
                "restore_ms_p99": round(1e3 * percentile(restore, 99), 3),
                "save_restore_ms_p99": round(1e3 * percentile(total, 99), 3),
                "save_restore_ms_max": round(1e3 * max(total), 3),
                "ping_ms_p50": round(1e3 * percentile(ping, 50), 3),
                "ping_ms_p99": round(1e3 * percentile(ping, 99), 3),
                "serialize_deserialize_ms_p99": round(1e3 * percentile(serde, 99), 3),
                "loadavg_1m_after": round(os.getloadavg()[0], 2),
            }
            await saver.adelete_thread(f"t{size}")
    finally:
        await client.aclose()
    return out


def run(redis_url: str | None, sizes: list[int], n: int) -> dict[str, Any]:
    """Checkpoint timing and the resume check against ``redis_url``, or a private redis-server
    (no persistence) started for the purpose."""
    from bench.scheduler_resume import check

    async def both(url: str) -> dict[str, Any]:
        return {"timing": await measure(url, sizes, n), "resume_check": await check(url)}

    with redis_for_bench(redis_url) as url:
        if url is None:
            return {"skipped": "redis-server not installed"}
        out = asyncio.run(both(url))
        return out if redis_url else out | {"redis": "local, private, no persistence"}
