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
index build's slices, :meth:`OnnxMiniLMEmbedder.embed_background`). A request that arrives while
the thread is idle or busy with background work runs as soon as the running call ends: it waits
for one background call at most, not for a whole build (a 1,500-tool catalog embedded in one call
held the thread for ~6.6 s). While requests queue, background calls still run, but only within
a time share: each second spent on requests lets ``BACKGROUND_SHARE`` (0.25) seconds of
background work go ahead of them, so under sustained traffic a build gets ~1/5 of the thread
and requests ~4/5. With no request waiting, background calls run back to back, without a round
trip to the event loop between them.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[object, ...]]


class _Wake:
    """Put on the request lane so that a thread blocked on it sees new background work."""


_WAKE = _Wake()

# Seconds of background work allowed ahead of waiting requests per second of request work, and
# the most that can be saved up while no background work waits (one short call's worth).
BACKGROUND_SHARE = 0.25
MAX_BACKGROUND_CREDIT_S = 0.01


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
    """A single dedicated thread. ``run`` awaits ``fn(*args)`` executed on that thread, requests
    in the order they were made; ``run_background`` the same for background work, in its own order
    (the module docstring says how the two lanes share the thread). ``clock`` (seconds) times the
    calls for that share.

    Cancelling the awaiting task does not stop a call that already started (threads cannot be
    interrupted); its result is dropped. A call whose awaiting task was cancelled before the
    thread reached it is skipped. ``shutdown`` waits for the running call to finish and cancels
    the queued ones; ``run`` after ``shutdown`` raises RuntimeError.
    """

    def __init__(
        self, name: str = "switchboard-compute", *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self._name = name
        self._clock = clock
        self._jobs: queue.SimpleQueue[_Job | _Wake | None] = queue.SimpleQueue()
        self._background: collections.deque[_Job] = collections.deque()
        # the thread's own state: requests taken off the queue, not run yet; background credit (s)
        self._requests: collections.deque[_Job] = collections.deque()
        self._credit = 0.0
        self._stopping = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the thread, after the requests made before it."""
        return await self._submit(fn, args, background=False)

    async def run_background(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the thread as background work, which waiting requests go before
        (within the time share). Keep each call short: a request may wait for one."""
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

    def _pull(self, *, block: bool) -> None:
        """Move the queued requests into the thread's own deque (``block``: wait for the first
        item); the shutdown mark sets ``_stopping``."""
        while block or not self._jobs.empty():  # empty(): no exception on the common path
            try:
                item = self._jobs.get(block=block)
            except queue.Empty:
                return
            block = False
            if item is None:
                self._stopping = True
            elif not isinstance(item, _Wake):
                self._requests.append(item)

    def _pop_background(self) -> _Job | None:
        if not self._background:
            return None
        try:
            return self._background.popleft()
        except IndexError:  # emptied meanwhile by a shutdown on another thread
            return None

    def _next(self) -> tuple[_Job, str] | None:
        """The next call and its kind: "request", "charged" (background work run while requests
        wait, paid from the credit) or "free" (background work, no request waiting); None when
        shut down."""
        while True:
            self._pull(block=False)
            if self._stopping:
                return None
            if self._requests:
                if self._credit > 0 and (job := self._pop_background()) is not None:
                    return job, "charged"
                return self._requests.popleft(), "request"
            if (job := self._pop_background()) is not None:
                return job, "free"
            self._pull(block=True)

    def _work(self) -> None:
        while (picked := self._next()) is not None:
            (loop, future, fn, args), kind = picked
            if future.cancelled():  # benign race: at worst a cancelled call runs, result dropped
                continue
            start = self._clock()
            try:
                outcome: tuple[bool, Any] = (True, fn(*args))
            except BaseException as exc:  # handed to the caller, like an executor does
                outcome = (False, exc)
            elapsed = max(self._clock() - start, 1e-6)  # a call is never free
            if kind == "request":
                if self._background:  # credit is earned only while background work waits
                    self._credit = min(self._credit + BACKGROUND_SHARE * elapsed, MAX_BACKGROUND_CREDIT_S)
            elif kind == "charged":
                self._credit -= elapsed
            else:  # ran while no request waited: nothing saved up is carried past it
                self._credit = min(self._credit, 0.0)
            try:
                loop.call_soon_threadsafe(_resolve, future, *outcome)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting
                pass
        for job in self._requests:  # taken off the queue before the shutdown: cancelled too
            _cancel_threadsafe(job)
        self._requests.clear()

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
            _cancel_threadsafe(job)


def _cancel_threadsafe(job: _Job) -> None:
    loop, future, _, _ = job
    try:
        loop.call_soon_threadsafe(_cancel, future)
    except RuntimeError:  # the caller's loop is closed
        pass
