"""Runs an agent graph under the scheduler: one superstep per step boundary.

On each dispatch the executor reads the thread's latest checkpoint (that read is the restore
half of a context switch). Checkpoints carry the run id in their metadata (``run_key``), so a
run that already started (before a preemption, or on a worker that died) continues from its
checkpoint with no new input, while a new run on an existing thread appends its input message.
Supersteps are checkpointed synchronously (``durability="sync"``) before the next one starts,
so stopping at any boundary loses nothing. Token text of a streamed LLM step goes to
``hooks.on_token`` as it arrives (through ``agents.streaming.TOKEN_SINK``); it is not a step
boundary.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, cast

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StateSnapshot

from agents.graph import AgentState, run_input
from agents.scheduler import Dispatch, StepLease, Verdict
from agents.streaming import TOKEN_SINK
from core.clock import Clock


@dataclass(frozen=True)
class RunWork:
    """What the executor needs to run ``run_id``."""

    run_id: str
    graph: CompiledStateGraph[AgentState, Any, AgentState, AgentState]
    user_input: str | dict[str, Any]
    max_steps: int = 8


class RunHooks(Protocol):
    """Where progress goes (run records, SSE events). Errors here abort the run."""

    async def on_step(self, run_id: str, node: str, update: dict[str, Any]) -> None: ...

    async def on_token(self, run_id: str, text: str) -> None: ...

    async def on_stop(self, run_id: str, verdict: Verdict) -> None: ...

    async def on_finish(self, run_id: str, state: dict[str, Any]) -> None: ...

    async def on_error(self, run_id: str, error: BaseException) -> None: ...


class NullHooks:
    async def on_step(self, run_id: str, node: str, update: dict[str, Any]) -> None:
        return None

    async def on_token(self, run_id: str, text: str) -> None:
        return None

    async def on_stop(self, run_id: str, verdict: Verdict) -> None:
        return None

    async def on_finish(self, run_id: str, state: dict[str, Any]) -> None:
        return None

    async def on_error(self, run_id: str, error: BaseException) -> None:
        return None


def finished(snapshot: StateSnapshot) -> bool:
    """Whether the thread's latest checkpoint is the end of a run: no step left to run and no
    step of its superstep pending. ``next`` alone is not enough: a worker that dies after a step's
    writes were saved but before the next checkpoint leaves a checkpoint whose ``next`` is empty
    (the step has its writes) while ``tasks`` still holds that step; resuming applies its writes
    and goes on."""
    return not snapshot.next and not snapshot.tasks


def run_config(thread_id: str, run_id: str, max_steps: int) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "run_key": run_id}, "recursion_limit": 2 * max_steps + 4}


class GraphExecutor:
    """A :class:`agents.scheduler.RunExecutor` for langgraph agent graphs."""

    def __init__(
        self,
        resolve: Callable[[str], Awaitable[RunWork]],
        clock: Clock,
        hooks: RunHooks | None = None,
        gate: Callable[[Dispatch], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self._resolve = resolve
        self._clock = clock
        self._hooks: RunHooks = hooks or NullHooks()
        self._gate = gate  # e.g. a global slot across workers, held while the dispatch runs

    async def execute(self, dispatch: Dispatch, lease: StepLease) -> None:
        try:
            if self._gate is None:
                await self._execute(dispatch, lease)
            else:
                async with self._gate(dispatch):
                    await self._execute(dispatch, lease)
        except Exception as exc:
            lease.finish(failed=True)
            await self._hooks.on_error(dispatch.run_id, exc)

    async def _execute(self, dispatch: Dispatch, lease: StepLease) -> None:
        work = await self._resolve(dispatch.run_id)
        graph = work.graph
        config = run_config(dispatch.thread_id, dispatch.run_id, work.max_steps)
        t0 = self._clock.now()
        snapshot = await graph.aget_state({"configurable": {"thread_id": dispatch.thread_id}})
        if dispatch.resume:
            lease.record_switch(restore_s=self._clock.now() - t0)
        started = (snapshot.metadata or {}).get("run_key") == dispatch.run_id
        if started and finished(snapshot):  # finished before this dispatch (e.g. worker died after)
            lease.finish()
            await self._hooks.on_finish(dispatch.run_id, dict(snapshot.values))
            return
        inp = None if started else run_input(work.user_input)
        run_id = dispatch.run_id

        async def sink(text: str) -> None:
            await self._hooks.on_token(run_id, text)

        sink_token = TOKEN_SINK.set(sink)  # langgraph's node tasks inherit this task's context
        stream = cast(
            AsyncGenerator[dict[str, Any], None],
            graph.astream(inp, config, stream_mode="updates", durability="sync"),
        )
        try:
            async for update in stream:
                prompt = completion = 0
                for node, delta in update.items():
                    usage = (delta or {}).get("usage") or {}
                    prompt += int(usage.get("prompt_tokens", 0))
                    completion += int(usage.get("completion_tokens", 0))
                    await self._hooks.on_step(dispatch.run_id, node, dict(delta or {}))
                verdict = lease.boundary(prompt_tokens=prompt, completion_tokens=completion)
                if verdict is not Verdict.CONTINUE:
                    t1 = self._clock.now()
                    await stream.aclose()  # the superstep's checkpoint is already durable
                    if verdict in (Verdict.PREEMPT, Verdict.SUSPEND):
                        lease.record_switch(save_s=self._clock.now() - t1)
                    await self._hooks.on_stop(dispatch.run_id, verdict)
                    return
        finally:
            await stream.aclose()
            TOKEN_SINK.reset(sink_token)
        lease.finish()
        final = await graph.aget_state({"configurable": {"thread_id": dispatch.thread_id}})
        await self._hooks.on_finish(dispatch.run_id, dict(final.values))
