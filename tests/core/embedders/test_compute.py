"""ComputeThread: model work runs off the event loop, always on the same single thread."""

from __future__ import annotations

import asyncio
import threading
import time

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
        for _ in range(20):  # earlier traffic saves up no credit for background work
            await compute.run(time.sleep, 0.001)
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


async def test_background_work_gets_a_quarter_of_the_request_time_while_requests_queue() -> None:
    # A clock that only the calls move: a request "takes" 2**-9 s, as does a background call,
    # so the credit moves in exact steps of a quarter of that (BACKGROUND_SHARE = 0.25).
    now = [0.0]
    compute = ComputeThread(clock=lambda: now[0])
    started, gate = threading.Event(), threading.Event()
    ran: list[str] = []

    def call(label: str) -> None:
        ran.append(label)
        now[0] += 2**-9

    def first() -> None:
        started.set()
        gate.wait()
        call("r0")

    try:
        running = asyncio.create_task(compute.run(first))
        await asyncio.to_thread(started.wait)
        calls = [asyncio.create_task(compute.run_background(call, f"b{i}")) for i in (1, 2, 3)]
        calls += [asyncio.create_task(compute.run(call, f"r{i}")) for i in range(1, 13)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(running, *calls)
        # r0 earns a quarter call of credit, so b1 goes ahead of the queued requests and costs a
        # whole call: four requests later (three to pay back, one to earn) b2 goes, and so on.
        assert ran == ["r0", "b1", "r1", "r2", "r3", "r4", "b2", "r5", "r6", "r7", "r8", "b3"] + [
            f"r{i}" for i in range(9, 13)
        ]
    finally:
        compute.shutdown()


async def test_background_work_runs_back_to_back_when_no_request_waits() -> None:
    compute = ComputeThread()
    try:
        idents = await asyncio.gather(*(compute.run_background(threading.get_ident) for _ in range(20)))
        assert len(set(idents)) == 1 and idents[0] != threading.get_ident()
        assert await compute.run(sum, [1, 2]) == 3
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
