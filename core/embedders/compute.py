"""One worker thread for CPU-bound model work (embedding, inference).

On these 2-core machines a second compute thread collapses throughput as soon as anything else
runs (ARCHITECTURE.md §6), so every embedder in a process shares one :class:`ComputeThread`:
the event loop never runs model code, and model calls never overlap.

The hop is kept cheap because it sits on every query (a tool search is ~2.5 ms in all): one
dedicated thread blocks on a ``queue.SimpleQueue`` and hands each result back with
``loop.call_soon_threadsafe``, with no ``concurrent.futures`` future in between. Measured
against ``loop.run_in_executor`` on a one-worker pool, interleaved per query: a 10k-tool search
(query embedding + scoring) ~0.15 ms faster at the median (2.8 → 2.6 ms, load ~1.5).

Two lanes. ``run`` is for requests; ``run_background`` for bulk work cut into short calls (an
index build's slices, :meth:`OnnxMiniLMEmbedder.embed_background`). The thread takes a waiting
request's call first and, when both lanes wait, alternates one call of each: a request waits
for at most one background call (not for a whole build: a 1,500-tool catalog in one call held
the thread for ~6.6 s), and a build still advances under sustained traffic. Background calls
queued back to back run without a round trip to the event loop between them.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[object, ...]]


class _Wake:
    """Put on the request lane so that a thread blocked on it sees new background work."""


_WAKE = _Wake()


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """On the loop: hand the outcome to the awaiting task (dropped if it was cancelled)."""
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _cancel(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.cancel()


class ComputeThread:
    """A single dedicated thread. ``run`` awaits ``fn(*args)`` executed on that thread, calls in
    the order they were made.

    Cancelling the awaiting task does not stop a call that already started (threads cannot be
    interrupted); its result is dropped. A call whose awaiting task was cancelled before the
    thread reached it is skipped. ``shutdown`` waits for the running call to finish and cancels
    the queued ones; ``run`` after ``shutdown`` raises RuntimeError.
    """

    def __init__(self, name: str = "switchboard-compute") -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | _Wake | None] = queue.SimpleQueue()
        self._background: collections.deque[_Job] = collections.deque()
        self._background_turn = False  # the thread's own: whether a background call goes next
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the thread, in request order (ahead of queued background calls)."""
        return await self._submit(fn, args, background=False)

    async def run_background(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the thread as background work: after any waiting request, one call
        of each lane in turn. Keep each call short (tens of milliseconds)."""
        return await self._submit(fn, args, background=True)

    async def _submit(self, fn: Callable[..., T], args: tuple[object, ...], *, background: bool) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("ComputeThread is shut down")
            if self._thread is None:  # started on first use: idle embedders cost no thread
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
            if background:
                self._background.append((loop, future, fn, args))
                self._jobs.put(_WAKE)
            else:
                self._jobs.put((loop, future, fn, args))
        return await future

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._drain()
        self._jobs.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _next(self) -> _Job | None:
        """The next call to run (None: shut down): a request first, then one background call
        before the next request while background calls wait."""
        while True:
            if self._background_turn and self._background:
                self._background_turn = False
                return self._background.popleft()
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                if self._background:
                    return self._background.popleft()
                job = self._jobs.get()
            if isinstance(job, _Wake):
                continue
            self._background_turn = True
            return job

    def _work(self) -> None:
        while (job := self._next()) is not None:
            loop, future, fn, args = job
            if future.cancelled():  # benign race: at worst a cancelled call runs, result dropped
                continue
            try:
                outcome: tuple[bool, Any] = (True, fn(*args))
            except BaseException as exc:  # handed to the caller, like an executor does
                outcome = (False, exc)
            try:
                loop.call_soon_threadsafe(_resolve, future, *outcome)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting
                pass

    def _drain(self) -> None:
        """Cancel the calls still queued (at shutdown)."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                try:
                    job = self._background.popleft()
                except IndexError:
                    return
            if job is None or isinstance(job, _Wake):
                continue
            loop, future, _, _ = job
            try:
                loop.call_soon_threadsafe(_cancel, future)
            except RuntimeError:
                pass
