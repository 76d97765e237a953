"""Fixtures for the keys/limits tests: a Store of each kind (ids memory/redis) and a ManualClock.

The Limiter and KeyStore read wall time from the ManualClock for both stores (budget periods,
created_at); Redis rate windows keep time on the server, so rate tests use 60 s windows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from core.clock import ManualClock
from core.store.memory import MemoryStore
from core.store.protocol import Store
from core.store.redis import RedisStore


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[Store]:
    if request.param == "memory":
        mem = MemoryStore(clock=clock)
        yield mem
        await mem.aclose()
        return
    url: str = request.getfixturevalue("clean_redis_url")
    red = RedisStore.from_url(url)
    yield red
    await red.aclose()


@pytest.fixture
def key_id() -> str:
    return "key_" + uuid.uuid4().hex[:12]
