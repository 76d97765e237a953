"""CachedEmbedder: content-hash cache (LRU in front of the Store); hits never reach the inner embedder."""

from __future__ import annotations

import numpy as np

from core.embedders.cache import CachedEmbedder
from core.store.memory import MemoryStore
from tests.fakes.embedder import BackgroundCountingEmbedder, CountingEmbedder, fake_vector


async def test_second_call_is_served_from_the_lru() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    first = await cached.embed(["alpha", "beta"])
    second = await cached.embed(["beta", "alpha"])
    assert inner.texts_embedded == 2
    np.testing.assert_array_equal(second, first[::-1])


async def test_only_misses_reach_the_inner_embedder() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    await cached.embed(["alpha"])
    out = await cached.embed(["alpha", "gamma", "gamma"])
    assert inner.calls == [["alpha"], ["gamma"]]
    np.testing.assert_array_equal(out[2], fake_vector("gamma", inner.dim))


async def test_store_shares_vectors_between_instances() -> None:
    store = MemoryStore()
    writer_inner, reader_inner = CountingEmbedder(), CountingEmbedder()
    want = await CachedEmbedder(writer_inner, store).embed(["shared prompt"])
    got = await CachedEmbedder(reader_inner, store).embed(["shared prompt"])
    assert reader_inner.calls == []
    np.testing.assert_array_equal(got, want)


async def test_lru_eviction_falls_back_to_the_store() -> None:
    store = MemoryStore()
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, store, lru_items=1)
    await cached.embed(["one"])
    await cached.embed(["two"])  # evicts "one" from the LRU
    await cached.embed(["one"])
    assert inner.texts_embedded == 2


async def test_vectors_of_another_model_are_not_reused() -> None:
    store = MemoryStore()
    await CachedEmbedder(CountingEmbedder(name="model-a"), store).embed(["prompt"])
    other = CountingEmbedder(name="model-b")
    await CachedEmbedder(other, store).embed(["prompt"])
    assert other.texts_embedded == 1


async def test_corrupt_store_value_is_a_miss() -> None:
    store = MemoryStore()
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, store, lru_items=0)
    await store.set(cached.key_for("prompt"), b"not a vector")
    out = await cached.embed(["prompt"])
    assert inner.texts_embedded == 1
    np.testing.assert_array_equal(out[0], fake_vector("prompt", inner.dim))


async def test_background_misses_reach_the_inner_background_lane_and_the_store_not_the_lru() -> None:
    inner = BackgroundCountingEmbedder()
    store = MemoryStore()
    cached = CachedEmbedder(inner, store, lru_items=4)
    await cached.embed(["hot request"])
    build = [f"document {i}" for i in range(10)]
    got = await cached.embed_background([*build, "hot request"])
    np.testing.assert_array_equal(got[:10], np.stack([fake_vector(t, inner.dim) for t in build]))
    assert inner.background_calls == [build]  # the LRU hit is not embedded again
    await cached.embed(["hot request"])  # still in the LRU: a build does not evict the requests'
    assert inner.calls == [["hot request"]]
    replica = CachedEmbedder(inner, store, lru_items=4)  # another replica: the Store has the build
    await replica.embed(["its hot request"])
    np.testing.assert_array_equal(await replica.embed_background(build), got[:10])
    assert inner.background_calls == [build]  # all Store hits
    await replica.embed(["its hot request"])  # Store hits of a build do not evict it either
    assert inner.calls == [["hot request"], ["its hot request"]]
