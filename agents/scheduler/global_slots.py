"""Slots shared by every worker on one Redis: a deployment's capacity is global, not per process.

Each worker's scheduler admits runs into its local :class:`SlotPool`; with several workers that
alone would let N workers put N × ``max_concurrency`` steps on one deployment. The
:class:`GlobalSlots` gate closes that: before an admitted run executes on ``deployment`` it takes
one of that deployment's global slots (a Redis sorted set of holders scored by expiry, so a slot
of a worker that died frees itself after ``ttl_s``), waits while they are all taken, renews the
slots it holds from the worker's heartbeat, and gives its slot back when the run leaves the slot
(step boundary preemption, suspension, the end). Deployments without a limit are not gated.

Waiting is a queue ordered across workers, so the scheduler's priority order, aging included,
holds globally: a refused run becomes a waiter in ``{prefix}:{deployment}:wait`` scored by
``arrival + class × aging`` (lower first; ``arrival`` is backdated by the time the run already
waited ready in its worker's queue), as the local PriorityPolicy ranks by ``class − waited /
aging_s``: every ``aging_s`` a waiter has waited counts as one class more urgent, so a
low-priority run that has waited longer than ``aging_s`` per class of difference goes ahead of
a newcomer and a stream of urgent runs cannot starve it across workers. Lower numbers are more
urgent, as in the scheduler (0 high, 1 normal, 2 low; clamped to [0, 63]). ``arrival`` is the
Redis ``TIME`` of the wait in 1/64 ms, made strictly increasing per deployment (past 64 waits
in one ms, each runs 1/64 ms ahead of the clock), so FIFO inside a class is exact; an exact tie
between classes goes to the earlier arrival (the score's last 6 bits). The score is an integer
below 2**53 (exact in a double) until about 2090. One Lua script decides each attempt atomically: it
drops expired holders and expired waiters, then grants a slot only while one is free AND the
asker is among the first ``free`` waiters (so N free slots go to the N best waiters; a newcomer
with no one waiting takes a free slot at once). A waiter expires like a slot:
``{prefix}:{deployment}:wait_exp`` holds its expiry, refreshed by each attempt and by
:meth:`renew`, so a dead worker's waiter stops blocking the queue ``ttl_s`` after its last
renewal. Every key is PEXPIREd (2 × ``ttl_s``).

Wake-up: releasing a slot (or a waiter) PUBLISHes, on ``{prefix}:{deployment}:wake``, the ids
of the waiters now entitled to a free slot. One subscriber per GlobalSlots instance (one pub/sub
connection per process however many runs wait: agents.scheduler.slot_wakeups) listens on the
channels of the deployments that have local waiters and wakes the named ones, which retry. A
poll every ``poll_s`` (jittered, 0.5 s) stays as the safety net: it is what notices a dead
holder's or dead waiter's expiry (nobody publishes those) and a message lost while the
subscriber reconnects. ``notify=False`` is the poll-only variant. Measured with ``python -m
bench.global_slots --json`` (waiter in another instance, own client): release to grant p50
1.4–1.6 ms notified, 26–35 ms polling every 50 ms (the former gate), 6–9 ms every 10 ms; a
waiting run costs 2 script calls a second notified, 20 and 90 polling. Short polls alone would
buy a few ms at 5–10× the Redis load per waiter; the wake-up gets both.

While it waits the run keeps its local slot: that cannot deadlock, because a global slot is
only ever held by a run that is executing (it needs nothing else to go on) or by a dead worker's
run (it expires). Cancellation (a cancel, a take-over, shutdown) while waiting or running gives
the slot back and removes the waiter.

All time comes from Redis (``TIME`` inside the scripts), so workers' clocks never disagree.
A waiter re-raises a cancellation that redis-py lost: on Python 3.11 a cancel that arrives as
one of redis-py's own read timeouts expires can end in that timeout's exit inside redis-py's
``read_response``, which then returns "no reply" (seen with a tracer; several cancels in a
hundred of a waiter polling every 10 ms were lost, 2 in 300 with the former gate); so after each
call the wait loop compares its task's pending cancel requests (``Task.cancelling()``) with
those it started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from redis.exceptions import RedisError

from agents.scheduler.slot_wakeups import Wakeups

log = logging.getLogger(__name__)

DEFAULT_PRIORITY = 1  # the scheduler's "normal" class (RunSpec.priority's default)
DEFAULT_AGING_S = 30.0  # PriorityPolicy's default: keep the two equal
_MAX_PRIORITY = 63  # classes are clamped to [0, 63]: the score keeps 6 bits for the class tie
_SUB = 64  # arrival resolution: 1/64 ms
_EPOCH_MS = 1_700_000_000_000  # arrivals count from here (2023-11-14): scores stay below 2**53
_MAX_AGING_MS = 2**31  # ~25 days per class: beyond that, classes are strict in practice
_MAX_WAITED_MS = 86_400_000  # a run's earlier wait counts up to a day (keeps scores positive)
_PURGE_LIMIT = 256  # expired waiters dropped per script call (bounded work per call)
# attempts of waiting runs in flight per instance: a wake-up of many local waiters at once (a
# subscription confirmed) must not exhaust the client's connection pool (redis-py: 100)
_ATTEMPTS_IN_FLIGHT = 32

# KEYS = slots, wait, wait_exp, arrival clock. Sets `now` (ms) and `usec` and drops expired holders and waiters.
_PURGE = f"""
local t = redis.call('TIME')
local usec = tonumber(t[2])
local now = tonumber(t[1]) * 1000 + math.floor(usec / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, {_PURGE_LIMIT})
if #dead > 0 then
  redis.call('ZREM', KEYS[2], unpack(dead))
  redis.call('ZREM', KEYS[3], unpack(dead))
end
"""
# ARGV = limit, ttl_ms, holder, priority, aging, waited (both 1/64 ms). 1 when the holder now has a
# slot. A new waiter's arrival is max(TIME, last arrival + 1) in 1/64 ms; its score (arrival −
# waited + class × aging) × 64 + (63 − class): integers below 2**53, written with %.0f (Lua's
# default %.14g rounds).
_ACQUIRE = (
    _PURGE
    + f"""
local ttl = tonumber(ARGV[2])
local holder = ARGV[3]
if redis.call('ZSCORE', KEYS[1], holder) then
  redis.call('ZADD', KEYS[1], now + ttl, holder)
  return 1
end
local free = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
local granted = false
if redis.call('ZSCORE', KEYS[2], holder) then
  granted = free > 0 and redis.call('ZRANK', KEYS[2], holder) < free
elseif free > 0 and redis.call('ZCARD', KEYS[2]) == 0 then
  granted = true
else
  local prio = tonumber(ARGV[4])
  local arrival = (now - {_EPOCH_MS}) * {_SUB} + math.floor((usec % 1000) * {_SUB} / 1000)
  arrival = math.max(arrival, tonumber(redis.call('GET', KEYS[4]) or '0') + 1)
  redis.call('SET', KEYS[4], string.format('%.0f', arrival))
  local aged = arrival - tonumber(ARGV[6]) + prio * tonumber(ARGV[5])
  local score = aged * {_MAX_PRIORITY + 1} + {_MAX_PRIORITY} - prio
  redis.call('ZADD', KEYS[2], string.format('%.0f', score), holder)
  granted = free > 0 and redis.call('ZRANK', KEYS[2], holder) < free
end
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ttl * 2) end
if granted then
  redis.call('ZREM', KEYS[2], holder)
  redis.call('ZREM', KEYS[3], holder)
  redis.call('ZADD', KEYS[1], now + ttl, holder)
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  return 1
end
redis.call('ZADD', KEYS[3], now + ttl, holder)
return 0
"""
)
# ARGV = ttl_ms, holder…: extend the slots and waiters still present.
_RENEW = (
    _PURGE
    + """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
  elseif redis.call('ZSCORE', KEYS[3], ARGV[i]) then
    redis.call('ZADD', KEYS[3], now + ttl, ARGV[i])
  end
end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ttl * 2) end
return 1
"""
)
# ARGV = holder, limit, wake channel: drop the holder's slot or waiter; when that frees a slot
# for someone, publish the waiters now entitled to one. Returns what was removed (0: nothing).
_RELEASE = (
    _PURGE
    + """
local n = redis.call('ZREM', KEYS[1], ARGV[1]) + redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if n > 0 then
  local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
  if free > 0 then
    local heads = redis.call('ZRANGE', KEYS[2], 0, free - 1)
    if #heads > 0 then redis.call('PUBLISH', ARGV[3], table.concat(heads, ' ')) end
  end
end
return n
"""
)


def _cancel_requests() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def _raise_if_cancel_lost(base: int) -> None:
    """Raise CancelledError when a cancel was requested since ``base`` was taken and a library
    swallowed it (see the module doc)."""
    if _cancel_requests() > base:
        raise asyncio.CancelledError


class GlobalSlots:
    """``limits``: deployment → slots across all workers. ``client``: redis.asyncio.Redis.

    Contracts: a holder is known to this process (and so renewed) from before its acquire
    request is sent until its release has been attempted, so an acquire that is cancelled or
    times out after Redis granted it is still given back (or, at worst, expires after
    ``ttl_s``); the same holds for its waiter entry. Every Redis call is bounded by
    ``call_timeout_s``; :meth:`release` never raises. Waiters are served by priority (lower
    number first) aged by ``aging_s`` (each ``aging_s`` waited counts as one class more urgent;
    set it to the scheduler policy's ``aging_s``), then by arrival, across every process on the
    Redis. Keep ``ttl_s`` above ``poll_s`` (the worker's heartbeat renews waiters too): a waiter
    whose entry expired between two attempts queues again at the back (a new arrival). Waiting
    runs share one pub/sub connection per instance (notify=True), started by the first wait;
    :meth:`aclose` (or ``async with``) stops it.
    """

    def __init__(
        self,
        client: Any,
        limits: Mapping[str, int],
        *,
        ttl_s: float = 10.0,
        poll_s: float = 0.5,
        call_timeout_s: float = 5.0,
        prefix: str = "agents:slots",
        notify: bool = True,
        aging_s: float = DEFAULT_AGING_S,
    ) -> None:
        if not aging_s > 0:
            raise ValueError("aging_s must be positive")
        self._r = client
        self._limits = {d: int(n) for d, n in limits.items() if n >= 1}
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._poll_s = poll_s
        self._call_timeout_s = call_timeout_s
        self._prefix = prefix
        self._notify = notify
        self._aging = min(_MAX_AGING_MS, max(1, round(aging_s * 1000))) * _SUB  # in 1/64 ms
        self._wakeups = Wakeups(client, self._channel, call_timeout_s) if notify else None
        self._attempts = asyncio.Semaphore(_ATTEMPTS_IN_FLIGHT)
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._held: dict[str, set[str]] = {}  # deployment → holders held, waiting or being taken here
        self.waits = 0  # acquisitions that had to wait for a slot (counted when the wait starts)

    def _key(self, deployment: str) -> str:
        return f"{self._prefix}:{deployment}"

    def _keys(self, deployment: str) -> list[str]:
        k = self._key(deployment)
        return [k, f"{k}:wait", f"{k}:wait_exp", f"{k}:arrival"]

    def _channel(self, deployment: str) -> str:
        return f"{self._key(deployment)}:wake"

    def limit(self, deployment: str) -> int | None:
        return self._limits.get(deployment)

    async def aclose(self) -> None:
        """Stop the wake-up subscriber and close its connection (the client stays open). A run
        that waits afterwards polls."""
        if self._wakeups is not None:
            await self._wakeups.aclose()

    async def __aenter__(self) -> GlobalSlots:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def try_acquire(
        self, deployment: str, holder: str, priority: int | None = None, waited_s: float = 0.0
    ) -> bool:
        """One attempt; True when ``holder`` has one of ``deployment``'s slots (always for a
        deployment without a limit). Refused, the holder is (or stays) a waiter in the queue at
        ``priority`` (lower is more urgent; None: the normal class) and keeps its place on later
        attempts. ``waited_s``: how long the run already waited before this gate (ready in its
        worker's queue); it joins the queue that much earlier, so the aging counts its whole wait
        as the local PriorityPolicy does (up to a day). The holder counts as held here from
        before the request (see the class doc); call :meth:`release` whatever the outcome: it
        also leaves the queue."""
        limit = self._limits.get(deployment)
        if limit is None:
            return True
        prio = DEFAULT_PRIORITY if priority is None else min(max(int(priority), 0), _MAX_PRIORITY)
        waited = min(max(0, round(waited_s * 1000)), _MAX_WAITED_MS) * _SUB  # in 1/64 ms
        self._held.setdefault(deployment, set()).add(holder)
        async with asyncio.timeout(self._call_timeout_s):
            got = await self._acquire(
                keys=self._keys(deployment), args=[limit, self._ttl_ms, holder, prio, self._aging, waited]
            )
        return bool(got)

    async def release(self, deployment: str, holder: str) -> None:
        """Give ``holder``'s slot back, or take it out of the queue (a no-op when it is in
        neither). Never raises: an unreachable Redis leaves the slot or waiter to expire after
        ``ttl_s`` (it is no longer renewed)."""
        limit = self._limits.get(deployment)
        if limit is None:
            return
        self._held.get(deployment, set()).discard(holder)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._call_timeout_s):
                await self._release(
                    keys=self._keys(deployment), args=[holder, limit, self._channel(deployment)]
                )

    async def renew(self) -> None:
        """Extend every slot this process holds and every waiter it has queued (call it from
        the worker's heartbeat)."""
        for deployment, holders in list(self._held.items()):
            if holders:
                async with asyncio.timeout(self._call_timeout_s):
                    await self._renew(keys=self._keys(deployment), args=[self._ttl_ms, *sorted(holders)])

    @contextlib.asynccontextmanager
    async def slot(
        self, deployment: str, run_id: str, priority: int | None = None, waited_s: float = 0.0
    ) -> AsyncIterator[None]:
        """Hold one of ``deployment``'s global slots for the block, waiting in the queue at
        ``priority`` (lower is more urgent; None: the normal class), aged from ``waited_s``
        seconds ago (:meth:`try_acquire`), if needed. Cancellation
        while waiting or running gives the slot back and leaves the queue; a Redis call that
        times out while waiting counts as a refused attempt."""
        if deployment not in self._limits:
            yield
            return
        holder = f"{run_id}:{uuid.uuid4().hex[:12]}"
        try:
            await self._wait_for_slot(deployment, holder, priority, waited_s)
            yield
        finally:
            # shielded: a cancelled run still gives its slot back; release itself never raises
            await asyncio.shield(self.release(deployment, holder))

    async def _attempt(self, deployment: str, holder: str, priority: int | None, waited_s: float) -> bool:
        try:
            async with self._attempts:  # waiting for it is not a Redis call: not bounded
                return await self.try_acquire(deployment, holder, priority, waited_s)
        except (TimeoutError, OSError, RedisError):
            log.warning("global slot request for %s failed; retrying", deployment)
            return False

    async def _wait_for_slot(
        self, deployment: str, holder: str, priority: int | None, waited_s: float
    ) -> None:
        base = _cancel_requests()
        wakeups = self._wakeups
        # registered before the first attempt: a release between it and the wait still wakes it
        wake = wakeups.register(deployment, holder) if wakeups is not None else None
        try:
            got = await self._attempt(deployment, holder, priority, waited_s)
            _raise_if_cancel_lost(base)
            if got:
                return
            self.waits += 1
            if wakeups is not None:
                wakeups.waiting(deployment, holder)
            while True:
                timeout = self._poll_s * (0.5 + random.random())
                if wake is None:
                    await asyncio.sleep(timeout)
                else:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(timeout):
                            await wake.wait()
                    wake.clear()  # before the attempt: a release during it wakes the next wait
                _raise_if_cancel_lost(base)
                got = await self._attempt(deployment, holder, priority, waited_s)
                _raise_if_cancel_lost(base)
                if got:
                    return
        finally:
            if wakeups is not None:
                wakeups.unregister(deployment, holder)
