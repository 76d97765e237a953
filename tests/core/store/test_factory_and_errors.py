"""open_store picks the implementation; Redis failures surface as StoreUnavailableError."""

from __future__ import annotations

import socket

import pytest

from core.errors import StoreUnavailableError
from core.store.factory import open_store
from core.store.memory import MemoryStore
from core.store.redis import RedisStore, redact


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens here once the socket closes


async def test_open_store_without_url_is_in_process() -> None:
    async with open_store(None) as store:
        assert isinstance(store, MemoryStore)
        assert await store.ping()


async def test_open_store_with_url_is_redis(redis_url: str) -> None:
    async with open_store(redis_url) as store:
        assert isinstance(store, RedisStore)
        await store.set("factory:probe", b"1", ttl_s=5)
        assert await store.get("factory:probe") == b"1"


async def test_open_store_unreachable_redis_raises_store_unavailable() -> None:
    url = f"redis://:hunter2@127.0.0.1:{_closed_port()}/0"
    with pytest.raises(StoreUnavailableError) as err:
        async with open_store(url):
            pass
    assert "hunter2" not in err.value.message  # the password never reaches a message


async def test_operation_on_unreachable_redis_raises_store_unavailable() -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{_closed_port()}/0", timeout_s=1.0)
    try:
        with pytest.raises(StoreUnavailableError):
            await store.get("k")
        assert await store.ping() is False
    finally:
        await store.aclose()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
        ("redis://user:pw@h:1", "redis://user:***@h:1"),
    ],
    ids=["no-password", "password-only", "user-and-password"],
)
def test_redact_hides_password(url: str, shown: str) -> None:
    assert redact(url) == shown
