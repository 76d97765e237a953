"""``BackgroundEmbedder``: an Embedder whose ``embed`` is background work.

Give it to code that embeds in bulk through the plain ``Embedder`` seam (the tool KB's index
builds), so that its embedding yields to requests on the shared compute thread
(:meth:`core.embedders.compute.ComputeThread.run_background`). ``embed`` calls the wrapped
embedder's ``embed_background`` (``CachedEmbedder``, ``BatchingEmbedder``, ``OnnxMiniLMEmbedder``
have one) or, failing that, its ``embed``. The vectors are the wrapped embedder's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from core.embedding import Embedder


class BackgroundEmbedder:
    def __init__(self, inner: Embedder) -> None:
        self._inner = inner

    @property
    def dim(self) -> int:
        return self._inner.dim

    @property
    def name(self) -> str:
        return self._inner.name

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        bulk = getattr(self._inner, "embed_background", None)
        vectors: npt.NDArray[np.float32] = await (bulk or self._inner.embed)(texts)
        return vectors
