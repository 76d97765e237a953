"""One worker thread for CPU-bound model work (embedding, inference).

On these 2-core machines a second compute thread collapses throughput as soon as anything else
runs (ARCHITECTURE.md §6), so every embedder in a process shares one :class:`ComputeThread`:
the event loop never runs model code, and model calls never overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class ComputeThread:
    """A single-thread executor. ``run`` awaits ``fn(*args)`` executed on that thread.

    Cancelling the awaiting task does not stop a call that already started (threads cannot be
    interrupted); its result is dropped. ``shutdown`` waits for the running call to finish.
    """

    def __init__(self, name: str = "switchboard-compute") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
