"""Slots shared by every worker on one Redis: a deployment's capacity is global, not per process.

Each worker's scheduler admits runs into its local :class:`SlotPool`; with several workers that
alone would let N workers put N × ``max_concurrency`` steps on one deployment. The
:class:`GlobalSlots` gate closes that: before an admitted run executes on ``deployment`` it takes
one of that deployment's global slots (a Redis sorted set of holders scored by expiry, so a slot
of a worker that died frees itself after ``ttl_s``), waits while they are all taken, renews the
slots it holds from the worker's heartbeat, and gives its slot back when the run leaves the slot
(step boundary preemption, suspension, the end). Deployments without a limit are not gated.

While it waits the run keeps its local slot: that cannot deadlock, because a global slot is
only ever held by a run that is executing (it needs nothing else to go on) or by a dead worker's
run (it expires). Cancellation (a cancel, a take-over, shutdown) while waiting or running gives
the slot back.

All time comes from Redis (``TIME`` inside the scripts), so workers' clocks never disagree.
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

log = logging.getLogger(__name__)

# KEYS[1] = slot set; ARGV = limit, ttl_ms, holder. 1 when the holder now has a slot.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""
# KEYS[1] = slot set; ARGV = ttl_ms, holder…: extend the holders still present.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
  end
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 1
"""


class GlobalSlots:
    """``limits``: deployment → slots across all workers. ``client``: redis.asyncio.Redis.

    Contracts: a holder is known to this process (and so renewed) from before its acquire
    request is sent until its release has been attempted, so an acquire that is cancelled or
    times out after Redis granted it is still given back (or, at worst, expires after
    ``ttl_s``); every Redis call is bounded by ``call_timeout_s``; :meth:`release` never raises.
    """

    def __init__(
        self,
        client: Any,
        limits: Mapping[str, int],
        *,
        ttl_s: float = 10.0,
        poll_s: float = 0.05,
        call_timeout_s: float = 5.0,
        prefix: str = "agents:slots",
    ) -> None:
        self._r = client
        self._limits = {d: int(n) for d, n in limits.items() if n >= 1}
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._poll_s = poll_s
        self._call_timeout_s = call_timeout_s
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._held: dict[str, set[str]] = {}  # deployment → holders taken (or being taken) here
        self.waits = 0  # acquisitions that had to wait for a slot

    def _key(self, deployment: str) -> str:
        return f"{self._prefix}:{deployment}"

    def limit(self, deployment: str) -> int | None:
        return self._limits.get(deployment)

    async def try_acquire(self, deployment: str, holder: str) -> bool:
        """One attempt; True when ``holder`` has one of ``deployment``'s slots (always for a
        deployment without a limit). The holder counts as held here from before the request
        (see the class doc); call :meth:`release` whatever the outcome."""
        limit = self._limits.get(deployment)
        if limit is None:
            return True
        self._held.setdefault(deployment, set()).add(holder)
        got = await asyncio.wait_for(
            self._acquire(keys=[self._key(deployment)], args=[limit, self._ttl_ms, holder]),
            self._call_timeout_s,
        )
        return bool(got)

    async def release(self, deployment: str, holder: str) -> None:
        """Give ``holder``'s slot back (a no-op when it has none). Never raises: an unreachable
        Redis leaves the slot to expire after ``ttl_s`` (it is no longer renewed)."""
        if deployment not in self._limits:
            return
        self._held.get(deployment, set()).discard(holder)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._r.zrem(self._key(deployment), holder), self._call_timeout_s)

    async def renew(self) -> None:
        """Extend every slot this process holds (call it from the worker's heartbeat)."""
        for deployment, holders in list(self._held.items()):
            if holders:
                await asyncio.wait_for(
                    self._renew(keys=[self._key(deployment)], args=[self._ttl_ms, *sorted(holders)]),
                    self._call_timeout_s,
                )

    @contextlib.asynccontextmanager
    async def slot(self, deployment: str, run_id: str) -> AsyncIterator[None]:
        """Hold one of ``deployment``'s global slots for the block, waiting for one if needed.
        Cancellation while waiting or running gives the slot back; a Redis call that times out
        while waiting counts as a refused attempt."""
        if deployment not in self._limits:
            yield
            return
        holder = f"{run_id}:{uuid.uuid4().hex[:12]}"
        waited = False
        try:
            while True:
                try:
                    if await self.try_acquire(deployment, holder):
                        break
                except (TimeoutError, OSError, RedisError):
                    log.warning("global slot request for %s failed; retrying", deployment)
                waited = True
                await asyncio.sleep(self._poll_s * (0.5 + random.random()))
            if waited:
                self.waits += 1
            yield
        finally:
            # shielded: a cancelled run still gives its slot back; release itself never raises
            await asyncio.shield(self.release(deployment, holder))
