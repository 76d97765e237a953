"""Pick the checkpointer: Redis when a URL is configured (several workers share it), SQLite
for a single process that must survive restarts, in-memory otherwise (tests, one-shot runs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from agents.checkpoint.redis_saver import RedisSaver


@asynccontextmanager
async def open_checkpointer(
    redis_url: str | None = None, sqlite_path: str | Path | None = None, *, prefix: str = "cp"
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """Yields a checkpointer and closes what it opened on exit."""
    if redis_url:
        client = aioredis.Redis.from_url(redis_url, decode_responses=False)
        try:
            yield RedisSaver(client, prefix=prefix)
        finally:
            await client.aclose()
    elif sqlite_path:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        async with AsyncSqliteSaver.from_conn_string(str(sqlite_path)) as saver:
            yield saver
    else:
        yield InMemorySaver()
