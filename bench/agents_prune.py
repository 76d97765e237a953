"""Retention cost of the agent run stores: ``python -m bench.agents_prune --json``.

Per store (embedded memory, embedded SQLite, a throw-away ``redis-server`` or ``--redis-url``):
creates ``--runs`` runs plus 100 that stay unfinished, completes the finished ones (timing
``complete``: on Redis with the retention TTL and finish index, and without retention), then
times one ``prune`` that forgets all finished runs and checks that exactly the unfinished ones
are left. Then thread retention (agents.thread_retention): ``--threads`` threads, each with
``--checkpoints`` checkpoints (real checkpointer: RedisSaver, AsyncSqliteSaver, InMemorySaver)
with pending writes and 2 tool-ledger entries, whose one run finished, plus 100 threads with an
unfinished run; times one thread prune that deletes the idle ones and checks the busy ones kept.
Prints JSON. Machine-dependent; quote the load average with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agents.checkpoint import RedisSaver
from agents.memory_runs import MemoryRunStore
from agents.runs import RunRecord, RunStorage, RunStore
from agents.sqlite_runs import SqliteRunStore, SqliteToolLedger
from agents.thread_retention import LocalThreadPruner, RedisThreadPruner, ThreadPruner
from agents.tools import MemoryToolLedger, RedisToolLedger, ToolLedger
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


async def measure_threads(
    store: RunStorage,
    saver: BaseCheckpointSaver[Any],
    ledger: ToolLedger,
    pruner: ThreadPruner,
    threads: int,
    checkpoints: int,
) -> dict[str, Any]:
    await store.ensure_group()
    for i in range(threads + UNFINISHED):
        thread = f"t/{i}"
        parent = None
        for step in range(checkpoints):
            ck = empty_checkpoint()
            ck["channel_values"] = {"messages": f"step {step} " + "x" * 200}
            ck["channel_versions"] = {"messages": saver.get_next_version(None, None)}
            conf: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
            if parent is not None:
                conf["configurable"]["checkpoint_id"] = parent
            saved = await saver.aput(conf, ck, {"step": step}, ck["channel_versions"])
            await saver.aput_writes(saved, [("messages", "w")], task_id=f"task-{step}")
            parent = saved["configurable"]["checkpoint_id"]
        for call in range(2):
            await ledger.claim(f"{thread}:call_{call}", thread)
            await ledger.record(f"{thread}:call_{call}", "ok")
        await store.create(RunRecord(f"r{i}", "a", thread, "hi", created_at=i), "enqueue")
        if i < threads:
            await store.complete(f"r{i}", thread, "succeeded", output="ok")
    s = time.perf_counter()
    done = await pruner.prune(time.time() + 1)
    prune_s = time.perf_counter() - s
    kept = await saver.aget_tuple({"configurable": {"thread_id": f"t/{threads}", "checkpoint_ns": ""}})
    gone = await saver.aget_tuple({"configurable": {"thread_id": "t/0", "checkpoint_ns": ""}})
    return {
        "threads_idle": threads,
        "checkpoints_per_thread": checkpoints,
        "threads_pruned": done.threads,
        "busy_thread_kept": kept is not None and gone is None,
        "prune_ms_total": round(1000 * prune_s, 1),
        "prune_us_per_thread": round(1e6 * prune_s / max(1, done.threads), 1),
        "redis_script_calls": done.calls,
        "redis_keys_unlinked": done.keys if done.calls else None,
    }


async def thread_retention(args: argparse.Namespace, redis_url: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    n, k = args.threads, args.checkpoints
    mem, mem_saver, mem_ledger = MemoryRunStore(max_finished=10**9), InMemorySaver(), MemoryToolLedger()
    out["embedded"] = await measure_threads(
        mem, mem_saver, mem_ledger, LocalThreadPruner(mem, mem_saver, mem_ledger), n, k
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    sqlite = SqliteRunStore(tmp / "runs.sqlite", max_finished=10**9)
    sqlite_ledger = SqliteToolLedger(tmp / "runs.sqlite")
    async with AsyncSqliteSaver.from_conn_string(str(tmp / "cp.sqlite")) as sqlite_saver:
        pruner = LocalThreadPruner(sqlite, sqlite_saver, sqlite_ledger)
        out["embedded_sqlite"] = await measure_threads(sqlite, sqlite_saver, sqlite_ledger, pruner, n, k)
    sqlite.close()
    sqlite_ledger.close()
    if redis_url:
        client = aioredis.Redis.from_url(redis_url)
        try:
            await client.flushdb()
            store, saver, ledger = RunStore(client), RedisSaver(client), RedisToolLedger(client)
            out["redis"] = await measure_threads(
                store, saver, ledger, RedisThreadPruner.of(store, saver, ledger), n, k
            )
            idle = re.compile(rb"t(?:%2F|/)(\d+)[|:]")
            names = [key async for key in client.scan_iter(count=1000)]
            out["redis"]["idle_thread_keys_left"] = sum(
                1 for key in names if (m := idle.search(key)) and int(m.group(1)) < n
            )
            await client.flushdb()
        finally:
            await client.aclose()
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"load_avg": os.getloadavg()}
    if args.runs > 0:
        out["embedded"] = await measure(MemoryRunStore(max_finished=10**9), args.runs)
        sqlite = SqliteRunStore(Path(tempfile.mkdtemp(prefix="bench-")) / "runs.sqlite", max_finished=10**9)
        out["embedded_sqlite"] = await measure(sqlite, args.runs)
        sqlite.close()
    with redis_for_bench(args.redis_url) as redis_url:
        if redis_url and args.runs > 0:
            client = aioredis.Redis.from_url(redis_url)
            try:
                await client.flushdb()
                out["redis_retention"] = await measure(RunStore(client, retention_s=7 * 86400.0), args.runs)
                await client.flushdb()
                out["redis_no_retention"] = await measure(RunStore(client, retention_s=None), args.runs)
                await client.flushdb()
            finally:
                await client.aclose()
        if args.threads > 0:
            out["threads"] = await thread_retention(args, redis_url)
    out["load_avg_after"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000, help="finished runs (0: skip run retention)")
    parser.add_argument(
        "--threads", type=int, default=1000, help="idle threads for thread retention (0: skip it)"
    )
    parser.add_argument("--checkpoints", type=int, default=8, help="checkpoints per thread")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
