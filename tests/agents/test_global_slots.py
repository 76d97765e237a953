"""A deployment's slots are shared by every worker on one Redis.

Two worker processes with 2 local slots each, on a deployment with 2 global slots: the model's
peak concurrency (counted in Redis by the model itself, across both processes) never exceeds 2,
and every run finishes exactly once with every tool effect once. Plus the gate's own contracts:
a dead holder's slot expires; a waiter that is cancelled leaves nothing behind.

Every wait is bounded: a hang fails with a message naming what was awaited.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from agents.runs import TERMINAL, RunStore
from agents.scheduler.global_slots import GlobalSlots
from tests.agents.procs import enqueue_runs, spawn_worker, stop_worker, wait_for

N_RUNS = 16


def spawn(redis_url: str, name: str, global_limit: int, log_dir: Path) -> subprocess.Popen[str]:
    args = [redis_url, name, str(global_limit), "2"]
    return spawn_worker("tests.agents.slots_worker_proc", args, name, log_dir)


async def test_slot_of_a_dead_holder_expires(clean_redis_url: str) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    try:
        slots = GlobalSlots(client, {"d": 1}, ttl_s=0.3)
        assert await slots.try_acquire("d", "a")
        assert not await slots.try_acquire("d", "b")
        assert await slots.try_acquire("unlimited", "b")  # no limit: never gated
        slots._held.clear()  # "a" is never renewed: as if its worker died
        await wait_for(lambda: slots.try_acquire("d", "b"), "the dead holder's slot to expire", 10.0)
        await slots.release("d", "b")
        assert await slots.try_acquire("d", "c")
    finally:
        await client.aclose()


async def test_renew_keeps_a_slot_past_its_ttl(clean_redis_url: str) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    try:
        slots = GlobalSlots(client, {"d": 1}, ttl_s=0.3)
        assert await slots.try_acquire("d", "a")
        for _ in range(8):  # 0.8 s of renewals: well past the 0.3 s ttl
            await slots.renew()
            await asyncio.sleep(0.1)
        assert not await slots.try_acquire("d", "b")
    finally:
        await client.aclose()


async def test_a_cancelled_waiter_leaves_no_holder(clean_redis_url: str) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    slots = GlobalSlots(client, {"d": 1}, ttl_s=30.0, poll_s=0.01)
    try:
        entered = asyncio.Event()
        leave = asyncio.Event()

        async def hold() -> None:
            async with slots.slot("d", "r1"):
                entered.set()
                await asyncio.wait_for(leave.wait(), 30.0)

        waiter_ran = False

        async def wait_then_run() -> None:
            nonlocal waiter_ran
            async with slots.slot("d", "r2"):
                waiter_ran = True  # r2 must not get the slot while r1 holds it

        holder = asyncio.create_task(hold())
        await asyncio.wait_for(entered.wait(), 10.0)
        waiter = asyncio.create_task(wait_then_run())
        await asyncio.sleep(0.1)  # lets the waiter be refused a few times (not needed for the checks)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiter, 10.0)
        members = [m.decode() for m in await client.zrange("agents:slots:d", 0, -1)]
        assert len(members) == 1 and members[0].startswith("r1:"), members  # the waiter left nothing
        assert not waiter_ran
        holder.cancel()  # cancelled while running: the slot is given back too
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(holder, 10.0)
        await wait_for(lambda: _empty(client), "the cancelled holder's slot to be given back", 10.0)
        assert slots._held == {"d": set()}
    finally:
        await slots.aclose()  # its wake-up subscriber
        await client.aclose()


async def _empty(client: aioredis.Redis) -> bool:
    return int(await client.zcard("agents:slots:d")) == 0


@pytest.mark.slow
async def test_two_worker_processes_share_the_deployments_slots(clean_redis_url: str, tmp_path: Path) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    store = RunStore(client)
    await store.ensure_group()
    workers = [spawn(clean_redis_url, name, 2, tmp_path) for name in ("w-a", "w-b")]
    try:
        ids = await enqueue_runs(store, N_RUNS)

        async def all_done() -> bool:
            recs = [await store.get(rid) for rid in ids]
            return all(r is not None and r.status in TERMINAL for r in recs)

        try:
            await wait_for(all_done, "all runs to finish", 90.0)
        except AssertionError as exc:
            recs = [await store.get(rid) for rid in ids]
            logs = "".join((tmp_path / f"{n}.log").read_text()[-1500:] for n in ("w-a", "w-b"))
            raise AssertionError(
                f"{exc}: {sorted({(r.status, r.owner, r.steps) for r in recs if r})}\n{logs}"
            ) from None
        for w, name in zip(workers, ("w-a", "w-b"), strict=True):
            await stop_worker(w, name, tmp_path)
        recs = [await store.get(rid) for rid in ids]
        assert all(r is not None and r.status == "succeeded" for r in recs), [r.error for r in recs if r]
        assert all(r is not None and r.completions == 1 for r in recs)
        assert all(r is not None and r.output.startswith("total=") for r in recs)
        assert {r.owner for r in recs if r} == {"w-a", "w-b"}, "both workers took runs"
        effects = [e.decode() for e in await client.lrange("effects", 0, -1)]
        assert len(effects) == len(set(effects)) == 3 * N_RUNS
        assert int(await client.get("model:fake:calls") or 0) >= 4 * N_RUNS
        peak = int(await client.get("model:fake:peak") or 0)
        assert 1 <= peak <= 2, f"{peak} model calls at once on a deployment with 2 global slots"
        assert int(await client.get("model:fake:in_flight") or 0) == 0
        assert int(await client.get("gate:waits") or 0) > 0, "the gate never held a run back"
        assert int(await client.zcard("agents:slots:fake")) == 0, "every slot given back"
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait(timeout=10)
        await client.aclose()
