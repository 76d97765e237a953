"""MemoryStore: the in-process Store, the embedded default when no Redis URL is set.

Every method runs without awaiting between its read and its write, so each is atomic within the
event loop (the Store contract); it is not shared between processes. TTLs and sliding windows
use the injected :class:`~core.clock.Clock` (monotonic time), so tests drive expiry with a
``ManualClock``. Expired keys are dropped when touched and swept from a heap as time passes.

Durability (``state_path``): keys under ``durable_prefixes`` (default ``vk:``, virtual keys) are
written to a JSON snapshot before the mutating call returns; keys under ``lazy_prefixes`` (default
``spend:`` counters and ``toolex:`` learned tool examples) are written at most
``flush_interval_s`` later and on :meth:`aclose`. The snapshot is replaced atomically (write, fsync, rename), so a crash leaves the previous or the new one. Rate
windows and caches are not persisted: they are fine to lose. Why a JSON snapshot and not SQLite:
the durable data is small (keys, a few counters per key), written rarely, and has to obey the
same semantics as the rest of the store; one file keeps a single implementation of them.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias, TypeVar

from core.clock import Clock, SystemClock
from core.errors import StoreUnavailableError, SwitchboardError
from core.store import snapshot
from core.store.protocol import RateDecision, RateSpec

_T = TypeVar("_T")


@dataclass(slots=True)
class _Window:
    """A sliding-window log: (timestamp, units) oldest first, and their sum."""

    log: deque[tuple[float, int]] = field(default_factory=deque)
    total: int = 0

    def trim(self, cutoff: float) -> None:
        while self.log and self.log[0][0] <= cutoff:
            self.total -= self.log.popleft()[1]


_Value: TypeAlias = bytes | dict[str, bytes] | _Window | deque[bytes]


class MemoryStore:
    """In-process :class:`~core.store.protocol.Store`; see the module docstring."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        state_path: Path | None = None,
        durable_prefixes: tuple[str, ...] = ("vk:",),
        lazy_prefixes: tuple[str, ...] = ("spend:", "toolex:"),
        flush_interval_s: float = 0.5,
    ) -> None:
        self._clock = clock or SystemClock()
        self._data: dict[str, _Value] = {}
        self._exp: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._queued: dict[str, float] = {}  # key → the expiry its one heap entry carries
        self._path = state_path
        self._durable = durable_prefixes
        self._lazy = lazy_prefixes
        self._flush_interval = flush_interval_s
        self._dirty = 0  # generation of the last durable change
        self._written = 0  # generation on disk
        self._write_lock = asyncio.Lock()
        self._flush_task: asyncio.Task[None] | None = None
        if state_path is not None:
            self._restore(state_path)

    @classmethod
    async def open(cls, *, clock: Clock | None = None, state_path: Path | None = None) -> MemoryStore:
        """Build the store, reading the snapshot (if any) off the event loop."""
        return await asyncio.to_thread(lambda: cls(clock=clock, state_path=state_path))

    # -- plain values -------------------------------------------------------------------------
    async def get(self, key: str) -> bytes | None:
        return self._typed(key, bytes)

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        self._put(key, bytes(value), ttl_s)
        await self._changed(key)

    async def set_if_absent(self, key: str, value: bytes, *, ttl_s: float | None = None) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, bytes(value), ttl_s)
        await self._changed(key)
        return True

    async def delete(self, *keys: str) -> int:
        n = 0
        for key in keys:
            if self._live(key) is not None:
                self._drop(key)
                n += 1
        if n:
            for key in keys:
                await self._changed(key)
        return n

    async def incr_by(self, key: str, amount: float, *, ttl_s: float | None = None) -> float:
        raw = self._typed(key, bytes)
        if raw is None:
            value = float(amount)
            self._put(key, _fmt(value), ttl_s)
        else:
            try:
                value = float(raw) + float(amount)
            except ValueError as exc:
                raise SwitchboardError(f"store: value at {key!r} is not a number") from exc
            self._data[key] = _fmt(value)  # keeps its TTL, as Redis INCRBYFLOAT does
        await self._changed(key)
        return value

    async def expire(self, key: str, ttl_s: float) -> bool:
        if self._live(key) is None:
            return False
        self._set_ttl(key, ttl_s)
        await self._changed(key)
        return True

    # -- hashes -------------------------------------------------------------------------------
    async def hset(self, key: str, mapping: dict[str, bytes]) -> None:
        h = self._typed(key, dict)
        if h is None:
            h = {}
            self._data[key] = h
        h.update({f: bytes(v) for f, v in mapping.items()})
        await self._changed(key)

    async def hget(self, key: str, field: str) -> bytes | None:
        h = self._typed(key, dict)
        return h.get(field) if h is not None else None

    async def hgetall(self, key: str) -> dict[str, bytes]:
        h = self._typed(key, dict)
        return dict(h) if h is not None else {}

    async def hdel(self, key: str, *fields: str) -> int:
        h = self._typed(key, dict)
        if h is None:
            return 0
        n = sum(1 for f in fields if h.pop(f, None) is not None)
        if not h:
            self._drop(key)
        if n:
            await self._changed(key)
        return n

    # -- capped lists -------------------------------------------------------------------------
    async def list_push(self, key: str, values: Sequence[bytes], *, max_len: int) -> int:
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        items = self._typed(key, deque)
        if items is None:
            items = self._data[key] = deque()
        for v in values:
            items.appendleft(bytes(v))
        while len(items) > max_len:
            items.pop()
        await self._changed(key)
        return len(items)

    async def list_range(self, key: str, start: int = 0, stop: int = -1) -> list[bytes]:
        items = self._typed(key, deque)
        if items is None:
            return []
        n = len(items)
        lo = max(0, start + n if start < 0 else start)
        hi = min(n - 1, stop + n if stop < 0 else stop)
        return [items[i] for i in range(lo, hi + 1)]

    # -- sliding windows ----------------------------------------------------------------------
    async def rate_acquire(
        self, key: str, *, limit: int, window_s: float, cost: int = 1
    ) -> RateDecision:
        return (await self.rate_acquire_many([RateSpec(key, limit, window_s, cost)]))[0]

    async def rate_acquire_many(self, specs: Sequence[RateSpec]) -> tuple[RateDecision, ...]:
        now = self._clock.now()
        windows = [self._window(s.key, now, s.window_s) for s in specs]
        if any(w.total + s.cost > s.limit for w, s in zip(windows, specs, strict=True)):
            return tuple(
                RateDecision(
                    False,
                    max(0, s.limit - w.total),
                    _retry_after(w, now, s.window_s, s.limit, s.cost) if w.total + s.cost > s.limit else 0.0,
                )
                for w, s in zip(windows, specs, strict=True)
            )
        for w, s in zip(windows, specs, strict=True):
            w.log.append((now, s.cost))
            w.total += s.cost
            self._set_ttl(s.key, s.window_s)
        return tuple(RateDecision(True, max(0, s.limit - w.total), 0.0) for w, s in zip(windows, specs, strict=True))

    async def rate_add(self, key: str, *, window_s: float, cost: int) -> int:
        now = self._clock.now()
        w = self._window(key, now, window_s)
        w.log.append((now, cost))
        w.total += cost
        self._set_ttl(key, window_s)
        return w.total

    # -- lifecycle ----------------------------------------------------------------------------
    async def ping(self) -> bool:
        return True

    async def flush(self) -> None:
        """Write durable and lazy namespaces to ``state_path`` now (no-op without one)."""
        if self._path is None:
            return
        target = self._dirty
        async with self._write_lock:
            if self._written >= target:
                return  # someone wrote a snapshot that already holds our change
            gen = self._dirty
            data = snapshot.dump(self._persisted_items(), self._clock)
            try:
                await asyncio.to_thread(snapshot.write_atomic, self._path, data)
            except OSError as exc:
                raise StoreUnavailableError(f"cannot write store snapshot {self._path}: {exc}") from exc
            self._written = gen

    async def aclose(self) -> None:
        if self._flush_task is not None:
            self._flush_task.cancel()
            self._flush_task = None
        await self.flush()

    # -- internals ----------------------------------------------------------------------------
    def _live(self, key: str) -> _Value | None:
        exp = self._exp.get(key)
        if exp is not None and exp <= self._clock.now():
            self._drop(key)
            return None
        return self._data.get(key)

    def _typed(self, key: str, kind: type[_T]) -> _T | None:
        value = self._live(key)
        if value is None:
            return None
        if not isinstance(value, kind):
            raise SwitchboardError(f"store: {key!r} holds another kind of value")
        return value

    def _put(self, key: str, value: _Value, ttl_s: float | None) -> None:
        self._data[key] = value
        if ttl_s is None:
            self._exp.pop(key, None)
        else:
            self._set_ttl(key, ttl_s)

    def _set_ttl(self, key: str, ttl_s: float) -> None:
        now = self._clock.now()
        self._exp[key] = now + ttl_s
        if key not in self._queued:
            # at most one heap entry per key: a later TTL is found when the entry comes up, so a
            # rate window refreshed on every request does not grow the heap
            self._queued[key] = now + ttl_s
            heapq.heappush(self._heap, (now + ttl_s, key))
        while self._heap and self._heap[0][0] <= now:  # sweep what has expired meanwhile
            _, k = heapq.heappop(self._heap)
            del self._queued[k]
            current = self._exp.get(k)
            if current is None:
                continue
            if current <= now:
                self._drop(k)
            else:
                self._queued[k] = current
                heapq.heappush(self._heap, (current, k))

    def _drop(self, key: str) -> None:
        self._data.pop(key, None)
        self._exp.pop(key, None)

    def _window(self, key: str, now: float, window_s: float) -> _Window:
        w = self._typed(key, _Window)
        if w is None:
            w = _Window()
            self._data[key] = w
        w.trim(now - window_s)
        return w

    def _persisted_items(self) -> dict[str, tuple[bytes | dict[str, bytes], float | None]]:
        now = self._clock.now()
        out: dict[str, tuple[bytes | dict[str, bytes], float | None]] = {}
        for key, value in self._data.items():
            if not key.startswith(self._durable + self._lazy) or isinstance(value, _Window | deque):
                continue
            exp = self._exp.get(key)
            if exp is not None and exp <= now:
                continue
            out[key] = (value if isinstance(value, bytes) else dict(value), exp)
        return out

    def _restore(self, path: Path) -> None:
        for key, (value, exp) in snapshot.load(path, self._clock).items():
            self._data[key] = value
            if exp is not None:
                self._exp[key] = exp
                self._queued[key] = exp
                heapq.heappush(self._heap, (exp, key))

    async def _changed(self, key: str) -> None:
        if self._path is None:
            return
        if key.startswith(self._durable):
            self._dirty += 1
            await self.flush()
        elif key.startswith(self._lazy):
            self._dirty += 1
            if self._flush_task is None or self._flush_task.done():
                self._flush_task = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._flush_interval)  # coalesce a burst of spend updates into one write
        await self.flush()


def _fmt(value: float) -> bytes:
    """Numbers as Redis INCRBYFLOAT writes them: integral values without a fraction."""
    return str(int(value)).encode() if value.is_integer() else repr(value).encode()


def _retry_after(w: _Window, now: float, window_s: float, limit: int, cost: int) -> float:
    if cost > limit:
        return window_s  # can never fit; tell the caller to wait a whole window
    freed = 0
    for ts, units in w.log:
        freed += units
        if w.total - freed + cost <= limit:
            return max(0.0, ts + window_s - now)
    return window_s
