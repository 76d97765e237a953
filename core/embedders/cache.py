"""Content-hash cache of embeddings: an in-process LRU in front of the shared Store.

Key: ``emb:`` + sha256(embedder name + NUL + text). The embedder name includes the export's hash,
so vectors of two different exports never mix. Values in the Store are the raw float32 bytes of
one row. The LRU keeps hot prompts off the Store (no network round trip on a Redis store); the
Store shares misses across replicas. The cache is an optimisation: a Store error is logged and
treated as a miss, never raised.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from core.embedders.background import background_embed
from core.embedding import Embedder, EmbedderWrapper
from core.errors import SwitchboardError
from core.store.protocol import Store

log = logging.getLogger(__name__)

KEY_PREFIX = "emb:"


class VectorLRU:
    """Bounded map key → read-only vector, least recently used evicted first."""

    def __init__(self, max_items: int) -> None:
        self._max = max_items
        self._items: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()

    def get(self, key: str) -> npt.NDArray[np.float32] | None:
        vector = self._items.get(key)
        if vector is not None:
            self._items.move_to_end(key)
        return vector

    def put(self, key: str, vector: npt.NDArray[np.float32]) -> None:
        if self._max <= 0:
            return
        vector = np.array(vector, dtype=np.float32, copy=True)
        vector.setflags(write=False)
        self._items[key] = vector
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class CachedEmbedder(EmbedderWrapper):
    """Wraps ``inner``; only texts missing from both cache levels reach it (once per distinct text).

    ``store`` may be None (LRU only). ``ttl_s`` bounds how long vectors stay in the Store.
    """

    def __init__(
        self,
        inner: Embedder,
        store: Store | None = None,
        *,
        lru_items: int = 4096,
        ttl_s: float | None = 7 * 24 * 3600.0,
    ) -> None:
        super().__init__(inner)
        self._store = store
        self._lru = VectorLRU(lru_items)
        self._ttl_s = ttl_s

    @property
    def compute(self) -> Any:
        """The compute thread of the wrapped embedder (None when it has none): callers that do
        more CPU work with the vectors (a tool search scoring its index) run it there."""
        return getattr(self._inner, "compute", None)

    def key_for(self, text: str) -> str:
        digest = hashlib.sha256(f"{self._inner.name}\0{text}".encode("utf-8", "surrogatepass"))
        return KEY_PREFIX + digest.hexdigest()

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return await self._embed(texts, background=False)

    async def embed_background(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """:meth:`embed` for bulk work (an index build): misses go to the inner embedder's
        ``embed_background`` when it has one, and no vector of the call enters the LRU (new ones
        go to the Store), so a build does not evict the requests' hot vectors."""
        return await self._embed(texts, background=True)

    async def _embed(self, texts: Sequence[str], *, background: bool) -> npt.NDArray[np.float32]:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}  # key → rows still to fill
        key_text: dict[str, str] = {}
        for row, text in enumerate(texts):
            key = self.key_for(text)
            hit = self._lru.get(key)
            if hit is not None:
                out[row] = hit
            else:
                missing.setdefault(key, []).append(row)
                key_text[key] = text
        if missing and self._store is not None:
            for key, vector in await self._store_get(list(missing)):
                if vector is not None:
                    out[missing.pop(key)] = vector
                    if not background:
                        self._lru.put(key, vector)
        if not missing:
            return out
        keys = list(missing)
        inner_embed = background_embed(self._inner) if background else self._inner.embed
        vectors = await inner_embed([key_text[k] for k in keys])
        for key, vector in zip(keys, vectors, strict=True):
            out[missing[key]] = vector
            if not background:
                self._lru.put(key, vector)
        if self._store is not None:
            await self._store_put(keys, vectors)
        return out

    async def _store_get(self, keys: list[str]) -> list[tuple[str, npt.NDArray[np.float32] | None]]:
        assert self._store is not None
        try:
            raw = await asyncio.gather(*(self._store.get(k) for k in keys))
        except SwitchboardError as exc:
            log.warning("embedding cache read failed, treating as miss: %s", exc)
            return []
        found: list[tuple[str, npt.NDArray[np.float32] | None]] = []
        for key, value in zip(keys, raw, strict=True):
            vector = None
            if value is not None and len(value) == 4 * self.dim:
                vector = np.frombuffer(value, dtype=np.float32)
            found.append((key, vector))
        return found

    async def _store_put(self, keys: list[str], vectors: npt.NDArray[np.float32]) -> None:
        assert self._store is not None
        try:
            await asyncio.gather(
                *(
                    self._store.set(k, np.ascontiguousarray(v, dtype=np.float32).tobytes(), ttl_s=self._ttl_s)
                    for k, v in zip(keys, vectors, strict=True)
                )
            )
        except SwitchboardError as exc:
            log.warning("embedding cache write failed: %s", exc)
