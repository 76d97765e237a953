"""Choose and open the Store: Redis when a URL is configured, the in-process store otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from core.clock import Clock
from core.store.memory import MemoryStore
from core.store.protocol import Store


@asynccontextmanager
async def open_store(
    redis_url: str | None,
    *,
    state_path: str | Path | None = None,
    clock: Clock | None = None,
    check: bool = True,
) -> AsyncIterator[Store]:
    """Open the Store for the lifespan and close it on exit.

    ``redis_url`` set → :class:`~core.store.redis.RedisStore` (one connection pool; with ``check``
    it is pinged first and ``StoreUnavailableError`` is raised when Redis cannot be reached).
    Otherwise → :class:`MemoryStore`; ``state_path`` (e.g. ``var/state/store.json``) makes its
    durable namespaces (virtual keys, spend) survive a restart. ``clock`` only applies to the
    in-process store (Redis keeps time on the server).
    """
    store: Store
    if redis_url:
        from core.store.redis import RedisStore  # redis.asyncio only when it is used

        store = RedisStore.from_url(redis_url)
        if check:
            try:
                await store.ping_or_raise()
            except BaseException:
                await store.aclose()
                raise
    else:
        store = await MemoryStore.open(clock=clock, state_path=Path(state_path) if state_path else None)
    try:
        yield store
    finally:
        await store.aclose()
