"""Assemble the agents runtime from its parts (used by ``switchboard worker`` and the gateway).

Everything here is an async context manager that owns what it opens (Redis client, HTTP client,
checkpointer, worker tasks) and closes it on exit.

Two modes behind the same interfaces (``agents.runs.RunStorage``, langgraph checkpointer,
``ToolLedger``): with a Redis URL the run queue is a Redis stream shared by every worker process;
without one (the embedded single-process default) the run store and queue live in this process,
written through to SQLite at ``runs_path`` (``SqliteRunStore`` + ``SqliteToolLedger``: unfinished
runs are admitted again after a restart) or only in memory when it is None (``MemoryRunStore``,
``MemoryToolLedger``), and checkpoints in SQLite at ``checkpoint_path`` (or in memory).

Retention: finished runs (succeeded, failed, cancelled) are forgotten ``retention_s`` after they
finished (default 7 days; None or 0 keeps them): a pruner task calls ``store.prune`` at start and
every ``prune_every_s`` (default: a tenth of the retention, at most an hour), and on Redis their
record and events also carry that TTL. Unfinished runs never expire. The same pass deletes the
checkpoints and tool-ledger entries of threads whose newest run finished longer than the
retention ago and that have no unfinished run (agents.thread_retention): a later run on such a
thread starts a fresh conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from agents.checkpoint import RedisSaver, open_checkpointer
from agents.memory_runs import MemoryRunStore
from agents.runs import RunStorage, RunStore
from agents.scheduler import SchedulerPolicy, build_policy
from agents.scheduler.global_slots import DEFAULT_AGING_S, GlobalSlots
from agents.service import RunService
from agents.spec import AgentSpec
from agents.sqlite_runs import SqliteRunStore, SqliteToolLedger
from agents.thread_retention import LocalThreadPruner, RedisThreadPruner, ThreadPruner
from agents.tools import AgentTool, MemoryToolLedger, RedisToolLedger, Toolbox, ToolCatalog, ToolLedger
from agents.tools.http import HttpTool
from agents.worker import CostFn, KeyCheckFn, SpendFn, Worker, WorkerConfig, free
from core.backend import ChatBackend
from core.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_RETENTION_S = 7 * 86400.0


def build_toolbox(
    specs: Mapping[str, AgentSpec],
    client: httpx.AsyncClient,
    extra: Iterable[AgentTool] = (),
    catalog: ToolCatalog | None = None,
) -> Toolbox:
    """Every agent's HTTP tools (allow-listed per agent) plus ``extra`` tools, by name."""
    tools: list[AgentTool] = list(extra)
    for spec in specs.values():
        tools += [HttpTool(t, spec.allowed_hosts, client) for t in spec.http_tools]
    return Toolbox(tools, catalog)


def default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class AgentsRuntime:
    service: RunService
    store: RunStorage
    workers: list[Worker]
    embedded: bool = False
    threads: ThreadPruner | None = None  # thread retention (checkpoints + ledger), see prune_forever


@asynccontextmanager
async def open_agents(
    redis_url: str | None,
    specs: Mapping[str, AgentSpec],
    backend: ChatBackend,
    clock: Clock,
    *,
    workers: int = 0,
    slots: Mapping[str, int] | None = None,
    policy: str = "priority",
    consumer: str | None = None,
    extra_tools: Iterable[AgentTool] = (),
    catalog: ToolCatalog | None = None,
    lease_s: float = 10.0,
    heartbeat_s: float = 2.0,
    cost: CostFn = free,
    on_spend: SpendFn | None = None,
    key_check: KeyCheckFn | None = None,
    checkpoint_path: str | Path | None = None,
    runs_path: str | Path | None = None,
    retention_s: float | None = DEFAULT_RETENTION_S,
    prune_every_s: float | None = None,
) -> AsyncIterator[AgentsRuntime]:
    """Open the run service and start ``workers`` worker loops in this process (0: API only;
    with Redis, runs are then executed by ``switchboard worker`` processes sharing it; embedded,
    they stay queued). ``cost`` prices each LLM step, ``on_spend`` charges it to the run's key and
    ``key_check`` stops a run whose key's budget ran out (see agents.worker). Finished runs are
    pruned ``retention_s`` after they finished (see the module doc)."""
    keep_s = retention_s if retention_s and retention_s > 0 else None
    async with contextlib.AsyncExitStack() as stack:
        http = httpx.AsyncClient(follow_redirects=False)
        stack.push_async_callback(http.aclose)
        store: RunStorage
        ledger: ToolLedger
        checkpointer: Any
        threads: ThreadPruner
        global_slots: GlobalSlots | None = None
        if redis_url:
            client = aioredis.Redis.from_url(redis_url)
            stack.push_async_callback(client.aclose)
            redis_store = store = RunStore(client, wall=clock.wall, retention_s=keep_s)
            redis_ledger, saver = RedisToolLedger(client), RedisSaver(client)
            ledger, checkpointer = redis_ledger, saver
            threads = RedisThreadPruner.of(redis_store, saver, redis_ledger)
            # every worker on this Redis (any process) shares each deployment's slots
            global_slots = GlobalSlots(
                client, slots or {"default": 8}, ttl_s=lease_s, aging_s=_aging_s(build_policy(policy))
            )
            stack.push_async_callback(global_slots.aclose)  # after the workers, before the client
        else:
            if checkpoint_path is not None:
                Path(checkpoint_path).parent.mkdir(parents=True, exist_ok=True)
            if runs_path is not None:
                sqlite_store = SqliteRunStore(runs_path, wall=clock.wall)
                sqlite_ledger = SqliteToolLedger(runs_path)
                stack.callback(sqlite_store.close)
                stack.callback(sqlite_ledger.close)
                if sqlite_store.restored:
                    log.info("embedded agents: %d unfinished runs admitted again", sqlite_store.restored)
                local_store: MemoryRunStore = sqlite_store
                local_ledger: SqliteToolLedger | MemoryToolLedger = sqlite_ledger
            else:
                local_store, local_ledger = MemoryRunStore(wall=clock.wall), MemoryToolLedger()
            store, ledger = local_store, local_ledger
            checkpointer = await stack.enter_async_context(open_checkpointer(sqlite_path=checkpoint_path))
            threads = LocalThreadPruner(local_store, checkpointer, local_ledger)
        await store.ensure_group()
        service = RunService(store, specs, clock)
        toolbox = build_toolbox(specs, http, extra_tools, catalog)
        started: list[Worker] = []
        tasks: list[asyncio.Task[None]] = []
        for i in range(workers):
            w = Worker(
                store,
                specs,
                backend,
                toolbox,
                ledger,
                checkpointer,
                build_policy(policy),
                clock,
                WorkerConfig(
                    consumer=f"{consumer or default_consumer()}-{i}",
                    slots=slots or {"default": 8},
                    lease_s=lease_s,
                    heartbeat_s=heartbeat_s,
                ),
                cost=cost,
                on_spend=on_spend,
                key_check=key_check,
                global_slots=global_slots,
            )
            await stack.enter_async_context(w)
            started.append(w)
            tasks.append(asyncio.get_running_loop().create_task(w.run(), name=f"agents-worker-{i}"))
        pruner = None
        if keep_s is not None:
            every = prune_every_s if prune_every_s else min(3600.0, max(1.0, keep_s / 10))
            pruner = asyncio.get_running_loop().create_task(
                prune_forever(store, clock, keep_s, every, threads), name="agents-prune"
            )
        try:
            yield AgentsRuntime(service, store, started, embedded=not redis_url, threads=threads)
        finally:
            if pruner is not None:
                pruner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pruner
            if type(store) is MemoryRunStore and (lost := store.unfinished()):
                log.warning(
                    "embedded agents: %d accepted runs were not finished and are lost (no Redis)", lost
                )
            for w in started:
                w.stop()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(t, timeout=5.0)


def _aging_s(policy: SchedulerPolicy) -> float:
    """The policy's aging period, so the global slot queue ages as the local one does."""
    aging = getattr(policy, "aging_s", None)
    return float(aging) if isinstance(aging, int | float) and aging > 0 else DEFAULT_AGING_S


async def prune_forever(
    store: RunStorage,
    clock: Clock,
    retention_s: float,
    every_s: float,
    threads: ThreadPruner | None = None,
) -> None:
    """Forget runs finished more than ``retention_s`` ago, and (with ``threads``) the
    checkpoints and ledger entries of threads idle that long, now and every ``every_s``, until
    cancelled. A store failure is logged and tried again next time."""
    while True:
        cutoff = clock.wall() - retention_s
        try:
            n = await store.prune(cutoff)
            if n:
                log.info("agents: forgot %d runs finished more than %.0f s ago", n, retention_s)
        except Exception as exc:
            log.warning("agents: pruning finished runs failed: %s", exc)
        if threads is not None:
            try:
                done = await threads.prune(cutoff)
                if done.threads:
                    log.info(
                        "agents: deleted the checkpoints and tool ledger of %d threads idle more than %.0f s",
                        done.threads,
                        retention_s,
                    )
            except Exception as exc:
                log.warning("agents: pruning idle threads failed: %s", exc)
        task = asyncio.current_task()
        if task is not None and task.cancelling():  # redis-py can swallow a cancel mid-command
            raise asyncio.CancelledError
        await clock.sleep(every_s)
