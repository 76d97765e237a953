"""Retention cost of the agent run stores: ``python -m bench.agents_prune --json``.

Per store (embedded memory, embedded SQLite, a throw-away ``redis-server`` or ``--redis-url``):
creates ``--runs`` runs plus 100 that stay unfinished, completes the finished ones (timing
``complete``: on Redis with the retention TTL and finish index, and without retention), then
times one ``prune`` that forgets all finished runs and checks that exactly the unfinished ones
are left. Prints JSON. Machine-dependent; quote the load average with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from agents.memory_runs import MemoryRunStore
from agents.runs import RunRecord, RunStorage, RunStore
from agents.sqlite_runs import SqliteRunStore
from bench.redis_local import redis_for_bench

UNFINISHED = 100


async def measure(store: RunStorage, runs: int) -> dict[str, Any]:
    await store.ensure_group()
    for i in range(runs + UNFINISHED):
        await store.create(
            RunRecord(f"r{i}", "a", f"th{i}", "hi", tenant=f"t{i % 4}", created_at=i), "enqueue"
        )
    complete: list[float] = []
    for i in range(runs):
        s = time.perf_counter()
        await store.complete(f"r{i}", f"th{i}", "succeeded", output="ok")
        complete.append(time.perf_counter() - s)
    s = time.perf_counter()
    pruned = await store.prune(time.time() + 1)
    prune_s = time.perf_counter() - s
    left, _ = await store.list_runs(limit=100)
    return {
        "finished": runs,
        "pruned": pruned,
        "unfinished_left": len(left),
        "complete_ms_p50": round(1000 * statistics.median(complete), 3),
        "prune_ms_total": round(1000 * prune_s, 1),
        "prune_us_per_run": round(1e6 * prune_s / max(1, pruned), 1),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"load_avg": os.getloadavg()}
    out["embedded"] = await measure(MemoryRunStore(max_finished=10**9), args.runs)
    sqlite = SqliteRunStore(Path(tempfile.mkdtemp(prefix="bench-")) / "runs.sqlite", max_finished=10**9)
    out["embedded_sqlite"] = await measure(sqlite, args.runs)
    sqlite.close()
    with redis_for_bench(args.redis_url) as redis_url:
        if redis_url:
            client = aioredis.Redis.from_url(redis_url)
            try:
                await client.flushdb()
                out["redis_retention"] = await measure(RunStore(client, retention_s=7 * 86400.0), args.runs)
                await client.flushdb()
                out["redis_no_retention"] = await measure(RunStore(client, retention_s=None), args.runs)
                await client.flushdb()
            finally:
                await client.aclose()
    out["load_avg_after"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
