"""``MemoEmbedder``: an ``Embedder`` that embeds each distinct text once and keeps its vector.

The KB wraps its build embedder in one, so a rebuild embeds only the texts that are new;
``forget_unused`` drops the texts no call asked for since the last time (the KB calls it after
each tuned build). The decomposition check seeds one with the vectors the fusion tuning already
made, so it embeds only its clauses, once, though it searches every text twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from core.embedding import Embedder, EmbedderWrapper


class MemoEmbedder(EmbedderWrapper):
    """Same vectors as ``inner``; ``vectors`` (row i for ``texts[i]``) are known up front."""

    def __init__(
        self,
        inner: Embedder,
        texts: Sequence[str] = (),
        vectors: npt.NDArray[np.float32] | None = None,
    ) -> None:
        super().__init__(inner)
        self._memo: dict[str, npt.NDArray[np.float32]] = {}
        if vectors is not None:
            self._memo.update(zip(texts, vectors, strict=True))
        self._used: set[str] = set()

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """``(len(texts), dim)`` float32; only texts never seen before reach ``inner``."""
        self._used.update(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            self._memo.update(zip(missing, await self._inner.embed(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts]).astype(np.float32, copy=False)

    def forget_unused(self) -> None:
        """Drop what no embed call asked for since the last ``forget_unused``."""
        for text in [t for t in self._memo if t not in self._used]:
            del self._memo[text]
        self._used = set()
