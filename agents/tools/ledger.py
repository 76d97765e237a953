"""Results of tool calls by idempotency key, so a resumed step never calls a tool twice.

``claim`` is the at-most-once gate: the first caller for a key gets True and must ``record`` the
result; later callers (a resumed step on another worker) get False and ``get`` the result, or
None when the first caller died mid-call (the tool itself must then dedupe by the key).
"""

from __future__ import annotations

from typing import Any, Protocol

from core.errors import StoreUnavailableError

_PENDING = b"\x00pending"


class ToolLedger(Protocol):
    async def claim(self, key: str) -> bool: ...

    async def record(self, key: str, result: str) -> None: ...

    async def get(self, key: str) -> str | None: ...


class MemoryToolLedger:
    def __init__(self) -> None:
        self._d: dict[str, bytes] = {}

    async def claim(self, key: str) -> bool:
        if key in self._d:
            return False
        self._d[key] = _PENDING
        return True

    async def record(self, key: str, result: str) -> None:
        self._d[key] = result.encode()

    async def get(self, key: str) -> str | None:
        v = self._d.get(key)
        return None if v is None or v == _PENDING else v.decode()


class RedisToolLedger:
    """Keys ``{prefix}:{key}`` with a TTL (default 7 days). ``client``: redis.asyncio.Redis."""

    def __init__(self, client: Any, *, prefix: str = "toolcall", ttl_s: int = 7 * 86400) -> None:
        self._r = client
        self._p = prefix
        self._ttl = ttl_s

    async def claim(self, key: str) -> bool:
        try:
            return bool(await self._r.set(f"{self._p}:{key}", _PENDING, nx=True, ex=self._ttl))
        except Exception as exc:
            raise StoreUnavailableError("tool ledger unavailable") from exc

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
