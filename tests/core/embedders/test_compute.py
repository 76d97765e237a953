"""ComputeThread: model work runs off the event loop, always on the same single thread."""

from __future__ import annotations

import asyncio
import threading

from core.embedders.compute import ComputeThread


async def test_work_runs_on_one_thread_that_is_not_the_loop() -> None:
    compute = ComputeThread()
    try:
        idents = await asyncio.gather(*(compute.run(threading.get_ident) for _ in range(8)))
    finally:
        compute.shutdown()
    assert len(set(idents)) == 1
    assert idents[0] != threading.get_ident()
