"""``BackgroundEmbedder``: an Embedder whose ``embed`` is background work.

Give it to code that embeds in bulk through the plain ``Embedder`` seam (the tool KB's index
builds), so that its embedding yields to requests on the shared compute thread
(:meth:`core.embedders.compute.ComputeThread.run_background`). ``embed`` calls the wrapped
embedder's ``embed_background`` (``CachedEmbedder``, ``BatchingEmbedder``, ``OnnxMiniLMEmbedder``
have one) or, failing that, its ``embed``. The vectors are the wrapped embedder's.

``embed_many`` is for a request that may carry many texts at once (``/v1/embeddings``, up to 2,048
inputs): a bulk call — more than ``BULK_CHARS`` characters, each text counting ``TEXT_CHARS`` more
for its own model run (so 20 texts or more) and at most ``TEXT_MAX`` (MiniLM truncates at 256
word pieces) — goes to the background lane, ~10 ms slices that the process's short embeddings
(routing classifications, tool searches) overtake, instead of one model call that they all wait
behind; a smaller one is an ordinary ``embed``. Its vectors skip the cache's LRU (they go to the
Store), so a bulk request does not evict the hot routing vectors either. It is chosen by the
caller, not by size inside the embedder: a tool search of a long prompt (whole query + clauses)
or a chat request's own tool set is also "many characters", but it is a request someone waits
on, and in the background lane it would queue behind an index build's slices.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import numpy as np
import numpy.typing as npt

from core.embedding import Embedder, EmbedderWrapper

EmbedCall = Callable[[Sequence[str]], Awaitable[npt.NDArray[np.float32]]]

BULK_CHARS = 2000  # ~20 ms of MiniLM on this CPU: two background slices
TEXT_CHARS = 100
TEXT_MAX = 1200


def is_bulk(texts: Sequence[str]) -> bool:
    """Whether ``texts`` make a bulk call for :func:`embed_many` (see the module docstring)."""
    return len(texts) > 1 and sum(min(len(t), TEXT_MAX) + TEXT_CHARS for t in texts) > BULK_CHARS


async def embed_many(embedder: Embedder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """``texts`` embedded by ``embedder``: a bulk call in its background lane, else ``embed``."""
    return await (background_embed(embedder) if is_bulk(texts) else embedder.embed)(texts)


def background_embed(embedder: Embedder) -> EmbedCall:
    """``embedder``'s background lane: its ``embed_background`` when it has one, else ``embed``."""
    bulk: EmbedCall | None = getattr(embedder, "embed_background", None)
    return bulk or embedder.embed


class BackgroundEmbedder(EmbedderWrapper):
    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return await background_embed(self._inner)(texts)
