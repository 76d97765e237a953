"""BatchingEmbedder: concurrent calls share inner runs and get exactly their own rows."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from core.embedders.batching import LONG_CHARS, TEXT_CHARS, BatchingEmbedder
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


LONG = [f"document {i} " + "words " * 30 for i in range(40)]  # ~200 characters each


async def test_a_long_call_goes_to_the_inner_background_lane_with_its_rows_in_order() -> None:
    inner = BackgroundCountingEmbedder()
    texts = [*LONG, LONG[3], LONG[0], *LONG[:5]]
    assert sum(len(t) + TEXT_CHARS for t in texts) > LONG_CHARS
    got = await BatchingEmbedder(inner).embed(texts)
    np.testing.assert_array_equal(got, np.stack([fake_vector(t, inner.dim) for t in texts]))
    assert inner.background_calls == [LONG]  # once, each distinct text once
    assert inner.calls == []


@pytest.mark.parametrize(
    ("texts", "long"),
    [
        (["one text " * 400], False),  # a single text is never a long call
        ([f"t{i}" for i in range(19)], False),  # 1,947 counted characters
        ([f"t{i}" for i in range(20)], True),  # 2,050: each text counts its own run
        ([f"t{i}" for i in range(65)], True),
        (["x" * 800, "y" * 800], False),  # 1,800 counted characters
        (["x" * 900, "y" * 900, "z"], True),  # 2,101
        (["x" * 5000, "y" * 500], False),  # a text counts at most TEXT_MAX: 1,300 + 600
    ],
    ids=["one-text", "19-short", "20-short", "65-short", "under-budget", "over-budget", "capped-text"],
)
async def test_what_counts_as_a_long_call(texts: list[str], long: bool) -> None:
    inner = BackgroundCountingEmbedder()
    await BatchingEmbedder(inner, max_batch=64).embed(texts)
    assert bool(inner.background_calls) is long
    assert bool(inner.calls) is not long


async def test_a_short_call_is_never_batched_with_a_long_one() -> None:
    inner = BackgroundCountingEmbedder()
    batching = BatchingEmbedder(inner)
    long_got, short_got = await asyncio.gather(batching.embed(LONG), batching.embed(["a routing prompt"]))
    assert inner.calls == [["a routing prompt"]]
    assert inner.background_calls == [LONG]
    np.testing.assert_array_equal(short_got[0], fake_vector("a routing prompt", inner.dim))
    np.testing.assert_array_equal(long_got, np.stack([fake_vector(t, inner.dim) for t in LONG]))


async def test_without_a_background_lane_or_with_long_chars_none_a_long_call_is_one_batch() -> None:
    plain = CountingEmbedder()
    await BatchingEmbedder(plain).embed(LONG)
    assert plain.calls == [LONG]
    lanes = BackgroundCountingEmbedder()
    await BatchingEmbedder(lanes, long_chars=None).embed(LONG)
    assert lanes.calls == [LONG] and lanes.background_calls == []


def test_long_chars_must_be_positive() -> None:
    with pytest.raises(ValueError, match="long_chars"):
        BatchingEmbedder(CountingEmbedder(), long_chars=0)
