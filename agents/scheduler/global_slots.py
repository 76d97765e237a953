"""Slots shared by every worker on one Redis: a deployment's capacity is global, not per process.

Each worker's scheduler admits runs into its local :class:`SlotPool`; with several workers that
alone would let N workers put N × ``max_concurrency`` steps on one deployment. The
:class:`GlobalSlots` gate closes that: before an admitted run executes on ``deployment`` it takes
one of that deployment's global slots (a Redis sorted set of holders scored by expiry, so a slot
of a worker that died frees itself after ``ttl_s``), waits while they are all taken, renews the
slots it holds from the worker's heartbeat, and gives its slot back when the run leaves the slot
(step boundary preemption, suspension, the end). Deployments without a limit are not gated.

All time comes from Redis (``TIME`` inside the scripts), so workers' clocks never disagree.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

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
    """``limits``: deployment → slots across all workers. ``client``: redis.asyncio.Redis."""

    def __init__(
        self,
        client: Any,
        limits: Mapping[str, int],
        *,
        ttl_s: float = 10.0,
        poll_s: float = 0.05,
        prefix: str = "agents:slots",
    ) -> None:
        self._r = client
        self._limits = dict(limits)
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._poll_s = poll_s
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._held: dict[str, set[str]] = {}  # deployment → holders taken by this process
        self.waits = 0  # acquisitions that had to wait for a slot

    def _key(self, deployment: str) -> str:
        return f"{self._prefix}:{deployment}"

    async def try_acquire(self, deployment: str, holder: str) -> bool:
        limit = self._limits.get(deployment)
        if limit is None:
            return True
        got = bool(await self._acquire(keys=[self._key(deployment)], args=[limit, self._ttl_ms, holder]))
        if got:
            self._held.setdefault(deployment, set()).add(holder)
        return got

    async def release(self, deployment: str, holder: str) -> None:
        if deployment not in self._limits:
            return
        self._held.get(deployment, set()).discard(holder)
        await self._r.zrem(self._key(deployment), holder)

    async def renew(self) -> None:
        """Extend every slot this process holds (call it from the worker's heartbeat)."""
        for deployment, holders in list(self._held.items()):
            if holders:
                await self._renew(keys=[self._key(deployment)], args=[self._ttl_ms, *sorted(holders)])

    @contextlib.asynccontextmanager
    async def slot(self, deployment: str, run_id: str) -> AsyncIterator[None]:
        """Hold one of ``deployment``'s global slots for the block, waiting for one if needed."""
        holder = f"{run_id}:{uuid.uuid4().hex[:8]}"
        waited = False
        while not await self.try_acquire(deployment, holder):
            waited = True
            await asyncio.sleep(self._poll_s * (0.5 + random.random()))
        if waited:
            self.waits += 1
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # an unreachable Redis: the slot expires by itself
                await asyncio.shield(self.release(deployment, holder))
