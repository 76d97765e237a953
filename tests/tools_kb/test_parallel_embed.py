"""ParallelEmbedder: several sessions, the same vectors as one, rows in the caller's order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.parallel_embed import ParallelEmbedder


class SyncHashing:
    """HashingEmbedder's vectors through a blocking ``embed_sync`` (what a worker offers)."""

    def __init__(self, dim: int = 64) -> None:
        self._inner = HashingEmbedder(dim)
        self.texts_seen = 0

    @property
    def dim(self) -> int:
        return self._inner.dim

    @property
    def name(self) -> str:
        return self._inner.name

    def embed_sync(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.texts_seen += len(texts)
        return self._inner.vectors(texts)


TEXTS = [f"tool {i} {'word ' * (i % 7)}does thing {i * 13 % 17}" for i in range(203)]


async def test_rows_match_one_worker_in_input_order() -> None:
    workers = [SyncHashing(), SyncHashing(), SyncHashing()]
    with ParallelEmbedder(workers, chunk=8) as parallel:
        got = await parallel.embed(TEXTS)
        assert parallel.threads == 3
        assert parallel.name == workers[0].name and parallel.dim == 64
    expected = SyncHashing().embed_sync(TEXTS)
    assert np.array_equal(got, expected)
    assert sum(w.texts_seen for w in workers) == len(TEXTS)


async def test_empty_input_and_invalid_workers() -> None:
    with ParallelEmbedder([SyncHashing()]) as parallel:
        assert (await parallel.embed([])).shape == (0, 64)
    with pytest.raises(ValueError):
        ParallelEmbedder([])
    with pytest.raises(ValueError):
        ParallelEmbedder([SyncHashing(64), SyncHashing(32)])


@pytest.mark.slow
def test_onnx_sessions_make_bit_identical_vectors(prepared_models_dir: Path) -> None:
    from core.embedders import OnnxMiniLMEmbedder

    texts = TEXTS[:60]
    single = OnnxMiniLMEmbedder.from_models_dir(prepared_models_dir).embed_sync(texts)
    with ParallelEmbedder.onnx(prepared_models_dir, threads=2) as parallel:
        assert np.array_equal(parallel.embed_sync(texts), single)
