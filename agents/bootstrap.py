"""Assemble the agents runtime from its parts (used by ``switchboard worker`` and the gateway).

Everything here is an async context manager that owns what it opens (Redis client, HTTP client,
worker tasks) and closes it on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis

from agents.checkpoint import RedisSaver
from agents.runs import RunStore
from agents.scheduler import build_policy
from agents.service import RunService
from agents.spec import AgentSpec
from agents.tools import AgentTool, RedisToolLedger, Toolbox, ToolCatalog
from agents.tools.http import HttpTool
from agents.worker import Worker, WorkerConfig
from core.backend import ChatBackend
from core.clock import Clock


def build_toolbox(specs: Mapping[str, AgentSpec], client: httpx.AsyncClient,
                  extra: Iterable[AgentTool] = (), catalog: ToolCatalog | None = None) -> Toolbox:
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
    store: RunStore
    workers: list[Worker]


@asynccontextmanager
async def open_agents(redis_url: str, specs: Mapping[str, AgentSpec], backend: ChatBackend, clock: Clock, *,
                      workers: int = 0, slots: Mapping[str, int] | None = None, policy: str = "priority",
                      consumer: str | None = None, extra_tools: Iterable[AgentTool] = (),
                      catalog: ToolCatalog | None = None, lease_s: float = 10.0,
                      heartbeat_s: float = 2.0) -> AsyncIterator[AgentsRuntime]:
    """Open the run service and start ``workers`` worker loops in this process (0: API only;
    runs are executed by ``switchboard worker`` processes sharing the Redis)."""
    client = aioredis.Redis.from_url(redis_url)
    http = httpx.AsyncClient(follow_redirects=False)
    store = RunStore(client)
    await store.ensure_group()
    service = RunService(store, specs, clock)
    toolbox = build_toolbox(specs, http, extra_tools, catalog)
    started: list[Worker] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            for i in range(workers):
                w = Worker(store, specs, backend, toolbox, RedisToolLedger(client), RedisSaver(client),
                           build_policy(policy), clock,
                           WorkerConfig(consumer=f"{consumer or default_consumer()}-{i}", slots=slots or {"default": 8},
                                        lease_s=lease_s, heartbeat_s=heartbeat_s))
                await stack.enter_async_context(w)
                started.append(w)
                tasks.append(asyncio.get_running_loop().create_task(w.run(), name=f"agents-worker-{i}"))
            try:
                yield AgentsRuntime(service, store, started)
            finally:
                for w in started:
                    w.stop()
                for t in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await asyncio.wait_for(t, timeout=5.0)
    finally:
        await http.aclose()
        await client.aclose()
