"""Index-build embedding on several ONNX sessions at once (offline / background work only).

Building an index embeds every tool document; on one thread the int8 MiniLM does ~300 short
documents/s, so a 10k catalog takes half a minute. ``ParallelEmbedder`` holds one independent
single-threaded session per worker and lets the workers pull small chunks of one ``embed`` call
from a shared cursor (ONNX Runtime releases the GIL while it runs, so the workers really run in
parallel; chunks balance them when cores are shared unevenly).

Vectors are exactly those of one session: every worker embeds one text per ONNX run (the
embedders' ``rows_per_run=1``), so a vector depends only on its text, never on which worker or
chunk it went through. The name is the workers' name, so vector caches are shared with the
query-time embedder. Not for the request hot path: there the process's single compute thread
(:mod:`core.embedders.compute`) is the rule; use this for ``ToolIndex.build`` in the CLI,
benches and background rebuilds (``ToolIndex.build(..., query_embedder=hot_path_embedder)``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

CHUNK = 32  # texts per pull: small enough to balance, big enough to keep the overhead low


class SyncEmbedder(Protocol):
    """What a worker needs: a blocking ``embed_sync`` (e.g. ``OnnxMiniLMEmbedder``)."""

    @property
    def dim(self) -> int: ...

    @property
    def name(self) -> str: ...

    def embed_sync(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


def default_threads() -> int:
    """Build threads when the caller does not say: the number of CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class ParallelEmbedder:
    """An ``Embedder`` over ``len(workers)`` independent sync embedders, one thread each.

    Raises ValueError when there is no worker or the workers disagree on name or dim.
    ``close()`` (or ``with``) stops the threads.
    """

    def __init__(self, workers: Sequence[SyncEmbedder], *, chunk: int = CHUNK) -> None:
        if not workers:
            raise ValueError("ParallelEmbedder needs at least one worker")
        if len({(w.name, w.dim) for w in workers}) != 1:
            raise ValueError("ParallelEmbedder workers must share name and dim")
        self._workers = list(workers)
        self._chunk = max(1, chunk)
        self._pool = ThreadPoolExecutor(max_workers=len(workers), thread_name_prefix="tools-kb-build")
        self._lock = threading.Lock()  # one embed call at a time uses the workers

    @classmethod
    def onnx(cls, models_dir: Path | str, threads: int | None = None) -> ParallelEmbedder:
        """``threads`` ONNX int8 MiniLM sessions from ``models_dir`` (default: one per CPU).
        Raises core.errors.LocalModelError when the models folder was not prepared."""
        from core.embedders import OnnxMiniLMEmbedder

        n = default_threads() if threads is None else max(1, threads)
        return cls([OnnxMiniLMEmbedder.from_models_dir(Path(models_dir)) for _ in range(n)])

    @property
    def threads(self) -> int:
        return len(self._workers)

    @property
    def dim(self) -> int:
        return self._workers[0].dim

    @property
    def name(self) -> str:
        return self._workers[0].name

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """``(len(texts), dim)`` float32, rows L2-normalised, row i for ``texts[i]``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return await asyncio.to_thread(self.embed_sync, list(texts))

    def embed_sync(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Blocking version of :meth:`embed` (call it off the event loop)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # Similar lengths in a chunk (each worker sorts its chunk by tokens anyway).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunks = [order[s : s + self._chunk] for s in range(0, len(order), self._chunk)]
        cursor = itertools.count()  # next() is atomic under the GIL

        def work(worker: SyncEmbedder) -> Callable[[], None]:
            def loop() -> None:
                while (i := next(cursor)) < len(chunks):
                    rows = chunks[i]
                    out[rows] = worker.embed_sync([texts[r] for r in rows])

            return loop

        with self._lock:
            futures = [self._pool.submit(work(w)) for w in self._workers[: len(chunks)]]
            for f in futures:
                f.result()
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParallelEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
