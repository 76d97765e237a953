"""Global slot wake-ups, notified vs polling: ``python -m bench.global_slots --json``.

Two GlobalSlots instances (each with its own Redis client, as two workers) share one slot of a
deployment. Per round and variant (interleaved): one holds the slot, the other queues for it and
waits a random 0–100 ms more (so a poller is at a random phase), then the holder releases; the
figure is the time from just before the release call until the waiter is inside its slot
(``handoff_ms``). Then ``--waiters`` runs wait on a held slot for ``--idle-s`` seconds with no
release: ``script_calls_per_waiter_s`` counts the round trips that costs (INFO commandstats) and
``redis_cmds_per_waiter_s`` the Redis commands, those run inside the scripts included, and
``pubsub_connections`` the pub/sub connections open meanwhile (two gate instances). Variants: ``notify`` (pub/sub wake-up, poll 0.5 s safety net, the
default), ``poll_50ms`` (the previous gate's interval) and ``poll_10ms``. Uses ``--redis-url`` or
a throw-away ``redis-server``. Prints JSON; machine-dependent, quote the load average with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from typing import Any

import redis.asyncio as aioredis

from agents.scheduler.global_slots import GlobalSlots
from bench.redis_local import redis_for_bench

VARIANTS: dict[str, dict[str, Any]] = {
    "notify": {"notify": True, "poll_s": 0.5},
    "poll_50ms": {"notify": False, "poll_s": 0.05},
    "poll_10ms": {"notify": False, "poll_s": 0.01},
}


async def _queued(client: aioredis.Redis, key: str, run_id: str) -> None:
    for _ in range(5000):
        members = [m for m in await client.zrange(key, 0, -1) if isinstance(m, bytes)]
        if any(m.decode().startswith(f"{run_id}:") for m in members):
            return
        await asyncio.sleep(0.002)
    raise TimeoutError(f"{run_id} never queued")


async def handoff(a: GlobalSlots, b: GlobalSlots, probe: aioredis.Redis, dep: str, run: str) -> float:
    """Seconds from just before the holder's release until the waiter holds the slot."""
    release = asyncio.Event()
    inside = asyncio.Event()
    held = asyncio.Event()
    got: list[float] = []

    async def hold() -> None:
        async with a.slot(dep, f"{run}-h"):
            held.set()
            await release.wait()
            got.append(time.perf_counter())  # t0: the release call follows the block

    async def wait() -> None:
        async with b.slot(dep, f"{run}-w"):
            got.append(time.perf_counter())
            inside.set()

    holder = asyncio.create_task(hold())
    await held.wait()
    waiter = asyncio.create_task(wait())
    await asyncio.wait_for(_queued(probe, f"agents:slots:{dep}:wait", f"{run}-w"), 10)
    await asyncio.sleep(random.random() * 0.1)
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, waiter), 30)
    return got[1] - got[0]


async def _counts(probe: aioredis.Redis) -> tuple[int, int]:
    """(script calls, commands incl. those run inside scripts) so far."""
    stats = await probe.info("commandstats")
    scripts = sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))
    return scripts, int((await probe.info("stats"))["total_commands_processed"])


async def idle_cost(
    url: str, cfg: dict[str, Any], dep: str, waiters: int, idle_s: float
) -> tuple[float, float, int]:
    clients = [aioredis.Redis.from_url(url) for _ in range(2)]
    probe = aioredis.Redis.from_url(url)
    gates = [GlobalSlots(c, {dep: 1}, ttl_s=30.0, **cfg) for c in clients]
    try:
        stop = asyncio.Event()
        held = asyncio.Event()

        async def hold() -> None:
            async with gates[0].slot(dep, "h"):
                held.set()
                await stop.wait()

        holder = asyncio.create_task(hold())
        await held.wait()

        async def wait(i: int) -> None:
            async with gates[i % 2].slot(dep, f"w{i}"):
                pass

        tasks = [asyncio.create_task(wait(i)) for i in range(waiters)]
        await asyncio.sleep(0.3)  # all queued and subscribed
        s0, c0 = await _counts(probe)
        await asyncio.sleep(idle_s)
        s1, c1 = await _counts(probe)
        conns = len(await probe.client_list(_type="pubsub"))
        stop.set()
        await asyncio.wait_for(asyncio.gather(holder, *tasks), 30)
        per = waiters * idle_s
        return (s1 - s0) / per, (c1 - c0 - 2) / per, conns  # less the INFO calls
    finally:
        for g in gates:
            await g.aclose()
        for c in [*clients, probe]:
            await c.aclose()


async def run(url: str, rounds: int, waiters: int, idle_s: float) -> dict[str, Any]:
    clients = [aioredis.Redis.from_url(url) for _ in range(3)]
    pairs = {
        name: (
            GlobalSlots(clients[0], {name: 1}, ttl_s=30.0, **cfg),
            GlobalSlots(clients[1], {name: 1}, ttl_s=30.0, **cfg),
        )
        for name, cfg in VARIANTS.items()
    }
    try:
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for r in range(rounds):
            order = list(VARIANTS)
            random.shuffle(order)
            for name in order:
                a, b = pairs[name]
                samples[name].append(await handoff(a, b, clients[2], name, f"r{r}"))
    finally:
        for pair in pairs.values():
            for g in pair:
                await g.aclose()
        for c in clients:
            await c.aclose()
    out: dict[str, Any] = {}
    for name, cfg in VARIANTS.items():
        ms = sorted(x * 1000 for x in samples[name])
        out[name] = {
            "handoff_ms_p50": round(statistics.median(ms), 2),
            "handoff_ms_p90": round(ms[int(0.9 * (len(ms) - 1))], 2),
            "handoff_ms_max": round(ms[-1], 2),
        }
        calls, cmds, conns = await idle_cost(url, cfg, f"{name}-idle", waiters, idle_s)
        out[name]["script_calls_per_waiter_s"] = round(calls, 2)
        out[name]["redis_cmds_per_waiter_s"] = round(cmds, 1)
        out[name]["pubsub_connections"] = conns
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis-url")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--waiters", type=int, default=8)
    ap.add_argument("--idle-s", type=float, default=3.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with redis_for_bench(args.redis_url) as url:
        if url is None:
            raise SystemExit("redis-server not found and no --redis-url given")
        res = asyncio.run(run(url, args.rounds, args.waiters, args.idle_s))
    res["rounds"] = args.rounds
    res["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(res, indent=2 if not args.json else None))


if __name__ == "__main__":
    main()
