"""Resumed runs give the same output as uninterrupted ones: the ReAct graph on a deterministic
upstream, run once alone (FIFO, no switch) and once with round robin (slice 1) preempting it at
every step boundary, checkpointed in Redis through the Redis checkpointer."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import redis.asyncio as aioredis

from agents.checkpoint import RedisSaver
from agents.executor import GraphExecutor, RunWork
from agents.graph import GraphDeps, build_react_graph
from agents.scheduler import AsyncScheduler, RunSpec, SchedulerCore, SchedulerPolicy, SlotPool, build_policy
from agents.spec import AgentSpec, ToolRef
from agents.tools import FunctionTool, MemoryToolLedger, ToolContext
from core.clock import SystemClock
from core.deadline import Deadline
from core.wire import ChatRequest, ChatResponse

SPEC = AgentSpec(name="bench", tools=[ToolRef(name="mul")], max_steps=12)


class DeterministicUpstream:
    """Answers are a pure function of the conversation: tool calls until ``rounds`` results, then
    a final answer that depends on every tool result."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        msgs = request.messages
        results = [str(m.get("content")) for m in msgs if m.get("role") == "tool"]
        if len(results) < self.rounds:
            msg: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{len(msgs)}",
                        "type": "function",
                        "function": {
                            "name": "mul",
                            "arguments": json.dumps({"a": len(msgs), "b": len(results) + 2}),
                        },
                    }
                ],
            }
        else:
            msg = {"role": "assistant", "content": "result " + "/".join(results)}
        return ChatResponse(
            {
                "choices": [{"index": 0, "message": msg}],
                "usage": {"prompt_tokens": 20 * len(msgs), "completion_tokens": 8},
            },
            "det",
        )

    async def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        yield (await self.complete(request, deadline)).body

    async def aclose(self) -> None:
        return None


async def _mul(args: Mapping[str, Any], ctx: ToolContext) -> str:
    return str(int(args["a"]) * int(args["b"]))


async def _run(
    client: Any, policy: SchedulerPolicy, n: int, slots: int, tag: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    clock = SystemClock()
    saver = RedisSaver(client, prefix=f"resume-{tag}-{uuid.uuid4().hex[:6]}")
    tool = FunctionTool("mul", "Multiply.", _mul)
    deps = GraphDeps(SPEC, DeterministicUpstream(rounds=4), [tool], MemoryToolLedger(), clock)

    async def resolve(run_id: str) -> RunWork:
        return RunWork(run_id, build_react_graph(deps, saver), f"task {run_id}", SPEC.max_steps)

    core = SchedulerCore(policy=policy, slots=SlotPool({"det": slots}))
    async with AsyncScheduler(core, clock, GraphExecutor(resolve, clock)) as sched:
        for i in range(n):
            sched.submit(RunSpec(f"r{i}", f"thread-{i}"))
        await sched.wait_idle()
    graph = build_react_graph(deps, saver)
    finals = {}
    for i in range(n):
        snap = await graph.aget_state({"configurable": {"thread_id": f"thread-{i}"}})
        finals[f"r{i}"] = snap.values
    return finals, core.switches.summary()


async def check(redis_url: str, n: int = 20) -> dict[str, Any]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        alone, _ = await _run(client, build_policy("fifo"), n, 1, "alone")
        switched, stats = await _run(client, build_policy("round_robin", slice_steps=1), n, 2, "rr")
    finally:
        await client.aclose()
    same = sum(alone[k] == switched[k] for k in alone)
    return {"runs": n, "identical_outputs": same, "all_identical": same == n, "context_switches": stats}
