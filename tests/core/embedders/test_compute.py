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


async def test_errors_reach_the_caller_and_the_thread_keeps_working() -> None:
    compute = ComputeThread()

    def boom() -> None:
        raise ValueError("bad input")

    try:
        try:
            await compute.run(boom)
        except ValueError as exc:
            assert str(exc) == "bad input"
        else:  # pragma: no cover - the assertion below names the failure
            raise AssertionError("the error was swallowed")
        assert await compute.run(sum, [1, 2, 3]) == 6
    finally:
        compute.shutdown()


async def test_calls_run_in_order_and_a_call_cancelled_while_queued_is_skipped() -> None:
    compute = ComputeThread()
    gate = threading.Event()
    ran: list[str] = []
    try:
        first = asyncio.create_task(compute.run(lambda: (gate.wait(), ran.append("first"))))
        await asyncio.sleep(0)
        skipped = asyncio.create_task(compute.run(ran.append, "skipped"))
        last = asyncio.create_task(compute.run(ran.append, "last"))
        await asyncio.sleep(0)
        skipped.cancel()
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(first, last)
        assert skipped.cancelled()
        assert ran == ["first", "last"]
    finally:
        compute.shutdown()


async def test_shutdown_cancels_queued_calls_and_refuses_new_ones() -> None:
    compute = ComputeThread()
    gate = threading.Event()

    def last_call() -> str:
        gate.wait()
        compute.shutdown()  # from the compute thread itself: cancels what is queued behind it
        return "finished"

    running = asyncio.create_task(compute.run(last_call))
    queued = asyncio.create_task(compute.run(threading.get_ident))
    await asyncio.sleep(0)  # both calls are queued
    gate.set()
    assert await running == "finished"
    await asyncio.gather(queued, return_exceptions=True)
    assert queued.cancelled()
    try:
        await compute.run(threading.get_ident)
    except RuntimeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("run after shutdown must raise")


def _held(started: threading.Event, gate: threading.Event, ran: list[str], label: str) -> None:
    started.set()
    gate.wait()
    ran.append(label)


async def test_a_request_overtakes_queued_background_calls() -> None:
    compute = ComputeThread()
    started, gate = threading.Event(), threading.Event()
    ran: list[str] = []
    try:
        running = asyncio.create_task(compute.run_background(_held, started, gate, ran, "b0"))
        await asyncio.to_thread(started.wait)  # b0 holds the thread
        queued = [asyncio.create_task(compute.run_background(ran.append, f"b{i}")) for i in (1, 2, 3)]
        await asyncio.sleep(0)
        request = asyncio.create_task(compute.run(ran.append, "request"))
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(running, request, *queued)
        assert ran == ["b0", "request", "b1", "b2", "b3"]
    finally:
        compute.shutdown()


async def test_background_calls_advance_between_waiting_requests() -> None:
    compute = ComputeThread()
    started, gate = threading.Event(), threading.Event()
    ran: list[str] = []
    try:
        running = asyncio.create_task(compute.run(_held, started, gate, ran, "r0"))
        await asyncio.to_thread(started.wait)
        calls = [asyncio.create_task(compute.run_background(ran.append, f"b{i}")) for i in (1, 2)]
        calls += [asyncio.create_task(compute.run(ran.append, f"r{i}")) for i in (1, 2, 3)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(running, *calls)
        # one call of each lane in turn while both wait; then what is left of the requests
        assert ran == ["r0", "b1", "r1", "b2", "r2", "r3"]
    finally:
        compute.shutdown()


async def test_background_errors_reach_their_caller_and_shutdown_cancels_queued_background_calls() -> None:
    compute = ComputeThread()
    gate = threading.Event()

    def boom() -> None:
        raise ValueError("bad slice")

    try:
        await compute.run_background(boom)
    except ValueError as exc:
        assert str(exc) == "bad slice"
    else:  # pragma: no cover
        raise AssertionError("the error was swallowed")

    def last_call() -> str:
        gate.wait()
        compute.shutdown()
        return "finished"

    running = asyncio.create_task(compute.run(last_call))
    queued = asyncio.create_task(compute.run_background(threading.get_ident))
    await asyncio.sleep(0)
    gate.set()
    assert await running == "finished"
    await asyncio.gather(queued, return_exceptions=True)
    assert queued.cancelled()
