"""Micro-batching: concurrent ``embed`` calls share one model run.

Calls queue up; one flusher task waits up to ``max_wait_s`` (or until ``max_batch`` texts are
queued; with ``max_wait_s=0`` just one event-loop turn), takes up to ``max_batch`` texts, runs
them through the inner embedder as one call, and hands each caller its rows. While a batch runs
on the compute thread, new calls queue for the next one, so batches grow with load and an idle
embedder adds at most ``max_wait_s``. One call per batch means one hop to the compute thread and
one tokenizer call instead of N, and identical texts are embedded once.

``embed_background`` (bulk work: an index build) skips the queue: its distinct texts go in one
call to the inner embedder's ``embed_background`` when it has one (the ONNX embedder: slices that
requests' calls overtake on the compute thread), else to ``embed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from core.embedders.background import background_embed
from core.embedding import Embedder, EmbedderWrapper


@dataclass(slots=True)
class _Pending:
    texts: list[str]
    future: asyncio.Future[npt.NDArray[np.float32]]


class BatchingEmbedder(EmbedderWrapper):
    """Wraps ``inner``; same vectors as calling it one by one (up to float rounding).

    A failing batch fails every call in it with the inner error. A cancelled caller's texts are
    skipped if its batch has not started. ``aclose`` cancels the flusher and fails queued calls.
    """

    def __init__(self, inner: Embedder, *, max_batch: int = 64, max_wait_s: float = 0.001) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        super().__init__(inner)
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._queue: list[_Pending] = []
        self._queued_texts = 0
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self.batches_run = 0  # observable for tests and metrics

    @property
    def compute(self) -> Any:
        """The compute thread of the wrapped embedder (None when it has none): callers that do
        more CPU work with the vectors (a tool search scoring its index) run it there."""
        return getattr(self._inner, "compute", None)

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        future: asyncio.Future[npt.NDArray[np.float32]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(list(texts), future))
        self._queued_texts += len(texts)
        if self._queued_texts >= self._max_batch:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop(), name="embedder-batcher")
        return await future

    async def embed_background(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """:meth:`embed` for bulk work, outside the batches (see the module docstring)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = {text: i for i, text in enumerate(dict.fromkeys(texts))}
        vectors = await background_embed(self._inner)(list(unique))
        return vectors[[unique[t] for t in texts]]

    async def aclose(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        for pending in self._queue:
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("embedder closed"))
        self._queue.clear()

    async def _flush_loop(self) -> None:
        while self._queue:
            if self._queued_texts < self._max_batch:
                if self._max_wait_s > 0:
                    self._full.clear()
                    try:
                        await asyncio.wait_for(self._full.wait(), timeout=self._max_wait_s)
                    except TimeoutError:
                        pass
                else:  # one loop turn: gathers the calls made in the same tick
                    await asyncio.sleep(0)
            batch = self._take_batch()
            if batch:
                await self._run(batch)

    def _take_batch(self) -> list[_Pending]:
        batch: list[_Pending] = []
        size = 0
        while self._queue and (not batch or size + len(self._queue[0].texts) <= self._max_batch):
            pending = self._queue.pop(0)
            self._queued_texts -= len(pending.texts)
            if pending.future.cancelled():
                continue
            batch.append(pending)
            size += len(pending.texts)
        return batch

    async def _run(self, batch: list[_Pending]) -> None:
        # Identical texts in one batch are embedded once.
        unique: dict[str, int] = {}
        for pending in batch:
            for text in pending.texts:
                unique.setdefault(text, len(unique))
        try:
            vectors = await self._inner.embed(list(unique))
        except asyncio.CancelledError:
            for pending in batch:
                pending.future.cancel()
            raise
        except Exception as exc:  # every caller in the batch gets the inner error
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        self.batches_run += 1
        for pending in batch:
            if not pending.future.done():
                rows = [unique[t] for t in pending.texts]
                pending.future.set_result(vectors[rows])
