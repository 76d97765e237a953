"""The live scheduler: drives :class:`SchedulerCore` with a Clock and runs executors as tasks.

An executor runs one run's steps while it holds a slot. After every step it awaits
``lease.boundary(...)`` and goes on only while the verdict is CONTINUE. On PREEMPT or SUSPEND it
must make the run's checkpoint durable before returning; the scheduler dispatches the run again
later with ``Dispatch.resume`` set, and the executor restores it by thread id.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Protocol

from agents.scheduler.core import Dispatch, RunSpec, RunState, SchedulerCore, Verdict
from core.clock import Clock


class RunExecutor(Protocol):
    async def execute(self, dispatch: Dispatch, lease: StepLease) -> None:
        """Run steps until a verdict other than CONTINUE (or the run ends). An exception
        aborts the run (its slot is released); cancellation is honoured between awaits."""
        ...


class StepLease:
    """A run's hold on one slot, handed to its executor for one dispatch."""

    def __init__(self, scheduler: AsyncScheduler, dispatch: Dispatch) -> None:
        self._scheduler = scheduler
        self.dispatch = dispatch

    def boundary(
        self, *, prompt_tokens: int = 0, completion_tokens: int = 0, done: bool = False, block: bool = False
    ) -> Verdict:
        """Report a finished step; returns what to do next (see :class:`Verdict`)."""
        s = self._scheduler
        verdict = s.core.boundary(
            self.dispatch.run_id,
            s.clock.now(),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            done=done,
            block=block,
        )
        if verdict is not Verdict.CONTINUE:
            s.pump()  # the freed slot goes to another run; this one waits until its executor exits
        return verdict

    def finish(self, *, failed: bool = False) -> None:
        """The run ended (its graph reached END, or it failed) without a final boundary."""
        s = self._scheduler
        if s.core.state(self.dispatch.run_id) is RunState.RUNNING:
            s.core.abort(self.dispatch.run_id, failed=failed)
            s.pump()

    def record_switch(
        self, *, save_s: float = 0.0, restore_s: float = 0.0, nbytes: int = 0, wasted_tokens: int = 0
    ) -> None:
        self._scheduler.core.switches.record(
            save_s=save_s, restore_s=restore_s, nbytes=nbytes, wasted_tokens=wasted_tokens
        )


class AsyncScheduler:
    """Async context manager; on exit every executor task still running is cancelled."""

    def __init__(self, core: SchedulerCore, clock: Clock, executor: RunExecutor) -> None:
        self.core = core
        self.clock = clock
        self._executor = executor
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._current: dict[str, Dispatch] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    async def __aenter__(self) -> AsyncScheduler:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def submit(self, spec: RunSpec) -> None:
        self.core.submit(spec, self.clock.now())
        self.pump()

    def wake(self, run_id: str) -> None:
        self.core.wake(run_id, self.clock.now())
        self.pump()

    def suspend(self, run_id: str) -> RunState:
        return self.core.suspend(run_id)

    def resume(self, run_id: str) -> None:
        self.core.resume(run_id, self.clock.now())
        self.pump()

    def cancel(self, run_id: str) -> RunState:
        """Cancel a run; a running one has its executor task cancelled right away."""
        state = self.core.cancel(run_id)
        task = self._tasks.get(run_id)
        if state is RunState.RUNNING and task is not None:
            task.cancel()
        return state

    def pump(self) -> None:
        """Start executors for every run the core admits now."""
        # a run whose previous executor is still closing is not dispatched again yet: two
        # executors must never work on one thread at the same time
        for d in self.core.dispatch(self.clock.now(), exclude=self._tasks.keys()):
            self._idle.clear()
            self._current[d.run_id] = d
            task = asyncio.get_running_loop().create_task(self._execute(d), name=f"run:{d.run_id}")
            self._tasks[d.run_id] = task

    async def _execute(self, dispatch: Dispatch) -> None:
        try:
            await self._executor.execute(dispatch, StepLease(self, dispatch))
        finally:
            if self._current.get(dispatch.run_id) is dispatch:
                del self._current[dispatch.run_id]
                # a hook may already have forgotten the run (a failed or dropped run)
                with contextlib.suppress(KeyError):
                    if self.core.state(dispatch.run_id) is RunState.RUNNING:
                        self.core.abort(dispatch.run_id)
            if self._tasks.get(dispatch.run_id) is asyncio.current_task():
                del self._tasks[dispatch.run_id]
            self.pump()
            if not self._tasks:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Block until no executor runs (queued runs that cannot be admitted do not count)."""
        while self._tasks:
            await self._idle.wait()
            await asyncio.sleep(0)

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
