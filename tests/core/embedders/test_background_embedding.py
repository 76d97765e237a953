"""Bulk embedding (an index build) as background work: same vectors, and requests go first.

Real ONNX int8 MiniLM on its compute thread; no timing thresholds: the checks are on order.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from core.embedders import OnnxMiniLMEmbedder, default_embedder
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
    texts = [*PROMPTS[:60], "x", "a much longer text " * 80, PROMPTS[0]]  # slices of several sizes
    assert sum(map(len, texts)) > 10 * BACKGROUND_SLICE_CHARS
    got = await onnx.embed_background(texts)
    want = await onnx.embed(texts)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert (await onnx.embed_background([])).shape == (0, onnx.dim)


async def test_a_request_does_not_wait_for_a_bulk_embedding(prepared_models_dir: Path) -> None:
    # the gateway's composition (cache -> batching -> ONNX); more than max_batch texts is bulk
    embedder = default_embedder(prepared_models_dir, None, max_batch=8)
    bulk_texts = [f"{p} (copy {i})" for i in range(2) for p in PROMPTS]
    bulk = asyncio.ensure_future(embedder.embed(bulk_texts))
    for _ in range(10):  # the bulk call reaches the compute thread as queued slices
        await asyncio.sleep(0)
    request = await embedder.embed(["what is the weather in Paris tomorrow?"])
    assert not bulk.done(), "the request waited for the whole bulk embedding"
    vectors = await bulk
    assert request.shape == (1, embedder.dim)
    np.testing.assert_allclose(vectors[:5], await embedder.embed(bulk_texts[:5]), atol=1e-6)


async def test_a_cancelled_bulk_embedding_leaves_the_embedder_working(onnx: OnnxMiniLMEmbedder) -> None:
    bulk = asyncio.ensure_future(onnx.embed_background([f"{p} (cancelled)" for p in PROMPTS]))
    for _ in range(5):
        await asyncio.sleep(0)
    bulk.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bulk
    again = await onnx.embed(PROMPTS[:2])
    np.testing.assert_allclose(again, await onnx.embed_background(PROMPTS[:2]), atol=1e-6)
