"""One embedder per gateway process, handed to everything that embeds.

The learned selectors are built synchronously each time the config (re)loads, while the runtime's
embedder (the ONNX int8 MiniLM behind the Store cache and the micro-batcher) is loaded lazily, once,
off the event loop. :class:`RuntimeEmbedder` bridges the two: selectors hold it from the start and
the first ``embed`` call loads (or reuses) the runtime's embedder. So a reload never loads a second
ONNX session, and routing, tool search and /v1/embeddings share one cache and one batcher.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.embedders.manifest import read_manifest
from core.embedding import Embedder
from core.errors import LocalModelError

DEFAULT_DIM = 384


class RuntimeEmbedder:
    """An :class:`~core.embedding.Embedder` that delegates to ``load()``'s result.

    ``load`` must return the same embedder on every call (the runtime memoizes it). ``dim`` and
    ``name`` come from the loaded embedder when there is one, else from the models manifest, so
    reading them never loads the model.
    """

    def __init__(self, load: Callable[[], Awaitable[Embedder]], models_dir: Path) -> None:
        self._load = load
        self._models_dir = models_dir
        self._inner: Embedder | None = None

    @property
    def dim(self) -> int:
        if self._inner is not None:
            return self._inner.dim
        try:
            return read_manifest(self._models_dir).embedder.dim
        except LocalModelError:
            return DEFAULT_DIM

    @property
    def name(self) -> str:
        if self._inner is not None:
            return self._inner.name
        try:
            return read_manifest(self._models_dir).embedder.cache_name
        except LocalModelError:
            return "unprepared"

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        inner = self._inner
        if inner is None:
            inner = self._inner = await self._load()
        return await inner.embed(texts)
