"""Global slot wake-ups: one pub/sub connection per GlobalSlots instance, however many runs wait.

Waiters poll only once an hour here, so a waiter that gets its slot was woken by a release's
notification through the instance's one subscriber. Every wait is bounded (a hang fails naming
what it awaited).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from agents.scheduler.global_slots import GlobalSlots
from tests.agents.procs import wait_for
from tests.agents.slot_holders import Holder

N_WAITERS = 50
CHANNEL = "agents:slots:d:wake"
WAIT = "agents:slots:d:wait"


@pytest.fixture
async def clients(clean_redis_url: str) -> AsyncIterator[list[aioredis.Redis]]:
    made = [aioredis.Redis.from_url(clean_redis_url) for _ in range(3)]  # holder, waiters, probe
    yield made
    for c in made:
        await c.aclose()


async def pubsub_connections(probe: aioredis.Redis) -> int:
    return len(await probe.client_list(_type="pubsub"))


async def subscribers(probe: aioredis.Redis) -> int:
    return int(dict(await probe.pubsub_numsub(CHANNEL))[CHANNEL.encode()])


async def test_fifty_local_waiters_share_one_subscription_and_are_served_in_order(
    clients: list[aioredis.Redis],
) -> None:
    x_worker = GlobalSlots(clients[0], {"d": 1}, ttl_s=30.0, poll_s=3600.0)
    gate = GlobalSlots(clients[1], {"d": 1}, ttl_s=30.0, poll_s=3600.0)
    probe = clients[2]
    try:
        holder = Holder(x_worker)
        await holder.start()
        served: list[int] = []

        async def run(i: int) -> None:
            async with gate.slot("d", f"w{i}", i % 3):  # high, normal, low in turn
                served.append(i)

        tasks = []
        for i in range(N_WAITERS):  # one at a time: arrival order is the creation order
            tasks.append(asyncio.create_task(run(i)))
            await wait_for(queue_length_is(probe, i + 1), f"waiter {i} to queue", 10.0)
        await wait_for(lambda: _is(subscribers(probe), 1), "the wake channel to be subscribed", 10.0)
        assert await pubsub_connections(probe) == 1, "one pub/sub connection for all 50 waiters"
        assert served == []
        await holder.leave()  # each waiter then releases in turn: the slot frees up one by one
        await asyncio.wait_for(asyncio.gather(*tasks), 60.0)
        assert served == sorted(range(N_WAITERS), key=lambda i: (i % 3, i))  # class, then arrival
        assert gate.waits == N_WAITERS
        assert int(await probe.zcard(WAIT)) == 0
        await wait_for(lambda: _is(subscribers(probe), 0), "the unsubscription once none waits", 10.0)
    finally:
        await x_worker.aclose()
        await gate.aclose()
    assert await pubsub_connections(probe) == 0, "aclose closed the subscriber's connection"


async def test_the_subscriber_reconnects_after_its_connection_is_killed(
    clients: list[aioredis.Redis],
) -> None:
    x_worker = GlobalSlots(clients[0], {"d": 1}, ttl_s=30.0, poll_s=3600.0)
    gate = GlobalSlots(clients[1], {"d": 1}, ttl_s=30.0, poll_s=3600.0)
    probe = clients[2]
    try:
        holder = Holder(x_worker)
        await holder.start()
        served: list[str] = []

        async def run(run_id: str) -> None:
            async with gate.slot("d", run_id):
                served.append(run_id)

        waiter = asyncio.create_task(run("W"))
        await wait_for(lambda: _is(subscribers(probe), 1), "W's wake channel to be subscribed", 10.0)
        killed = await probe.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert int(killed) == 1
        await wait_for(lambda: _is(subscribers(probe), 1), "the channel to be subscribed again", 30.0)
        assert served == []
        await holder.leave()
        await asyncio.wait_for(waiter, 30.0)  # woken by the release over the new connection
        assert served == ["W"]
    finally:
        await x_worker.aclose()
        await gate.aclose()


async def test_cancelled_waiters_leave_and_the_channel_is_dropped(clients: list[aioredis.Redis]) -> None:
    x_worker = GlobalSlots(clients[0], {"d": 1}, ttl_s=30.0, poll_s=3600.0)
    gate = GlobalSlots(clients[1], {"d": 1}, ttl_s=30.0, poll_s=3600.0)
    probe = clients[2]
    try:
        holder = Holder(x_worker)
        await holder.start()

        async def run(i: int) -> None:
            async with gate.slot("d", f"c{i}"):
                raise AssertionError("a cancelled waiter got the slot")

        tasks = [asyncio.create_task(run(i)) for i in range(10)]
        await wait_for(queue_length_is(probe, 10), "10 waiters to queue", 10.0)
        await wait_for(lambda: _is(subscribers(probe), 1), "the wake channel to be subscribed", 10.0)
        for t in tasks:
            t.cancel()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10.0)
        assert all(isinstance(r, asyncio.CancelledError) for r in results), results
        assert int(await probe.zcard(WAIT)) == 0
        assert gate._held == {"d": set()}
        await wait_for(lambda: _is(subscribers(probe), 0), "the unsubscription once none waits", 10.0)
        await holder.leave()
    finally:
        await x_worker.aclose()
        await gate.aclose()


def queue_length_is(probe: aioredis.Redis, n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return int(await probe.zcard(WAIT)) == n

    return check


async def _is(value: object, expected: int) -> bool:
    assert asyncio.iscoroutine(value)
    return int(await value) == expected
