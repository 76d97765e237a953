"""Micro-batching: concurrent ``embed`` calls share one model run.

Calls queue up; one flusher task waits up to ``max_wait_s`` (or until ``max_batch`` texts are
queued; with ``max_wait_s=0`` just one event-loop turn), takes up to ``max_batch`` texts, runs
them through the inner embedder as one call, and hands each caller its rows. While a batch runs
on the compute thread, new calls queue for the next one, so batches grow with load and an idle
embedder adds at most ``max_wait_s``. One call per batch means one hop to the compute thread and
one tokenizer call instead of N, and identical texts are embedded once.

A long call (a ``/v1/embeddings`` request with hundreds of inputs) is cut into pieces of at most
``slice_chars`` (each text counting ``SLICE_TEXT_CHARS`` more: its own model run) and
``max_batch`` texts, queued one after another: calls that arrive meanwhile go between two
pieces instead of after the whole request (one model call on the single compute thread would
make every routing decision and tool search wait for all of it). A piece is always a batch of
its own, so a short call is not run together with (and held back by) the next piece, and short
calls and pieces take turns in arrival order; no batch of short calls grows past ``slice_chars``
either. The pieces'
vectors are the ones of one call when the inner embedder embeds every text alone (the ONNX one
does).

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
    chars: int  # the texts' cost in characters (see _cost)
    piece: bool = False  # a piece of a long call: always a batch of its own


# A piece of a long call: ~20 ms of MiniLM on this CPU (about two short documents' worth of
# characters per 10 ms, each text's own run counting as ~100 characters), the most a short call
# waits behind one long call; a hop per piece costs ~0.1 ms of it. A text counts at most
# SLICE_TEXT_MAX characters: MiniLM truncates at 256 word pieces (~1,200 characters).
SLICE_CHARS = 2000
SLICE_TEXT_CHARS = 100
SLICE_TEXT_MAX = 1200


def _cost(text: str) -> int:
    return min(len(text), SLICE_TEXT_MAX) + SLICE_TEXT_CHARS


class BatchingEmbedder(EmbedderWrapper):
    """Wraps ``inner``; same vectors as calling it one by one (up to float rounding).

    A failing batch fails every call in it with the inner error. A cancelled caller's texts are
    skipped if its batch has not started; a cancelled long call queues none of its later
    pieces. ``aclose`` cancels the flusher and fails queued calls. ``slice_chars=None`` turns
    the cutting of long calls off (one batch per call, however long).
    """

    def __init__(
        self,
        inner: Embedder,
        *,
        max_batch: int = 64,
        max_wait_s: float = 0.001,
        slice_chars: int | None = SLICE_CHARS,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        if slice_chars is not None and slice_chars < 1:
            raise ValueError("slice_chars must be >= 1 (or None)")
        super().__init__(inner)
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._slice_chars = slice_chars
        self._queue: list[_Pending] = []
        self._queued_texts = 0
        self._queued_chars = 0
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
        pieces = self._pieces(texts)
        if pieces is None:
            return await self._queued(list(texts))
        vectors = np.concatenate([await self._queued(piece, piece=True) for piece in pieces])
        row = {text: i for i, text in enumerate(t for piece in pieces for t in piece)}
        return vectors[[row[t] for t in texts]]

    def _pieces(self, texts: Sequence[str]) -> list[list[str]] | None:
        """A long call's distinct texts in pieces (see the module docstring); None for a call
        that fits in one."""
        budget = self._slice_chars
        if budget is None or len(texts) == 1:
            return None
        if len(texts) <= self._max_batch and sum(_cost(t) for t in texts) <= budget:
            return None
        pieces: list[list[str]] = [[]]
        chars = 0
        for text in dict.fromkeys(texts):
            if pieces[-1] and (chars + _cost(text) > budget or len(pieces[-1]) == self._max_batch):
                pieces.append([])
                chars = 0
            pieces[-1].append(text)
            chars += _cost(text)
        return pieces

    async def _queued(self, texts: list[str], *, piece: bool = False) -> npt.NDArray[np.float32]:
        future: asyncio.Future[npt.NDArray[np.float32]] = asyncio.get_running_loop().create_future()
        chars = sum(_cost(t) for t in texts)
        self._queue.append(_Pending(texts, future, chars, piece))
        self._queued_texts += len(texts)
        self._queued_chars += chars
        if self._ready():
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
        self._queued_texts = self._queued_chars = 0

    def _ready(self) -> bool:
        """Whether the next batch is full already, so waiting ``max_wait_s`` for company
        would gain nothing: a piece (never batched) is next, or a batch's worth is queued."""
        return bool(self._queue) and (
            self._queue[0].piece
            or self._queued_texts >= self._max_batch
            or (self._slice_chars is not None and self._queued_chars >= self._slice_chars)
        )

    async def _flush_loop(self) -> None:
        while self._queue:
            if not self._ready():
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
        size = chars = 0
        budget = self._slice_chars
        while self._queue:
            head = self._queue[0]
            if batch and (
                head.piece
                or size + len(head.texts) > self._max_batch
                or (budget is not None and chars + head.chars > budget)
            ):
                break
            self._queue.pop(0)
            self._queued_texts -= len(head.texts)
            self._queued_chars -= head.chars
            if head.future.cancelled():
                continue
            batch.append(head)
            if head.piece:
                break
            size += len(head.texts)
            chars += head.chars
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
