"""BatchingEmbedder: concurrent calls share inner runs and get exactly their own rows."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from core.embedders.batching import BatchingEmbedder
from tests.fakes.embedder import BackgroundCountingEmbedder, CountingEmbedder, fake_vector

TEXTS = [f"prompt number {i}" for i in range(20)]


@pytest.mark.parametrize("max_wait_s", [0.0, 0.001], ids=["one-loop-turn", "1ms"])
async def test_concurrent_calls_match_one_by_one(max_wait_s: float) -> None:
    inner = CountingEmbedder()
    batching = BatchingEmbedder(inner, max_batch=64, max_wait_s=max_wait_s)
    results = await asyncio.gather(*(batching.embed([t]) for t in TEXTS))
    for text, got in zip(TEXTS, results, strict=True):
        np.testing.assert_array_equal(got[0], fake_vector(text, inner.dim))
    assert len(inner.calls) < len(TEXTS)


async def test_multi_text_calls_keep_their_order() -> None:
    inner = CountingEmbedder()
    batching = BatchingEmbedder(inner)
    a, b = await asyncio.gather(batching.embed(TEXTS[:3]), batching.embed(TEXTS[3:5]))
    np.testing.assert_array_equal(a, np.stack([fake_vector(t, inner.dim) for t in TEXTS[:3]]))
    np.testing.assert_array_equal(b, np.stack([fake_vector(t, inner.dim) for t in TEXTS[3:5]]))


@pytest.mark.parametrize("max_batch", [1, 4, 7], ids=lambda n: f"max_batch={n}")
async def test_batches_never_exceed_max_batch(max_batch: int) -> None:
    inner = CountingEmbedder()
    batching = BatchingEmbedder(inner, max_batch=max_batch)
    await asyncio.gather(*(batching.embed([t]) for t in TEXTS))
    assert max(len(c) for c in inner.calls) <= max_batch
    assert sum(len(c) for c in inner.calls) == len(TEXTS)


async def test_identical_texts_in_a_batch_are_embedded_once() -> None:
    inner = CountingEmbedder()
    batching = BatchingEmbedder(inner)
    await asyncio.gather(*(batching.embed(["same"]) for _ in range(5)))
    assert inner.texts_embedded == 1


async def test_inner_failure_reaches_every_caller_in_the_batch() -> None:
    inner = CountingEmbedder()
    inner.fail_with = RuntimeError("model crashed")
    batching = BatchingEmbedder(inner)
    results = await asyncio.gather(*(batching.embed([t]) for t in TEXTS[:3]), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_background_calls_skip_the_batches_and_reach_the_inner_background_lane() -> None:
    inner = BackgroundCountingEmbedder()
    batching = BatchingEmbedder(inner, max_batch=4)
    texts = [*TEXTS[:10], TEXTS[0]]
    request = asyncio.ensure_future(batching.embed(["a request"]))
    got = await batching.embed_background(texts)
    await request
    np.testing.assert_array_equal(got, np.stack([fake_vector(t, inner.dim) for t in texts]))
    assert inner.background_calls == [TEXTS[:10]]  # one call, identical texts once
    assert inner.calls == [["a request"]]  # never batched with the background texts


async def test_background_calls_fall_back_to_embed_without_a_background_lane() -> None:
    inner = CountingEmbedder()
    got = await BatchingEmbedder(inner, max_batch=4).embed_background(TEXTS[:6])
    np.testing.assert_array_equal(got, np.stack([fake_vector(t, inner.dim) for t in TEXTS[:6]]))
    assert inner.calls == [TEXTS[:6]]
