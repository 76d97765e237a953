"""Results of tool calls by idempotency key, so a resumed step never calls a tool twice.

``claim`` is the at-most-once gate: the first caller for a key gets True and must ``record`` the
result; later callers (a resumed step on another worker) get False and ``get`` the result, or
None when the first caller died mid-call (the tool itself must then dedupe by the key).

Entries are filed under the thread that claimed them (``claim(key, thread_id)``), so thread
retention (agents.thread_retention) can delete a thread's entries together with its
checkpoints: a thread whose history was pruned must not get a stale recorded result for a new
call that happens to reuse an old tool call id.
"""

from __future__ import annotations

from typing import Any, Protocol

from core.errors import StoreUnavailableError

_PENDING = b"\x00pending"


class ToolLedger(Protocol):
    async def claim(self, key: str, thread_id: str = "") -> bool: ...

    async def record(self, key: str, result: str) -> None: ...

    async def get(self, key: str) -> str | None: ...


class MemoryToolLedger:
    def __init__(self) -> None:
        self._d: dict[str, bytes] = {}
        self._threads: dict[str, set[str]] = {}

    async def claim(self, key: str, thread_id: str = "") -> bool:
        if key in self._d:
            return False
        self._d[key] = _PENDING
        self._threads.setdefault(thread_id, set()).add(key)
        return True

    async def record(self, key: str, result: str) -> None:
        self._d[key] = result.encode()

    async def get(self, key: str) -> str | None:
        v = self._d.get(key)
        return None if v is None or v == _PENDING else v.decode()

    def forget_thread(self, thread_id: str) -> int:
        """Delete the entries claimed for ``thread_id``; returns how many. Synchronous, so it is
        atomic with respect to the event loop (agents.thread_retention relies on it)."""
        keys = self._threads.pop(thread_id, set())
        for key in keys:
            self._d.pop(key, None)
        return len(keys)


class RedisToolLedger:
    """Keys ``{prefix}:{key}`` with a TTL (default 7 days), and per thread a SET
    ``{prefix}-threads:{thread_id}`` of its entries' key names (same TTL, renewed by each claim;
    thread retention deletes both). ``client``: redis.asyncio.Redis."""

    def __init__(self, client: Any, *, prefix: str = "toolcall", ttl_s: int = 7 * 86400) -> None:
        self._r = client
        self._p = prefix
        self._ttl = ttl_s

    @property
    def thread_prefix(self) -> str:
        """The name of a thread's entry set is this followed by the thread id."""
        return f"{self._p}-threads:"

    async def claim(self, key: str, thread_id: str = "") -> bool:
        name, index = f"{self._p}:{key}", f"{self.thread_prefix}{thread_id}"
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.set(name, _PENDING, nx=True, ex=self._ttl)
                pipe.sadd(index, name)
                pipe.expire(index, self._ttl)
                claimed, _, _ = await pipe.execute()
        except Exception as exc:
            raise StoreUnavailableError("tool ledger unavailable") from exc
        return bool(claimed)

    async def record(self, key: str, result: str) -> None:
        try:
            await self._r.set(f"{self._p}:{key}", result.encode(), ex=self._ttl)
        except Exception as exc:
            raise StoreUnavailableError("tool ledger unavailable") from exc

    async def get(self, key: str) -> str | None:
        try:
            v = await self._r.get(f"{self._p}:{key}")
        except Exception as exc:
            raise StoreUnavailableError("tool ledger unavailable") from exc
        return None if v is None or v == _PENDING else bytes(v).decode()
