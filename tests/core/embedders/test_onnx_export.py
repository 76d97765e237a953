"""The prepared ONNX int8 export against the sentence-transformers reference, on real prompts.

Slow: loads torch + sentence-transformers once for the module (~10 s on one thread).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from core.embedders import (
    BatchingEmbedder,
    OnnxMiniLMEmbedder,
    SentenceTransformerEmbedder,
    default_embedder,
)
from core.embedders.export import prepare_models
from core.embedders.manifest import read_manifest
from core.store.memory import MemoryStore

pytestmark = pytest.mark.slow

PROMPTS = [
    json.loads(line)["prompt"]
    for line in (Path(__file__).parent / "data" / "prompts.jsonl").read_text(encoding="utf-8").splitlines()
]
MIN_COSINE = 0.98


@pytest.fixture(scope="module")
def onnx(prepared_models_dir: Path) -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder.from_models_dir(prepared_models_dir)


@pytest.fixture(scope="module")
def reference_vectors() -> npt.NDArray[np.float32]:
    return SentenceTransformerEmbedder().embed_sync(PROMPTS)


async def test_int8_matches_sentence_transformers(
    onnx: OnnxMiniLMEmbedder, reference_vectors: npt.NDArray[np.float32]
) -> None:
    got = await onnx.embed(PROMPTS)
    cosines = np.sum(got * reference_vectors, axis=1)
    assert got.shape == (len(PROMPTS), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert cosines.min() >= MIN_COSINE, f"worst prompt #{cosines.argmin()}: {cosines.min():.4f}"


async def test_batched_vectors_match_one_by_one(onnx: OnnxMiniLMEmbedder) -> None:
    texts = PROMPTS[:24]
    one_by_one = np.stack([(await onnx.embed([t]))[0] for t in texts])
    batching = BatchingEmbedder(onnx, max_batch=8)
    batched = np.concatenate(await asyncio.gather(*(batching.embed([t]) for t in texts)))
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)
    assert batching.batches_run < len(texts)


async def test_default_embedder_composes_cache_over_batching(prepared_models_dir: Path) -> None:
    embedder = default_embedder(prepared_models_dir, MemoryStore())
    first = await embedder.embed(PROMPTS[:4])
    again = await embedder.embed(PROMPTS[:4])
    assert embedder.dim == 384 and embedder.name.startswith("all-MiniLM-L6-v2/onnx-int8:")
    np.testing.assert_array_equal(first, again)


def test_prepare_is_idempotent(prepared_models_dir: Path) -> None:
    before = read_manifest(prepared_models_dir)
    result = prepare_models(prepared_models_dir)
    assert not result.exported
    assert result.manifest.embedder == before.embedder
    assert result.manifest.edge_llm is not None and Path(result.manifest.edge_llm.gguf).is_file()
