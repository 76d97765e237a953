"""The ReAct graph under the scheduler: resumed runs give the same output as uninterrupted ones,
and no tool side effect is repeated across context switches."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.executor import GraphExecutor, RunWork
from agents.graph import GraphDeps, build_react_graph
from agents.scheduler import (
    AsyncScheduler,
    FifoPolicy,
    RoundRobinPolicy,
    RunSpec,
    SchedulerCore,
    SchedulerPolicy,
    SlotPool,
)
from agents.spec import AgentSpec
from agents.tools import MemoryToolLedger
from core.clock import ManualClock
from tests.agents.fakes import ScriptedAgentBackend, StreamingScriptedBackend, add_tool

SPEC = AgentSpec(name="adder", system_prompt="Add things.", max_steps=8)
INPUTS = {"r1": "first question", "r2": "a second, longer question"}


async def run_all(
    policy: SchedulerPolicy,
    run_ids: list[str],
    streaming: bool = False,
) -> tuple[dict[str, Any], list[str], int]:
    clock = ManualClock()
    effects: list[str] = []
    backend = StreamingScriptedBackend() if streaming else ScriptedAgentBackend()
    deps = GraphDeps(SPEC, backend, [add_tool(effects)], MemoryToolLedger(), clock)
    saver = InMemorySaver()

    async def resolve(run_id: str) -> RunWork:
        # a fresh graph object per dispatch: what a resume on another worker would build
        return RunWork(run_id, build_react_graph(deps, saver), INPUTS[run_id], SPEC.max_steps)

    core = SchedulerCore(policy=policy, slots=SlotPool({"d": 1}))
    async with AsyncScheduler(core, clock, GraphExecutor(resolve, clock)) as sched:
        for rid in run_ids:
            sched.submit(RunSpec(rid, f"thread-{rid}"))
        await sched.wait_idle()
    finals = {}
    for rid in run_ids:
        snap = await build_react_graph(deps, saver).aget_state(
            {"configurable": {"thread_id": f"thread-{rid}"}}
        )
        finals[rid] = snap.values
    return finals, effects, core.switches.count


async def test_react_loop_calls_tool_and_answers() -> None:
    finals, effects, _ = await run_all(FifoPolicy(), ["r1"])
    msgs = finals["r1"]["messages"]
    assert msgs[-1]["content"].startswith("total=")
    assert len(effects) == 3 and finals["r1"]["steps"] == 4


@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "streamed-steps"])
async def test_preempted_runs_give_identical_output_and_no_repeated_effects(streaming: bool) -> None:
    alone, _, _ = await run_all(FifoPolicy(), ["r1"])
    alone2, _, _ = await run_all(FifoPolicy(), ["r2"])
    switched, effects, switches = await run_all(RoundRobinPolicy(slice_steps=1), ["r1", "r2"], streaming)
    assert switches > 4
    assert switched["r1"] == alone["r1"]
    assert switched["r2"] == alone2["r2"]
    assert len(effects) == len(set(effects)) == 6
