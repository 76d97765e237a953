"""Bulk embedding (an index build) as background work: same vectors, and requests go first.

Real ONNX int8 MiniLM on its compute thread; no timing thresholds: the checks are on order and
on how many calls the compute thread ran (counted through its clock, which it reads twice per
call it runs).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.embedders import (
    BackgroundEmbedder,
    ComputeThread,
    OnnxMiniLMEmbedder,
    default_embedder,
)
from core.embedders.background import embed_many
from core.embedders.onnx_embedder import BACKGROUND_SLICE_CHARS

PROMPTS = [
    json.loads(line)["prompt"]
    for line in (Path(__file__).parent / "data" / "prompts.jsonl").read_text(encoding="utf-8").splitlines()
]


@pytest.fixture(scope="module")
def onnx(prepared_models_dir: Path) -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder.from_models_dir(prepared_models_dir)


async def test_background_embedding_gives_the_same_vectors_in_the_callers_order(
    onnx: OnnxMiniLMEmbedder,
) -> None:
    texts = [*PROMPTS[:60], "x", "a much longer text " * 80, PROMPTS[0], *(["ok"] * 30)]
    assert sum(map(len, texts)) > 10 * BACKGROUND_SLICE_CHARS  # many slices, of several sizes
    got = await onnx.embed_background(texts)
    np.testing.assert_allclose(got, onnx.embed_sync(texts), atol=1e-6)
    assert (await onnx.embed_background([])).shape == (0, onnx.dim)


@pytest.mark.parametrize(
    "bulk_call",
    [
        lambda embedder, texts: BackgroundEmbedder(embedder).embed(texts),  # the KB's index builds
        embed_many,  # a /v1/embeddings request with many inputs
    ],
    ids=["index-build", "bulk-request"],
)
async def test_a_request_does_not_wait_for_bulk_embedding(prepared_models_dir: Path, bulk_call: Any) -> None:
    # the gateway's composition (cache -> batching -> ONNX); a routing embedding issued after
    # the bulk call goes first
    embedder = default_embedder(prepared_models_dir, None)
    bulk_texts = [f"{p} (copy {i})" for i in range(2) for p in PROMPTS]
    bulk = asyncio.ensure_future(bulk_call(embedder, bulk_texts))
    for _ in range(10):  # the bulk call reaches the compute thread as queued slices
        await asyncio.sleep(0)
    request = await embedder.embed(["what is the weather in Paris tomorrow?"])
    assert not bulk.done(), "the request waited for the whole bulk embedding"
    vectors = await bulk
    assert request.shape == (1, embedder.dim)
    reference = OnnxMiniLMEmbedder.from_models_dir(prepared_models_dir)
    np.testing.assert_allclose(vectors[::40], reference.embed_sync(bulk_texts[::40]), atol=1e-6)


async def test_a_cancelled_build_embedding_runs_none_of_its_queued_slices(prepared_models_dir: Path) -> None:
    ticks = itertools.count()
    compute = ComputeThread(clock=lambda: float(next(ticks)))  # two reads per call it runs
    onnx = OnnxMiniLMEmbedder.from_models_dir(prepared_models_dir, compute=compute)
    texts = [f"{p} (cancelled)" for p in PROMPTS]
    try:
        await onnx.embed_background(texts)
        await compute.run_background(int)  # the marker: after every earlier background call
        slices = (next(ticks) - 2) // 2  # calls run, the marker's excluded
        before = next(ticks)
        bulk = asyncio.ensure_future(onnx.embed_background([f"{t} again" for t in texts]))
        for _ in range(5):
            await asyncio.sleep(0)
        bulk.cancel()
        with pytest.raises(asyncio.CancelledError):
            await bulk
        await compute.run_background(int)
        ran = (next(ticks) - before - 3) // 2  # the marker and the two reads of next() excluded
        assert slices > 20
        assert ran < slices // 2, f"{ran} of {slices} slices ran after the build was cancelled"
        np.testing.assert_allclose(await onnx.embed(PROMPTS[:2]), onnx.embed_sync(PROMPTS[:2]), atol=1e-6)
    finally:
        compute.shutdown()


async def test_a_failing_slice_fails_the_build_and_the_thread_keeps_working(
    prepared_models_dir: Path,
) -> None:
    compute = ComputeThread()
    onnx = OnnxMiniLMEmbedder.from_models_dir(prepared_models_dir, compute=compute)
    try:
        with pytest.raises(TypeError):
            await onnx.embed_background([*PROMPTS[:40], b"not text"])  # type: ignore[list-item]
        np.testing.assert_allclose(await onnx.embed(PROMPTS[:2]), onnx.embed_sync(PROMPTS[:2]), atol=1e-6)
    finally:
        compute.shutdown()
