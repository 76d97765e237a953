"""A fake Embedder that plugs in through the Embedder seam and counts what reaches it.

Vectors are deterministic per text (seeded by its sha256), L2-normalised, so tests can compare
results of different call patterns exactly.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def fake_vector(text: str, dim: int) -> npt.NDArray[np.float32]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vec = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vec / np.linalg.norm(vec)


class CountingEmbedder:
    """``calls`` lists the text batches received, in order. ``fail_with`` makes embed raise it."""

    def __init__(self, dim: int = 8, name: str = "fake-embedder/v1") -> None:
        self._dim = dim
        self._name = name
        self.calls: list[list[str]] = []
        self.fail_with: Exception | None = None

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def name(self) -> str:
        return self._name

    @property
    def texts_embedded(self) -> int:
        return sum(len(c) for c in self.calls)

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        await asyncio.sleep(0)  # a real embedder yields while the compute thread works
        if self.fail_with is not None:
            raise self.fail_with
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([fake_vector(t, self._dim) for t in texts])


class BackgroundCountingEmbedder(CountingEmbedder):
    """A ``CountingEmbedder`` with a background lane: ``background_calls`` lists what reached it."""

    def __init__(self, dim: int = 8, name: str = "fake-embedder/v1") -> None:
        super().__init__(dim, name)
        self.background_calls: list[list[str]] = []

    async def embed_background(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.background_calls.append(list(texts))
        await asyncio.sleep(0)
        return np.stack([fake_vector(t, self.dim) for t in texts])
