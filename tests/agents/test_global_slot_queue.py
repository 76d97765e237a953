"""Waiting for a global slot is a queue ordered across workers: priority class aged by waiting
(``aging_s`` per class, on the Redis clock), then arrival.

Each GlobalSlots instance has its own Redis client, as separate worker processes would. Notified
waiters poll only once an hour here, so a waiter that gets its slot was woken by the release's
notification; the poll-only variant (``notify=False``) must keep the same order. Every wait is bounded (a hang fails naming what it awaited).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from agents.scheduler.global_slots import GlobalSlots
from tests.agents.procs import wait_for
from tests.agents.slot_holders import Holder, Served

HIGH, NORMAL, LOW = 0, 1, 2  # the scheduler's classes: lower is more urgent
WAIT = "agents:slots:d:wait"


@pytest.fixture
async def clients(clean_redis_url: str) -> AsyncIterator[list[aioredis.Redis]]:
    made = [aioredis.Redis.from_url(clean_redis_url) for _ in range(3)]
    yield made
    for c in made:
        await c.aclose()


@pytest.fixture
async def gates() -> AsyncIterator[list[GlobalSlots]]:
    """Gates a test opens; their wake-up subscribers are stopped before the clients close."""
    made: list[GlobalSlots] = []
    yield made
    for g in made:
        await g.aclose()


async def queued(client: aioredis.Redis) -> list[str]:
    """The run ids waiting for deployment d, best first."""
    return [m.decode().split(":")[0] for m in await client.zrange(WAIT, 0, -1)]


def queue_is(client: aioredis.Redis, expected: list[str]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await queued(client) == expected

    return check


@pytest.mark.parametrize(("notify", "poll_s"), [(True, 3600.0), (False, 0.05)], ids=["notified", "polling"])
async def test_a_release_serves_high_priority_first_then_each_class_by_arrival(
    clients: list[aioredis.Redis], gates: list[GlobalSlots], notify: bool, poll_s: float
) -> None:
    x_worker, a, b = (GlobalSlots(c, {"d": 1}, ttl_s=30.0, poll_s=poll_s, notify=notify) for c in clients)
    gates += [x_worker, a, b]
    holder = Holder(x_worker, "X")
    await holder.start()
    served = Served()

    tasks = []
    for slots, run_id, prio, expected in (
        (a, "L1", LOW, ["L1"]),
        (a, "L2", LOW, ["L1", "L2"]),
        (b, "H", HIGH, ["H", "L1", "L2"]),  # arrives last, queued first
    ):
        tasks.append(asyncio.create_task(served.run(slots, run_id, prio)))
        await wait_for(queue_is(clients[0], expected), f"{run_id} to queue as {expected}", 10.0)
    assert served.order == []
    await holder.leave()
    await asyncio.wait_for(asyncio.gather(*tasks), 30.0)
    assert served.order == ["H", "L1", "L2"]
    assert await queued(clients[0]) == []
    assert int(await clients[0].zcard("agents:slots:d")) == 0


async def test_a_dead_workers_waiter_stops_blocking_the_queue_after_its_ttl(
    clients: list[aioredis.Redis], gates: list[GlobalSlots]
) -> None:
    live = GlobalSlots(clients[0], {"d": 1}, ttl_s=30.0, poll_s=0.05)
    dead = GlobalSlots(clients[1], {"d": 1}, ttl_s=0.3)
    gates += [live, dead]
    holder = Holder(live, "X")
    await holder.start()
    # D queues first and most urgent, then its worker "dies": nothing renews or retries it
    assert not await dead.try_acquire("d", "D:1", HIGH)
    seen_at_grant: list[str] = []

    async def run() -> None:
        async with live.slot("d", "W", LOW):
            seen_at_grant.extend(await queued(clients[0]))

    waiter = asyncio.create_task(run())
    await wait_for(queue_is(clients[0], ["D", "W"]), "W to queue behind D", 10.0)
    await holder.leave()
    await asyncio.wait_for(waiter, 30.0)  # D expired; W was served
    assert seen_at_grant == []  # W got the slot only once D had left the queue
    assert await queued(clients[0]) == []
    assert int(await clients[0].zcard("agents:slots:d:wait_exp")) == 0


async def test_a_cancelled_waiter_leaves_the_queue_and_the_next_one_is_served(
    clients: list[aioredis.Redis], gates: list[GlobalSlots]
) -> None:
    x_worker, a, b = (GlobalSlots(c, {"d": 1}, ttl_s=30.0, poll_s=3600.0) for c in clients)
    gates += [x_worker, a, b]
    holder = Holder(x_worker, "X")
    await holder.start()
    served = Served()

    first = asyncio.create_task(served.run(b, "C1", NORMAL))
    await wait_for(queue_is(clients[0], ["C1"]), "C1 to queue", 10.0)
    second = asyncio.create_task(served.run(a, "C2", NORMAL))
    await wait_for(queue_is(clients[0], ["C1", "C2"]), "C2 to queue behind C1", 10.0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(first, 10.0)
    assert await queued(clients[0]) == ["C2"]
    assert b._held == {"d": set()}  # no longer renewed either
    await holder.leave()
    await asyncio.wait_for(second, 30.0)
    assert served.order == ["C2"]
    assert await queued(clients[0]) == []


async def test_renew_keeps_a_waiter_queued_past_its_ttl(clients: list[aioredis.Redis]) -> None:
    slots = GlobalSlots(clients[0], {"d": 1}, ttl_s=0.3)
    other = GlobalSlots(clients[1], {"d": 1}, ttl_s=30.0)
    assert await other.try_acquire("d", "X:1")
    assert not await slots.try_acquire("d", "D:1", LOW)
    for _ in range(8):  # 0.8 s of heartbeats, no attempts: well past the 0.3 s ttl
        await slots.renew()
        await asyncio.sleep(0.1)
    assert not await other.try_acquire("d", "W:1", HIGH)  # any call purges what has expired
    assert await queued(clients[0]) == ["W", "D"]  # D is still there, behind the more urgent W


async def redis_now(client: aioredis.Redis) -> float:
    sec, usec = await client.time()
    return float(sec) + usec / 1e6


@pytest.mark.parametrize(
    ("aging_s", "expected"), [(0.2, ["L", "H"]), (3600.0, ["H", "L"])], ids=["aged", "strict"]
)
async def test_a_low_waiter_that_waited_past_the_aging_goes_ahead_of_a_newer_high_one(
    clients: list[aioredis.Redis], gates: list[GlobalSlots], aging_s: float, expected: list[str]
) -> None:
    x_worker, a, b = (GlobalSlots(c, {"d": 1}, ttl_s=30.0, poll_s=3600.0, aging_s=aging_s) for c in clients)
    gates += [x_worker, a, b]
    holder = Holder(x_worker, "X")
    await holder.start()
    served = Served()

    low = asyncio.create_task(served.run(a, "L", LOW))
    await wait_for(queue_is(clients[0], ["L"]), "L to queue", 10.0)
    queued_by = await redis_now(clients[0])  # L's arrival is at or before this, on Redis' clock

    async def aged() -> bool:  # 0.5 s > 2 classes × 0.2 s; far below 2 × 3600 s
        return await redis_now(clients[0]) > queued_by + 0.5

    await wait_for(aged, "0.5 s to pass on the Redis clock", 10.0)
    high = asyncio.create_task(served.run(b, "H", HIGH))
    await wait_for(queue_is(clients[0], expected), f"H to queue as {expected}", 10.0)
    await holder.leave()
    await asyncio.wait_for(asyncio.gather(low, high), 30.0)
    assert served.order == expected


@pytest.mark.parametrize(
    ("low_waited_s", "expected"), [(25.0, ["L", "H"]), (0.0, ["H", "L"])], ids=["aged", "fresh"]
)
async def test_the_wait_before_the_gate_counts_towards_the_aging(
    clients: list[aioredis.Redis], gates: list[GlobalSlots], low_waited_s: float, expected: list[str]
) -> None:
    # aging 10 s a class: a low run (2 classes below high) that had already waited 25 s ready in
    # its worker's queue ranks as if it had joined 25 s ago, i.e. 5 s ahead of a new high one.
    x_worker, a, b = (GlobalSlots(c, {"d": 1}, ttl_s=30.0, poll_s=3600.0, aging_s=10.0) for c in clients)
    gates += [x_worker, a, b]
    holder = Holder(x_worker, "X")
    await holder.start()
    served = Served()

    low = asyncio.create_task(served.run(a, "L", LOW, low_waited_s))
    await wait_for(queue_is(clients[0], ["L"]), "L to queue", 10.0)
    high = asyncio.create_task(served.run(b, "H", HIGH, 0.0))
    await wait_for(queue_is(clients[0], expected), f"H to queue as {expected}", 10.0)
    await holder.leave()
    await asyncio.wait_for(asyncio.gather(low, high), 30.0)
    assert served.order == expected
