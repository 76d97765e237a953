"""langgraph's own checkpointer conformance suite (langgraph-checkpoint-conformance) against
the Redis checkpointer and the embedded defaults."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import BASE_CAPABILITIES
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agents.checkpoint import RedisSaver


def _assert_passed(report: object) -> None:
    results = report.results  # type: ignore[attr-defined]
    for cap in BASE_CAPABILITIES:
        res = results[cap.value]
        assert res.passed, f"{cap.value}: {res.failures}"


async def test_redis_saver_passes_langgraph_conformance(redis_url: str) -> None:
    @checkpointer_test(name="RedisSaver")
    async def factory() -> AsyncIterator[BaseCheckpointSaver[str]]:
        client = aioredis.Redis.from_url(redis_url)
        try:
            yield RedisSaver(client, prefix=f"cp-{uuid.uuid4().hex[:8]}")
        finally:
            await client.aclose()

    report = await validate(factory)
    _assert_passed(report)
    assert report.results["copy_thread"].passed


async def test_sqlite_saver_passes_langgraph_conformance(tmp_path: Path) -> None:
    counter = iter(range(100))

    @checkpointer_test(name="AsyncSqliteSaver")
    async def factory() -> AsyncIterator[BaseCheckpointSaver[str]]:
        async with AsyncSqliteSaver.from_conn_string(str(tmp_path / f"cp{next(counter)}.db")) as saver:
            yield saver

    _assert_passed(await validate(factory))


async def test_memory_saver_passes_langgraph_conformance() -> None:
    @checkpointer_test(name="InMemorySaver")
    async def factory() -> AsyncIterator[BaseCheckpointSaver[str]]:
        yield InMemorySaver()

    _assert_passed(await validate(factory))


@pytest.mark.parametrize("size", [1_000, 64_000], ids=["1KB", "64KB"])
async def test_redis_saver_round_trips_large_state(redis_url: str, size: int) -> None:
    from langgraph.checkpoint.base import empty_checkpoint

    client = aioredis.Redis.from_url(redis_url)
    try:
        saver = RedisSaver(client, prefix=f"cp-{uuid.uuid4().hex[:8]}")
        ck = empty_checkpoint()
        ck["channel_values"] = {"messages": "x" * size}
        ck["channel_versions"] = {"messages": saver.get_next_version(None, None)}
        cfg = await saver.aput(
            {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, ck, {}, ck["channel_versions"]
        )
        got = await saver.aget_tuple(cfg)
        assert got is not None and got.checkpoint["channel_values"]["messages"] == "x" * size
    finally:
        await client.aclose()
