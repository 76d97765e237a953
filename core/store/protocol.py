"""The Store seam: state that must be shared when several gateway replicas run.

Two implementations pass one contract suite (tests/core/store/test_contract.py): ``MemoryStore``
(in-process, the embedded default) and ``RedisStore``. Every method is atomic on its own.
Keys are plain strings; callers namespace them (``rl:``, ``spend:``, ``lat:``, ``emb:`` …).
Raises :class:`core.errors.SwitchboardError` subclasses only (Redis errors are converted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    remaining: int
    retry_after_s: float


@dataclass(frozen=True, slots=True)
class RateSpec:
    """One sliding window of :meth:`Store.rate_acquire_many`."""

    key: str
    limit: int
    window_s: float
    cost: int = 1


class Store(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None: ...

    async def set_if_absent(self, key: str, value: bytes, *, ttl_s: float | None = None) -> bool:
        """Set only when ``key`` does not exist; True when this call set it."""
        ...

    async def delete(self, *keys: str) -> int: ...

    async def incr_by(self, key: str, amount: float, *, ttl_s: float | None = None) -> float:
        """Add ``amount`` and return the new value; ``ttl_s`` applies when the key is created."""
        ...

    async def hset(self, key: str, mapping: dict[str, bytes]) -> None: ...

    async def hget(self, key: str, field: str) -> bytes | None: ...

    async def hgetall(self, key: str) -> dict[str, bytes]: ...

    async def hdel(self, key: str, *fields: str) -> int: ...

    async def rate_acquire(
        self, key: str, *, limit: int, window_s: float, cost: int = 1
    ) -> RateDecision:
        """Sliding-window limit: admit ``cost`` units unless that would put more than ``limit``
        units in the last ``window_s`` seconds. Exact across processes sharing the store.
        A refused call consumes nothing; ``retry_after_s`` says when it would be admitted."""
        ...

    async def rate_acquire_many(self, specs: Sequence[RateSpec]) -> tuple[RateDecision, ...]:
        """All or nothing over several sliding windows (e.g. requests and tokens per minute):
        admit each spec's ``cost`` in every window, or in none. One decision per spec; on refusal
        every decision has ``allowed=False`` and the windows that would overflow carry their
        ``retry_after_s`` (the others 0). On Redis Cluster the keys must share a hash tag
        (``rl:{key_id}:rpm``, ``rl:{key_id}:tpm``)."""
        ...

    async def rate_add(self, key: str, *, window_s: float, cost: int) -> int:
        """Put ``cost`` units into the sliding window of ``key`` unconditionally (reconciling an
        estimate with real usage) and return the units now in the window. Same log as
        :meth:`rate_acquire`."""
        ...

    async def expire(self, key: str, ttl_s: float) -> bool:
        """Set a time to live on an existing key; False when the key does not exist."""
        ...

    async def list_push(self, key: str, values: Sequence[bytes], *, max_len: int) -> int:
        """Capped list (added by H for the decision log): put ``values`` at the head in order
        (the last one ends up first, newest first) and keep only the first ``max_len`` items,
        atomically. Returns the list's length afterwards. Raises ValueError when ``max_len < 1``."""
        ...

    async def list_range(self, key: str, start: int = 0, stop: int = -1) -> list[bytes]:
        """Items ``start..stop`` (inclusive, negative counts from the end, as Redis LRANGE) of the
        list at ``key``, head first; ``[]`` when it does not exist."""
        ...

    async def ping(self) -> bool:
        """True when the store is reachable (readiness)."""
        ...

    async def aclose(self) -> None: ...
