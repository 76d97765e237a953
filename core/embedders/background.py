"""``BackgroundEmbedder``: an Embedder whose ``embed`` is background work.

Give it to code that embeds in bulk through the plain ``Embedder`` seam (the tool KB's index
builds), so that its embedding yields to requests on the shared compute thread
(:meth:`core.embedders.compute.ComputeThread.run_background`). ``embed`` calls the wrapped
embedder's ``embed_background`` (``CachedEmbedder``, ``BatchingEmbedder``, ``OnnxMiniLMEmbedder``
have one) or, failing that, its ``embed``. The vectors are the wrapped embedder's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import numpy as np
import numpy.typing as npt

from core.embedding import Embedder, EmbedderWrapper

EmbedCall = Callable[[Sequence[str]], Awaitable[npt.NDArray[np.float32]]]


def background_embed(embedder: Embedder) -> EmbedCall:
    """``embedder``'s background lane: its ``embed_background`` when it has one, else ``embed``."""
    bulk: EmbedCall | None = getattr(embedder, "embed_background", None)
    return bulk or embedder.embed


class BackgroundEmbedder(EmbedderWrapper):
    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return await background_embed(self._inner)(texts)
