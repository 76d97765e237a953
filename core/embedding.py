"""The Embedder seam: text → L2-normalised float32 vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt


class Embedder(Protocol):
    @property
    def dim(self) -> int: ...

    @property
    def name(self) -> str:
        """Identifies model + export, so caches and indexes can tell vectors apart."""
        ...

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Shape ``(len(texts), dim)``, rows L2-normalised. Runs CPU work off the event loop."""
        ...


class EmbedderWrapper:
    """Base of an Embedder that wraps another (a cache, a batcher, a lane): ``dim`` and ``name``
    are the inner embedder's, so caches and indexes see the same vectors' identity."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner

    @property
    def dim(self) -> int:
        return self._inner.dim

    @property
    def name(self) -> str:
        return self._inner.name
