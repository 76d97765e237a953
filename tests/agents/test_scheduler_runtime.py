"""AsyncScheduler: executors hold slots, are preempted at step boundaries and resumed."""

from __future__ import annotations

import asyncio

from agents.scheduler import (
    AsyncScheduler,
    Dispatch,
    FifoPolicy,
    RoundRobinPolicy,
    RunSpec,
    RunState,
    SchedulerCore,
    SlotPool,
    StepLease,
    Verdict,
)
from core.clock import ManualClock


class CountingExecutor:
    """Each run counts to ``steps``; the count is its checkpoint, kept by thread id."""

    def __init__(self, clock: ManualClock, steps: int) -> None:
        self.clock = clock
        self.steps = steps
        self.checkpoints: dict[str, int] = {}
        self.trace: list[tuple[str, int, bool]] = []

    async def execute(self, dispatch: Dispatch, lease: StepLease) -> None:
        count = self.checkpoints.get(dispatch.thread_id, 0) if dispatch.resume else 0
        while True:
            await self.clock.sleep(1.0)
            count += 1
            self.trace.append((dispatch.run_id, count, dispatch.resume))
            self.checkpoints[dispatch.thread_id] = count
            verdict = lease.boundary(prompt_tokens=10, completion_tokens=5, done=count >= self.steps)
            if verdict is not Verdict.CONTINUE:
                return


async def test_round_robin_interleaves_and_resumes_where_it_stopped() -> None:
    clock = ManualClock()
    ex = CountingExecutor(clock, steps=3)
    core = SchedulerCore(policy=RoundRobinPolicy(slice_steps=1), slots=SlotPool({"d": 1}))
    async with AsyncScheduler(core, clock, ex) as sched:
        sched.submit(RunSpec("a", "ta"))
        sched.submit(RunSpec("b", "tb"))
        await sched.wait_idle()
    assert [(r, n) for r, n, _ in ex.trace] == [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3), ("b", 3)]
    assert all(resumed for _, n, resumed in ex.trace if n > 1)
    assert ex.checkpoints == {"ta": 3, "tb": 3}
    assert core.switches.count == 4


async def test_fifo_runs_to_completion_without_switches() -> None:
    clock = ManualClock()
    ex = CountingExecutor(clock, steps=3)
    core = SchedulerCore(policy=FifoPolicy(), slots=SlotPool({"d": 1}))
    async with AsyncScheduler(core, clock, ex) as sched:
        sched.submit(RunSpec("a", "ta"))
        sched.submit(RunSpec("b", "tb"))
        await sched.wait_idle()
    assert [r for r, _, _ in ex.trace] == ["a", "a", "a", "b", "b", "b"]
    assert core.switches.count == 0


class FailingExecutor:
    async def execute(self, dispatch: Dispatch, lease: StepLease) -> None:
        raise RuntimeError("boom")


async def test_executor_error_releases_the_slot() -> None:
    core = SchedulerCore(policy=FifoPolicy(), slots=SlotPool({"d": 1}))
    async with AsyncScheduler(core, ManualClock(), FailingExecutor()) as sched:
        sched.submit(RunSpec("a", "ta"))
        sched.submit(RunSpec("b", "tb"))
        await sched.wait_idle()
    assert core.state("a") is RunState.CANCELLED and core.state("b") is RunState.CANCELLED
    assert core.slots.free("d") == 1


class ForgettingExecutor:
    """Ends its run and forgets it from inside the executor, as the worker's hooks do for a run
    that failed or whose lease was lost."""

    def __init__(self, core: SchedulerCore) -> None:
        self.core = core

    async def execute(self, dispatch: Dispatch, lease: StepLease) -> None:
        lease.finish(failed=True)
        self.core.forget(dispatch.run_id)


async def test_a_run_forgotten_by_its_executor_can_be_submitted_again() -> None:
    core = SchedulerCore(policy=FifoPolicy(), slots=SlotPool({"d": 1}))
    async with AsyncScheduler(core, ManualClock(), ForgettingExecutor(core)) as sched:
        sched.submit(RunSpec("a", "ta"))
        await sched.wait_idle()  # returns: the finished executor left no task behind
        sched.submit(RunSpec("a", "ta"))  # e.g. a run taken back after its lease lapsed
        await sched.wait_idle()
    assert core.slots.free("d") == 1


async def test_cancel_running_run_stops_its_executor() -> None:
    clock = ManualClock()
    started = asyncio.Event()

    class Forever:
        async def execute(self, dispatch: Dispatch, lease: StepLease) -> None:
            started.set()
            await asyncio.Event().wait()

    core = SchedulerCore(policy=FifoPolicy(), slots=SlotPool({"d": 1}))
    async with AsyncScheduler(core, clock, Forever()) as sched:
        sched.submit(RunSpec("a", "ta"))
        await started.wait()
        sched.cancel("a")
        await sched.wait_idle()
    assert core.state("a") is RunState.CANCELLED
    assert core.slots.free("d") == 1
