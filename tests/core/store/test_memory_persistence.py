"""MemoryStore with a state file: durable namespaces survive a restart, the rest does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.clock import ManualClock
from core.errors import StoreUnavailableError
from core.store.memory import MemoryStore


async def test_durable_hash_survives_restart_without_close(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    first = MemoryStore(state_path=path)
    await first.hset("vk:by_hash", {"abc": b'{"id": "key_1"}'})
    # no aclose(): a durable write is on disk when the call returns (a crash right after is safe)
    second = MemoryStore(state_path=path)
    assert await second.hget("vk:by_hash", "abc") == b'{"id": "key_1"}'


async def test_lazy_namespace_is_written_on_close(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    first = MemoryStore(state_path=path)
    await first.incr_by("spend:key_1:total", 0.5)
    await first.aclose()
    second = await MemoryStore.open(state_path=path)
    assert await second.get("spend:key_1:total") == b"0.5"


async def test_other_namespaces_are_not_persisted(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    first = MemoryStore(state_path=path)
    await first.set("emb:cache", b"x")
    await first.rate_acquire("rl:rpm:k", limit=1, window_s=60)
    await first.hset("vk:by_hash", {"a": b"1"})
    await first.aclose()
    second = MemoryStore(state_path=path)
    assert await second.get("emb:cache") is None
    assert (await second.rate_acquire("rl:rpm:k", limit=1, window_s=60)).allowed


async def test_remaining_ttl_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    clock = ManualClock()
    first = MemoryStore(clock=clock, state_path=path)
    await first.incr_by("spend:key_1:2025-01", 1.0, ttl_s=100)
    await first.aclose()
    clock.advance(60)
    second = MemoryStore(clock=clock, state_path=path)
    assert await second.get("spend:key_1:2025-01") == b"1"
    clock.advance(50)
    assert await second.get("spend:key_1:2025-01") is None


async def test_corrupt_snapshot_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_text("{not json")
    with pytest.raises(StoreUnavailableError, match="corrupt"):
        MemoryStore(state_path=path)


async def test_sweep_drops_expired_keys_and_keeps_one_heap_entry_per_key() -> None:
    clock = ManualClock()
    store = MemoryStore(clock=clock)
    for _ in range(100):
        await store.rate_acquire("rl:rpm:k", limit=1000, window_s=60)
        clock.advance(0.1)
    await store.set("short", b"v", ttl_s=1)
    assert len(store._heap) == 2
    clock.advance(120)
    await store.set("later", b"v", ttl_s=1)  # any TTL write sweeps what has expired
    assert set(store._data) == {"later"}


async def test_unwritable_snapshot_is_store_unavailable(tmp_path: Path) -> None:
    store = MemoryStore(state_path=tmp_path / "sub" / "store.json")
    (tmp_path / "sub").write_text("")  # the directory the snapshot needs is now a file
    with pytest.raises(StoreUnavailableError, match="cannot write"):
        await store.hset("vk:by_hash", {"a": b"1"})
