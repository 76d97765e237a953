"""RedisStore: the shared Store for several gateway replicas (``redis.asyncio``, one pool).

Atomicity comes from Redis: plain commands for single-key operations, Lua scripts where a
read-modify-write is needed (``incr_by`` with a TTL on creation, the sliding windows). The
sliding window is a sorted-set log stamped with the Redis server's ``TIME`` — one clock for every
replica, which is what makes limits exact across processes — plus a running sum of its units, so
an admission costs O(expired entries) rather than O(window). Redis errors become
``StoreUnavailableError`` (cannot reach / timed out / loading) or ``SwitchboardError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis import exceptions as rexc

from core.errors import StoreUnavailableError, SwitchboardError
from core.store.protocol import RateDecision, RateSpec

# KEYS: log (zset), sum (string) per window. ARGV: member id, force (0|1), then per window:
# limit, window µs, cost. Members are "<id>:<units>"; scores are the Redis server's time in µs
# (exact in a double until 2255). Returns allowed, total, retry µs per window.
_WINDOWS_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS / 2
local force = ARGV[2] == '1'
local totals, out, refused = {}, {}, false
for w = 1, n do
  local log, sum = KEYS[2 * w - 1], KEYS[2 * w]
  local limit, window, cost = tonumber(ARGV[3 * w]), tonumber(ARGV[3 * w + 1]), tonumber(ARGV[3 * w + 2])
  local cutoff = now - window
  local total = tonumber(redis.call('GET', sum) or '0')
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
  if #old > 0 then
    for i = 1, #old do total = total - tonumber(string.match(old[i], ':(%-?%d+)$')) end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
    redis.call('SET', sum, total, 'KEEPTTL')
  end
  totals[w] = total
  local retry = 0
  if not force and total + cost > limit then
    refused = true
    retry = window
    if cost <= limit then
      local freed = 0
      local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
      for i = 1, #entries, 2 do
        freed = freed + tonumber(string.match(entries[i], ':(%-?%d+)$'))
        if total - freed + cost <= limit then
          retry = tonumber(entries[i + 1]) + window - now
          break
        end
      end
    end
  end
  out[3 * w - 2], out[3 * w - 1], out[3 * w] = 0, total, retry
end
if refused then return out end
for w = 1, n do
  local log, sum = KEYS[2 * w - 1], KEYS[2 * w]
  local window, cost = tonumber(ARGV[3 * w + 1]), tonumber(ARGV[3 * w + 2])
  local ttl = math.floor(window / 1000) + 1000
  redis.call('ZADD', log, now, ARGV[1] .. ':' .. ARGV[3 * w + 2])
  redis.call('SET', sum, totals[w] + cost, 'PX', ttl)
  redis.call('PEXPIRE', log, ttl)
  out[3 * w - 2], out[3 * w - 1] = 1, totals[w] + cost
end
return out
"""

# KEYS: counter. ARGV: amount, ttl ms ('' for none). The TTL applies only when the key is new.
_INCR_LUA = """
local existed = redis.call('EXISTS', KEYS[1])
local v = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def redact(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _tagged(key: str) -> str:
    """The key as a cluster hash tag, unless the caller already chose one (``rl:{id}:rpm``)."""
    return key if "{" in key and "}" in key.split("{", 1)[1] else f"{{{key}}}"


@contextmanager
def _converted(what: str) -> Iterator[None]:
    try:
        yield
    except (rexc.ConnectionError, rexc.TimeoutError, rexc.BusyLoadingError) as exc:
        raise StoreUnavailableError(f"store unavailable during {what}: {type(exc).__name__}") from exc
    except rexc.RedisError as exc:
        raise SwitchboardError(f"store error during {what}: {exc}") from exc


class RedisStore:
    """:class:`~core.store.protocol.Store` on Redis. Build with :meth:`from_url`."""

    def __init__(self, client: aioredis.Redis, *, url: str = "redis://") -> None:
        self._r = client
        self._url = redact(url)
        self._windows = client.register_script(_WINDOWS_LUA)
        self._incr = client.register_script(_INCR_LUA)

    @classmethod
    def from_url(cls, url: str, *, max_connections: int = 128, timeout_s: float = 5.0) -> RedisStore:
        # a blocking pool: a burst beyond max_connections waits for a free connection instead of
        # failing; the client owns the pool and closes it in aclose()
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=min(timeout_s, 2.0),
            health_check_interval=30,
        )
        return cls(aioredis.Redis.from_pool(pool), url=url)

    async def get(self, key: str) -> bytes | None:
        with _converted("get"):
            return cast(bytes | None, await self._r.get(key))

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        with _converted("set"):
            await self._r.set(key, value, px=_ms(ttl_s) if ttl_s is not None else None)

    async def set_if_absent(self, key: str, value: bytes, *, ttl_s: float | None = None) -> bool:
        with _converted("set_if_absent"):
            ok = await self._r.set(key, value, nx=True, px=_ms(ttl_s) if ttl_s is not None else None)
        return bool(ok)

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        with _converted("delete"):
            return int(await self._r.delete(*keys))

    async def incr_by(self, key: str, amount: float, *, ttl_s: float | None = None) -> float:
        with _converted("incr_by"):
            v = await self._incr(keys=[key], args=[repr(float(amount)), _ms(ttl_s) if ttl_s else ""])
        return float(v)

    async def expire(self, key: str, ttl_s: float) -> bool:
        with _converted("expire"):
            return bool(await self._r.pexpire(key, _ms(ttl_s)))

    async def hset(self, key: str, mapping: dict[str, bytes]) -> None:
        if not mapping:
            return
        with _converted("hset"):
            await self._r.hset(key, mapping=cast(Any, mapping))

    async def hget(self, key: str, field: str) -> bytes | None:
        with _converted("hget"):
            return cast(bytes | None, await self._r.hget(key, field))

    async def hgetall(self, key: str) -> dict[str, bytes]:
        with _converted("hgetall"):
            raw = cast(dict[bytes, bytes], await self._r.hgetall(key))
        return {k.decode(): v for k, v in raw.items()}

    async def hdel(self, key: str, *fields: str) -> int:
        if not fields:
            return 0
        with _converted("hdel"):
            return int(await self._r.hdel(key, *fields))

    async def list_push(self, key: str, values: Sequence[bytes], *, max_len: int) -> int:
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        if not values:
            with _converted("list_push"):
                return int(await self._r.llen(key))
        with _converted("list_push"):
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.lpush(key, *values)
                pipe.ltrim(key, 0, max_len - 1)
                pipe.llen(key)
                res = await pipe.execute()
        return int(res[-1])

    async def list_range(self, key: str, start: int = 0, stop: int = -1) -> list[bytes]:
        with _converted("list_range"):
            return cast(list[bytes], await self._r.lrange(key, start, stop))

    async def rate_acquire(
        self, key: str, *, limit: int, window_s: float, cost: int = 1
    ) -> RateDecision:
        return (await self.rate_acquire_many([RateSpec(key, limit, window_s, cost)]))[0]

    async def rate_acquire_many(self, specs: Sequence[RateSpec]) -> tuple[RateDecision, ...]:
        res = await self._run_windows(specs, force=False)
        return tuple(
            RateDecision(bool(allowed), max(0, s.limit - total), retry_us / 1e6)
            for s, (allowed, total, retry_us) in zip(specs, res, strict=True)
        )

    async def rate_add(self, key: str, *, window_s: float, cost: int) -> int:
        (res,) = await self._run_windows([RateSpec(key, 0, window_s, cost)], force=True)
        return res[1]

    async def _run_windows(
        self, specs: Sequence[RateSpec], *, force: bool
    ) -> list[tuple[int, int, int]]:
        keys: list[str] = []
        args: list[str | int] = [uuid.uuid4().hex, "1" if force else "0"]
        for s in specs:
            base = _tagged(s.key)
            keys += [f"{base}:log", f"{base}:sum"]
            args += [s.limit, int(s.window_s * 1e6), int(s.cost)]
        with _converted("rate window"):
            flat = cast(list[int], await self._windows(keys=keys, args=args))
        return [(int(flat[i]), int(flat[i + 1]), int(flat[i + 2])) for i in range(0, len(flat), 3)]

    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())
        except rexc.RedisError:
            return False

    async def ping_or_raise(self) -> None:
        """Raise StoreUnavailableError naming the (redacted) URL when Redis does not answer."""
        try:
            await self._r.ping()
        except rexc.RedisError as exc:
            raise StoreUnavailableError(
                f"cannot reach Redis at {self._url}: {type(exc).__name__}: {exc}"
            ) from exc

    async def aclose(self) -> None:
        await self._r.aclose()
