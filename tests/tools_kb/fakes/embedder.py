"""A deterministic Embedder for tests: hashed bag of stemmed words (no model, no threads).

Texts that share content words get similar vectors, which is all the retrieval tests need.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tools_kb.lexical import tokenize


class HashingEmbedder:
    def __init__(self, dim: int = 256) -> None:
        self._dim = dim
        self.calls: list[int] = []  # batch sizes seen, for tests that count embedding work

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def name(self) -> str:
        return f"hashing-{self._dim}"

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(len(texts))
        return self.vectors(texts)

    def vectors(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """The vectors of ``texts`` (blocking; not counted in ``calls``)."""
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in tokenize(text) or ["<empty>"]:
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[i, h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = float(np.linalg.norm(out[i]))
            out[i] /= norm if norm > 0 else 1.0
        return out
