"""Thread retention (agents.thread_retention): the checkpoints and tool-ledger entries of a thread
whose newest run finished before the cutoff, and that has no unfinished run, are deleted; every
other thread is kept. One contract for Redis (a real redis-server), the in-process store and the
SQLite one, with their real checkpointers and ledgers; finish times from a ManualClock."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis.asyncio as aioredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agents.bootstrap import AgentsRuntime, open_agents, prune_forever
from agents.checkpoint import RedisSaver
from agents.memory_runs import MemoryRunStore
from agents.runs import TERMINAL, RunRecord, RunStorage, RunStore
from agents.spec import AgentSpec, ToolRef
from agents.sqlite_runs import SqliteRunStore, SqliteToolLedger
from agents.thread_retention import LocalThreadPruner, RedisThreadPruner, ThreadPruner
from agents.tools import MemoryToolLedger, RedisToolLedger, ToolLedger
from core.clock import ManualClock, SystemClock
from tests.agents.fakes import ScriptedAgentBackend, add_tool

OLD = "t1/old: é|%/*?[x]"  # characters that need quoting in the checkpoint keys, and glob characters
SUB_NS = "sub:graph|1"


@dataclass
class Parts:
    store: RunStorage
    saver: BaseCheckpointSaver[Any]
    ledger: ToolLedger
    pruner: ThreadPruner
    redis: Any = None


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["redis", "memory", "sqlite"])
async def parts(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Parts]:
    if request.param == "memory":
        mem, saver, ledger = MemoryRunStore(wall=clock.wall), InMemorySaver(), MemoryToolLedger()
        yield Parts(mem, saver, ledger, LocalThreadPruner(mem, saver, ledger))
        return
    if request.param == "sqlite":
        durable = SqliteRunStore(tmp_path / "runs.sqlite", wall=clock.wall)
        sqlite_ledger = SqliteToolLedger(tmp_path / "runs.sqlite")
        async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "cp.sqlite")) as sqlite_saver:
            yield Parts(
                durable, sqlite_saver, sqlite_ledger, LocalThreadPruner(durable, sqlite_saver, sqlite_ledger)
            )
        durable.close()
        sqlite_ledger.close()
        return
    client = aioredis.Redis.from_url(request.getfixturevalue("clean_redis_url"))
    store = RunStore(client, wall=clock.wall)
    await store.ensure_group()
    rsaver, rledger = RedisSaver(client), RedisToolLedger(client)
    try:
        yield Parts(store, rsaver, rledger, RedisThreadPruner.of(store, rsaver, rledger), redis=client)
    finally:
        await client.aclose()


def cfg(thread: str, ns: str = "") -> RunnableConfig:
    return {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}


async def write_history(p: Parts, thread: str) -> None:
    """Two checkpoints (root and a subgraph namespace) with pending writes, and a ledger entry."""
    for ns in ("", SUB_NS):
        ck = empty_checkpoint()
        ck["channel_values"] = {"messages": f"history of {thread}"}
        ck["channel_versions"] = {"messages": p.saver.get_next_version(None, None)}
        saved = await p.saver.aput(cfg(thread, ns), ck, {}, ck["channel_versions"])
        await p.saver.aput_writes(saved, [("messages", "pending")], task_id="task-1")
    assert await p.ledger.claim(f"{thread}:call_1", thread)
    await p.ledger.record(f"{thread}:call_1", "42")


async def has_history(p: Parts, thread: str) -> bool:
    root = await p.saver.aget_tuple(cfg(thread))
    sub = await p.saver.aget_tuple(cfg(thread, SUB_NS))
    listed = [c async for c in p.saver.alist(cfg(thread))]
    recorded = await p.ledger.get(f"{thread}:call_1")
    kept = (root is not None, sub is not None, bool(listed), recorded == "42")
    assert len(set(kept)) == 1, f"{thread}: partly pruned {kept}"
    return kept[0]


async def run_on(p: Parts, run_id: str, thread: str, *, finish: str | None = "succeeded") -> None:
    await p.store.create(RunRecord(run_id, "a", thread, "hi", tenant="t1"), "enqueue")
    if finish is not None:
        assert finish in TERMINAL
        await p.store.complete(run_id, thread, finish)


async def test_only_threads_idle_since_the_cutoff_lose_checkpoints_and_ledger(
    parts: Parts, clock: ManualClock
) -> None:
    p = parts
    threads = [OLD, "t1/recent", "t1/busy", "t1/paused", "t1/behind"]
    for thread in threads:
        await write_history(p, thread)
    await run_on(p, "r-old", OLD)
    await run_on(p, "r-busy-1", "t1/busy", finish="failed")
    await run_on(p, "r-busy-2", "t1/busy", finish=None)  # queued now, not finished
    await p.store.update("r-busy-2", status="running")
    await run_on(p, "r-paused-1", "t1/paused", finish="cancelled")
    await run_on(p, "r-paused-2", "t1/paused", finish=None)
    await p.store.update("r-paused-2", status="suspended")
    await run_on(p, "r-behind-1", "t1/behind")
    await run_on(p, "r-behind-2", "t1/behind", finish=None)
    await run_on(p, "r-behind-3", "t1/behind", finish=None)  # waiting behind r-behind-2
    cutoff = clock.wall()
    clock.advance(60)
    await run_on(p, "r-recent", "t1/recent")
    clock.advance(365 * 86400)  # a year on: the unfinished runs' threads are kept however old

    assert (await p.pruner.prune(cutoff)).threads == 1
    assert {t: await has_history(p, t) for t in threads} == {
        OLD: False,
        "t1/recent": True,
        "t1/busy": True,
        "t1/paused": True,
        "t1/behind": True,
    }
    if p.redis is not None:  # nothing of the pruned thread is left, in any key
        names = [k async for k in p.redis.scan_iter(count=1000)]
        assert not [k for k in names if quote(OLD, safe="").encode() in k or OLD.encode() in k]
        assert OLD.encode() not in await p.redis.smembers("cp:threads")
    assert await p.ledger.claim(f"{OLD}:call_1", OLD) is True  # a new claim starts afresh
    assert (await p.pruner.prune(cutoff)).threads == 0

    # the busy thread's run finishes now: it is idle from now on, not from its old finish
    await p.store.complete("r-busy-2", "t1/busy", "succeeded")
    assert (await p.pruner.prune(cutoff)).threads == 0
    assert await has_history(p, "t1/busy")
    assert (await p.pruner.prune(clock.wall())).threads == 2  # busy and recent
    assert not await has_history(p, "t1/busy") and not await has_history(p, "t1/recent")
    assert await has_history(p, "t1/paused") and await has_history(p, "t1/behind")


async def test_a_run_submitted_on_an_expired_thread_before_the_prune_keeps_it(
    parts: Parts, clock: ManualClock
) -> None:
    p = parts
    await write_history(p, OLD)
    await run_on(p, "r1", OLD)
    cutoff = clock.wall()
    clock.advance(86400)
    await run_on(p, "r2", OLD, finish=None)  # arrives after the thread expired, before the prune
    assert (await p.pruner.prune(cutoff)).threads == 0
    assert await has_history(p, OLD)
    await p.store.complete("r2", OLD, "succeeded")
    assert (await p.pruner.prune(cutoff)).threads == 0  # idle since r2, not since r1
    assert (await p.pruner.prune(clock.wall())).threads == 1
    assert not await has_history(p, OLD)


async def test_redis_threads_from_before_the_finish_index_are_filled_in(clean_redis_url: str) -> None:
    """Histories written before the index existed (no finish time): the first prune gives them the
    time of their newest checkpoint (UUIDv6 id, real time), and they expire from there."""
    client = aioredis.Redis.from_url(clean_redis_url)
    store = RunStore(client)
    await store.ensure_group()
    saver, ledger = RedisSaver(client), RedisToolLedger(client)
    p = Parts(store, saver, ledger, RedisThreadPruner.of(store, saver, ledger), redis=client)
    try:
        for thread in (OLD, "t1/busy"):
            await write_history(p, thread)
        await run_on(p, "r-busy", "t1/busy", finish=None)
        assert (await p.pruner.prune(time.time() - 3600)).threads == 0  # written just now
        assert await client.zscore("agents:threads:finished", OLD) is not None
        assert (await p.pruner.prune(time.time() + 1)).threads == 1
        assert not await has_history(p, OLD) and await has_history(p, "t1/busy")
        assert await client.exists("agents:threads:backfilled")
    finally:
        await client.aclose()


class DeleteHookSaver(InMemorySaver):
    """langgraph's InMemorySaver that runs ``hook`` before deleting a thread (to interleave a
    submission with the prune)."""

    def __init__(self, hook: Callable[[str], Awaitable[None]]) -> None:
        super().__init__()
        self.hook = hook

    async def adelete_thread(self, thread_id: str) -> None:
        await self.hook(thread_id)
        await super().adelete_thread(thread_id)


async def test_embedded_prune_rechecks_each_thread_right_before_deleting_it(clock: ManualClock) -> None:
    """Both threads are expired when the prune starts; while it deletes the first, a run is
    submitted on the second: the second is then kept."""
    store, ledger = MemoryRunStore(wall=clock.wall), MemoryToolLedger()

    async def submit_on_second(thread_id: str) -> None:
        if thread_id == "t1/a":
            await store.create(RunRecord("late", "a", "t1/b", "hi", tenant="t1"), "enqueue")

    saver = DeleteHookSaver(submit_on_second)
    p = Parts(store, saver, ledger, LocalThreadPruner(store, saver, ledger))
    for i, thread in enumerate(["t1/a", "t1/b"]):
        await write_history(p, thread)
        await run_on(p, f"r{i}", thread)
    clock.advance(86400)
    assert (await p.pruner.prune(clock.wall())).threads == 1
    assert not await has_history(p, "t1/a") and await has_history(p, "t1/b")


async def test_sqlite_thread_finish_times_survive_a_restart_and_old_files_are_filled_in(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "runs.sqlite"
    old = sqlite3.connect(path)  # a ledger file from before the thread column
    old.execute("CREATE TABLE agent_toolcalls (key TEXT PRIMARY KEY, result TEXT NOT NULL)")
    old.execute("INSERT INTO agent_toolcalls VALUES ('t1/x:call_0', 'old')")
    old.commit()
    old.close()
    s = SqliteRunStore(path, wall=clock.wall)
    await s.create(RunRecord("r1", "a", "t1/x", "hi", tenant="t1"), "enqueue")
    await s.complete("r1", "t1/x", "succeeded")
    finished = clock.wall()
    s.close()
    again = SqliteRunStore(path, wall=clock.wall)
    assert again.threads_finished_by(finished) == [("t1/x", finished)]
    again.close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE agent_threads")  # as written before the table existed
    db.commit()
    db.close()
    filled = SqliteRunStore(path, wall=clock.wall)
    assert filled.threads_finished_by(finished) == [("t1/x", finished)]
    filled.close()
    ledger = SqliteToolLedger(path)
    assert await ledger.get("t1/x:call_0") == "old"  # kept; not filed under a thread
    assert await ledger.claim("t1/x:call_1", "t1/x")
    assert ledger.forget_thread("t1/x") == 1 and await ledger.get("t1/x:call_0") == "old"
    ledger.close()


async def test_the_pruner_task_deletes_idle_threads_after_the_retention(clock: ManualClock) -> None:
    store, saver, ledger = MemoryRunStore(wall=clock.wall), InMemorySaver(), MemoryToolLedger()
    p = Parts(store, saver, ledger, LocalThreadPruner(store, saver, ledger))
    await write_history(p, "t1/x")
    await run_on(p, "r1", "t1/x")
    finished = clock.wall()
    task = asyncio.get_running_loop().create_task(prune_forever(store, clock, 100.0, 30.0, p.pruner))
    try:
        for _ in range(100):  # the ManualClock moves 30 s per pruner sleep
            await asyncio.sleep(0)
            if not await has_history(p, "t1/x"):
                break
            assert clock.wall() - finished < 100 + 30
        assert not await has_history(p, "t1/x") and clock.wall() - finished >= 100
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


SPECS = {"adder": AgentSpec(name="adder", tools=[ToolRef(name="add")], max_steps=8)}


async def finished(rt: AgentsRuntime, run_id: str) -> RunRecord:
    for _ in range(1000):
        rec = await rt.service.get(run_id)
        if rec.status in TERMINAL:
            return rec
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run_id} did not finish")


@pytest.mark.parametrize("mode", ["redis", "memory", "sqlite"])
async def test_a_new_run_on_a_pruned_thread_starts_fresh(
    mode: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Through the real service, worker and checkpointer: a second run on the thread continues
    its history (no tool call: the scripted model already has its 3 results); after the prune a
    third starts from an empty thread and really calls the tool again under the same idempotency
    keys (the ledger was pruned with the checkpoints, so no stale result is replayed)."""
    url = str(request.getfixturevalue("clean_redis_url")) if mode == "redis" else None
    paths: dict[str, Path] = {}
    if mode == "sqlite":
        paths = {"checkpoint_path": tmp_path / "cp.sqlite", "runs_path": tmp_path / "runs.sqlite"}
    effects: list[str] = []
    clock = SystemClock()
    async with open_agents(
        url,
        SPECS,
        ScriptedAgentBackend(),
        clock,
        workers=1,
        slots={"fake": 1},
        extra_tools=[add_tool(effects)],
        retention_s=None,  # no background pruner: this test prunes once, by hand
        **paths,  # type: ignore[arg-type]
    ) as rt:
        assert rt.threads is not None

        async def run(text: str) -> RunRecord:
            rec, _ = await rt.service.submit("adder", text, thread_id="conv")
            return await finished(rt, rec.run_id)

        first = await run("hello")
        assert first.status == "succeeded" and first.steps == 4 and len(effects) == 3
        second = await run("hello")
        assert second.status == "succeeded" and second.steps == 1 and len(effects) == 3
        assert (await rt.threads.prune(clock.wall() + 1)).threads == 1
        third = await run("hello")
        assert (third.status, third.steps, third.output) == ("succeeded", 4, first.output)
        assert effects[3:] == effects[:3] and len(effects) == 6
