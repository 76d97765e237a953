"""BatchingEmbedder: concurrent calls share inner runs and get exactly their own rows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from core.embedders.batching import SLICE_CHARS, SLICE_TEXT_CHARS, BatchingEmbedder
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


class _GatedEmbedder(CountingEmbedder):
    """Holds every call at ``gate`` until the test opens it; ``entered`` is set by the first."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.entered.set()
        await self.gate.wait()
        return await super().embed(texts)


LONG = [f"document {i} " + "words " * 30 for i in range(40)]  # ~200 characters each


def _chars(texts: list[str]) -> int:
    return sum(len(t) + SLICE_TEXT_CHARS for t in texts)


async def test_a_long_call_is_cut_into_pieces_within_the_budget() -> None:
    inner = CountingEmbedder()
    got = await BatchingEmbedder(inner, max_batch=64).embed(LONG)
    np.testing.assert_array_equal(got, np.stack([fake_vector(t, inner.dim) for t in LONG]))
    assert len(inner.calls) > 1
    assert all(_chars(c) <= SLICE_CHARS for c in inner.calls)
    assert [t for c in inner.calls for t in c] == LONG  # in order, each once


async def test_a_long_calls_duplicates_are_embedded_once_and_rows_follow_the_caller() -> None:
    inner = CountingEmbedder()
    texts = [*LONG, LONG[3], LONG[0], *LONG[:5]]
    got = await BatchingEmbedder(inner, max_batch=8).embed(texts)
    np.testing.assert_array_equal(got, np.stack([fake_vector(t, inner.dim) for t in texts]))
    assert inner.texts_embedded == len(LONG)
    assert max(len(c) for c in inner.calls) <= 8


async def test_a_short_call_goes_between_the_pieces_of_a_long_one() -> None:
    inner = _GatedEmbedder()
    batching = BatchingEmbedder(inner)
    long_call = asyncio.ensure_future(batching.embed(LONG))
    await inner.entered.wait()  # the first piece is running
    short_call = asyncio.ensure_future(batching.embed(["a routing prompt"]))
    for _ in range(5):
        await asyncio.sleep(0)
    inner.gate.set()
    long_got, short_got = await asyncio.gather(long_call, short_call)
    assert inner.calls[1] == ["a routing prompt"]  # alone, right after the first piece
    assert len(inner.calls) > 3
    np.testing.assert_array_equal(long_got, np.stack([fake_vector(t, inner.dim) for t in LONG]))
    np.testing.assert_array_equal(short_got[0], fake_vector("a routing prompt", inner.dim))


async def test_without_slicing_the_short_call_waits_for_the_whole_long_one() -> None:
    inner = _GatedEmbedder()
    batching = BatchingEmbedder(inner, slice_chars=None)
    long_call = asyncio.ensure_future(batching.embed(LONG))
    await inner.entered.wait()
    short_call = asyncio.ensure_future(batching.embed(["a routing prompt"]))
    inner.gate.set()
    await asyncio.gather(long_call, short_call)
    assert inner.calls == [LONG, ["a routing prompt"]]


async def test_a_cancelled_long_call_queues_no_more_pieces() -> None:
    inner = _GatedEmbedder()
    batching = BatchingEmbedder(inner)
    long_call = asyncio.ensure_future(batching.embed(LONG))
    await inner.entered.wait()
    long_call.cancel()
    inner.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await long_call
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(inner.calls) <= 1
    assert (await batching.embed(["next"]))[0].tolist() == fake_vector("next", inner.dim).tolist()


def test_slice_chars_must_be_positive() -> None:
    with pytest.raises(ValueError, match="slice_chars"):
        BatchingEmbedder(CountingEmbedder(), slice_chars=0)


async def test_pieces_hold_at_most_max_batch_texts() -> None:
    inner = CountingEmbedder()
    short = [f"t{i}" for i in range(10)]  # far under the character budget
    got = await BatchingEmbedder(inner, max_batch=3).embed(short)
    np.testing.assert_array_equal(got, np.stack([fake_vector(t, inner.dim) for t in short]))
    assert [len(c) for c in inner.calls] == [3, 3, 3, 1]


async def test_short_calls_are_batched_up_to_the_character_budget() -> None:
    inner = CountingEmbedder()
    texts = [f"route this prompt {i} " + "x" * 180 for i in range(30)]  # ~300 characters each
    batching = BatchingEmbedder(inner, max_batch=64)
    await asyncio.gather(*(batching.embed([t]) for t in texts))
    assert len(inner.calls) > 1
    assert all(_chars(c) <= SLICE_CHARS for c in inner.calls)
    assert sorted(t for c in inner.calls for t in c) == sorted(texts)


async def test_short_calls_queued_behind_a_piece_never_join_it() -> None:
    inner = _GatedEmbedder()
    batching = BatchingEmbedder(inner)
    first = asyncio.ensure_future(batching.embed(["first short call"]))
    await inner.entered.wait()  # it runs; what follows queues behind it
    long_call = asyncio.ensure_future(batching.embed(LONG))
    for _ in range(3):
        await asyncio.sleep(0)  # the long call's first piece is queued
    shorts = [asyncio.ensure_future(batching.embed([f"short {i}"])) for i in range(3)]
    for _ in range(3):
        await asyncio.sleep(0)
    inner.gate.set()
    await asyncio.gather(first, long_call, *shorts)
    pieces = [c for c in inner.calls if any(t in LONG for t in c)]
    assert all(set(c) <= set(LONG) for c in pieces)  # a piece is a batch of its own
    assert inner.calls[2] == ["short 0", "short 1", "short 2"]  # right after the first piece


@pytest.mark.parametrize("long_call", [False, True], ids=["short-calls", "long-call"])
async def test_a_full_batch_or_a_piece_does_not_wait_max_wait_s(long_call: bool) -> None:
    inner = CountingEmbedder()
    batching = BatchingEmbedder(inner, max_wait_s=30.0)  # a wait would time the test out
    if long_call:
        await asyncio.wait_for(batching.embed(LONG), timeout=10)
    else:
        # 16 texts of 400 characters (+100 each): exactly four budgets' worth, each batch full
        texts = [f"route this prompt {i:02d} " + "x" * 379 for i in range(16)]
        calls = asyncio.gather(*(batching.embed([t]) for t in texts))
        await asyncio.wait_for(calls, timeout=10)
    assert len(inner.calls) > 1
