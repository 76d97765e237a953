"""A worker can die between any two checkpoint writes of a run. Whatever it left behind, the
worker that takes the run over must see an unfinished run and finish it from the checkpoint, with
the same answer as a run nobody interrupted (session 8: a death after a step's writes but before
the next checkpoint was read as "finished", and the run succeeded with the user's question as its
output)."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from agents.checkpoint import RedisSaver
from agents.executor import finished, run_config
from agents.graph import GraphDeps, build_react_graph, run_input
from agents.tools import RedisToolLedger, Toolbox
from core.clock import SystemClock
from tests.agents.fakes import ScriptedAgentBackend
from tests.agents.worker_proc import SPEC, effect_tool

THREAD = {"configurable": {"thread_id": "th"}}


class Died(Exception):
    """The worker process is gone: nothing after this write reaches Redis."""


class DiesAfter(RedisSaver):
    """The real saver, until its ``writes``-th write (checkpoint or step writes) has landed."""

    def __init__(self, client: Any, writes: int) -> None:
        super().__init__(client)
        self._left = writes

    def _one_more(self) -> None:
        if self._left == 0:
            raise Died
        self._left -= 1

    async def aput(self, *args: Any, **kwargs: Any) -> Any:
        self._one_more()
        return await super().aput(*args, **kwargs)

    async def aput_writes(self, *args: Any, **kwargs: Any) -> None:
        self._one_more()
        await super().aput_writes(*args, **kwargs)


async def _graph(client: Any, saver: RedisSaver) -> Any:
    tools = await Toolbox([effect_tool(client)]).select(SPEC, "question", "default")
    deps = GraphDeps(SPEC, ScriptedAgentBackend(delay_s=0.0), tools, RedisToolLedger(client), SystemClock())
    return build_react_graph(deps, saver)


async def _run(graph: Any, inp: Any) -> None:
    config = run_config("th", "run-1", SPEC.max_steps)
    async for _ in graph.astream(inp, config, stream_mode="updates", durability="sync"):
        pass


@pytest.mark.parametrize("writes", range(1, 9))
async def test_a_run_cut_after_any_write_is_unfinished_and_resumes_to_the_same_answer(
    clean_redis_url: str, writes: int
) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    try:
        with pytest.raises(Died):
            await _run(await _graph(client, DiesAfter(client, writes)), run_input("question run-1"))
        taker = await _graph(client, RedisSaver(client))
        left = await taker.aget_state(THREAD)
        assert (left.metadata or {}).get("run_key") == "run-1"  # started: resume, no new input
        assert not finished(left), (writes, left.next, left.tasks)
        await _run(taker, None)
        done = await taker.aget_state(THREAD)
        assert finished(done)
        assert done.values["messages"][-1]["content"].startswith("total=")
    finally:
        await client.aclose()


async def test_an_uninterrupted_run_ends_finished(clean_redis_url: str) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    try:
        graph = await _graph(client, RedisSaver(client))
        await _run(graph, run_input("question run-1"))
        assert finished(await graph.aget_state(THREAD))
    finally:
        await client.aclose()
