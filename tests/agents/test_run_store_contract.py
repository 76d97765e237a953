"""One contract for the run stores (agents.runs.RunStorage): the Redis one on a real
redis-server, the embedded in-process one and its SQLite-backed variant (plus what that one
keeps across a restart). Leases are exercised without waiting: a lease of
0 ms has always expired, a lease of ~11 days never has. Finish times (retention) come from an
injected ManualClock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from agents.bootstrap import prune_forever
from agents.memory_runs import MemoryRunStore
from agents.runs import RunRecord, RunStorage, RunStore
from agents.sqlite_runs import SqliteRunStore, SqliteToolLedger
from core.clock import ManualClock

NEVER_MS = 10**9


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["redis", "memory", "sqlite"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[RunStorage]:
    if request.param == "memory":
        yield MemoryRunStore(wall=clock.wall)
        return
    if request.param == "sqlite":
        durable = SqliteRunStore(tmp_path / "runs.sqlite", wall=clock.wall)
        yield durable
        durable.close()
        return
    client = aioredis.Redis.from_url(request.getfixturevalue("clean_redis_url"))
    s = RunStore(client, wall=clock.wall)
    await s.ensure_group()
    try:
        yield s
    finally:
        await client.aclose()


def rec(run_id: str, thread: str, *, tenant: str = "t1", agent: str = "a", at: float = 0.0) -> RunRecord:
    return RunRecord(run_id, agent, thread, "hi", tenant=tenant, created_at=at)


async def test_taken_entries_stay_pending_until_acked_and_leases_move(store: RunStorage) -> None:
    assert await store.create(rec("r1", "th1"), "enqueue") == ("queued", "")
    [(entry, run_id)] = await store.take("w1", 10, 1)
    assert run_id == "r1"
    assert await store.take("w2", 10, 1) == []  # handed out once
    assert await store.heartbeat("w1", [entry]) == {entry}
    assert await store.reclaim("w2", NEVER_MS, 10) == []  # w1's lease holds
    assert await store.reclaim("w2", 0, 10) == [(entry, "r1")]  # expired: w2 owns it now
    assert await store.heartbeat("w1", [entry]) == set()  # w1 learns it lost the run
    assert await store.heartbeat("w2", [entry]) == {entry}
    await store.ack(entry)
    assert await store.reclaim("w3", 0, 10) == []


async def test_completion_happens_once_and_hands_the_thread_on(store: RunStorage) -> None:
    await store.create(rec("r1", "th"), "enqueue")
    assert await store.create(rec("r2", "th"), "enqueue") == ("waiting", "r1")
    assert await store.create(rec("r3", "th"), "reject") == ("rejected", "r1")
    assert await store.get("r3") is None
    await store.take("w", 10, 1)
    await store.add_usage("r1", 1, 100, 10, 0.25)
    assert await store.add_usage("r1", 1, 50, 5, 0.5) == pytest.approx(0.75)
    assert await store.complete("r1", "th", "succeeded", output="ok") is True
    assert await store.complete("r1", "th", "failed", error="late") is False
    r1 = await store.get("r1")
    assert r1 is not None and (r1.status, r1.output, r1.completions, r1.steps) == ("succeeded", "ok", 1, 2)
    assert (r1.prompt_tokens, r1.completion_tokens, r1.cost_usd) == (150, 15, pytest.approx(0.75))
    r2 = await store.get("r2")
    assert r2 is not None and r2.status == "queued"
    assert [rid for _, rid in await store.take("w", 10, 1)] == ["r2"]
    events = await store.read_events("r1", "0", block_ms=1)
    assert events[-1][1] == "done" and events[-1][2]["cost_usd"] == pytest.approx(0.75)
    assert await store.read_events("r1", events[-1][0], block_ms=1) == []


async def test_list_is_newest_first_per_tenant(store: RunStorage) -> None:
    for i, (tenant, agent) in enumerate([("t1", "a"), ("t2", "a"), ("t1", "b"), ("t1", "a")]):
        await store.create(rec(f"r{i}", f"th{i}", tenant=tenant, agent=agent, at=100.0 + i), "enqueue")
    await store.complete("r0", "th0", "cancelled")
    runs, more = await store.list_runs(limit=10)
    assert [r.run_id for r in runs] == ["r3", "r2", "r1", "r0"] and not more
    runs, more = await store.list_runs(tenant="t1", limit=2)
    assert [r.run_id for r in runs] == ["r3", "r2"] and more
    runs, _ = await store.list_runs(tenant="t1", agent="a", limit=10)
    assert [r.run_id for r in runs] == ["r3", "r0"]
    runs, _ = await store.list_runs(tenant="t1", status="cancelled", limit=10)
    assert [r.run_id for r in runs] == ["r0"]
    assert (await store.list_runs(tenant="t3", limit=10)) == ([], False)


async def test_waiting_run_can_leave_its_queue(store: RunStorage) -> None:
    await store.create(rec("r1", "th"), "enqueue")
    await store.create(rec("r2", "th"), "enqueue")
    await store.create(rec("r3", "th"), "enqueue")
    await store.remove_waiting("th", "r2")
    await store.complete("r2", "th", "cancelled")
    await store.complete("r1", "th", "succeeded")
    r3 = await store.get("r3")
    assert r3 is not None and r3.status == "queued"  # r2 was skipped


def test_memory_store_forgets_old_finished_runs_only() -> None:
    import asyncio

    async def go() -> None:
        s = MemoryRunStore(max_finished=2)
        for i in range(4):
            await s.create(rec(f"r{i}", f"th{i}"), "enqueue")
        await s.create(rec("live", "th-live"), "enqueue")
        for i in range(4):
            await s.complete(f"r{i}", f"th{i}", "succeeded")
        assert [r.run_id for r in (await s.list_runs(limit=10))[0]] == ["live", "r3", "r2"]

    asyncio.run(go())


async def test_filtered_list_pages_through_older_runs(store: RunStorage) -> None:
    for i in range(30):
        await store.create(
            rec(f"r{i:02d}", f"th{i}", agent="old" if i == 0 else "new", at=100.0 + i), "enqueue"
        )
    runs, more = await store.list_runs(agent="old", limit=1)  # the match is behind several pages
    assert [r.run_id for r in runs] == ["r00"] and not more
    runs, more = await store.list_runs(agent="new", limit=28)
    assert len(runs) == 28 and runs[0].run_id == "r29" and more


async def test_sqlite_store_admits_unfinished_runs_again_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    before = SqliteRunStore(path)
    await before.create(rec("done", "th-done"), "enqueue")
    await before.create(rec("busy", "th"), "enqueue")
    await before.create(rec("behind", "th"), "enqueue")
    await before.create(rec("paused", "th-p"), "enqueue")
    taken = {rid for _, rid in await before.take("w", 10, 1)}
    assert taken == {"done", "busy", "paused"}
    await before.update("busy", status="running", owner="w")
    await before.add_usage("busy", 1, 10, 5, 0.5)
    await before.update("paused", status="suspended")
    await before.complete("done", "th-done", "succeeded", output="ok")
    before.close()  # the process dies: nothing acked, nothing in memory survives

    after = SqliteRunStore(path)
    assert after.restored == 1
    busy, behind, paused, done = [await after.get(r) for r in ("busy", "behind", "paused", "done")]
    assert busy is not None and (busy.status, busy.owner, busy.steps, busy.cost_usd) == ("queued", "", 1, 0.5)
    assert behind is not None and behind.status == "waiting"
    assert paused is not None and paused.status == "suspended"
    assert done is not None and (done.status, done.output, done.completions) == ("succeeded", "ok", 1)
    assert [rid for _, rid in await after.take("w2", 10, 1)] == ["busy"]
    await after.complete("busy", "th", "succeeded")
    assert [rid for _, rid in await after.take("w2", 10, 1)] == ["behind"]  # the thread handed on
    runs, _ = await after.list_runs(limit=10)
    assert [r.run_id for r in runs] == ["paused", "behind", "busy", "done"]  # creation order kept
    after.close()


async def test_sqlite_tool_ledger_keeps_results_across_a_restart(tmp_path: Path) -> None:
    ledger = SqliteToolLedger(tmp_path / "runs.sqlite")
    assert await ledger.claim("t:1") is True
    assert await ledger.claim("t:1") is False and await ledger.get("t:1") is None  # claimed, no result yet
    await ledger.record("t:1", "42")
    ledger.close()
    again = SqliteToolLedger(tmp_path / "runs.sqlite")
    assert await again.claim("t:1") is False and await again.get("t:1") == "42"
    again.close()


async def test_prune_forgets_only_runs_finished_by_the_cutoff(store: RunStorage, clock: ManualClock) -> None:
    """Retention: finished runs go (record, events, both list indexes) once they finished at or
    before the cutoff; queued, waiting, running and suspended runs stay however old they are."""
    for i, (run_id, thread, tenant) in enumerate(
        [
            ("old", "th-old", "t1"),
            ("new", "th-new", "t2"),
            ("live", "th-live", "t1"),
            ("behind", "th-live", "t1"),
            ("paused", "th-p", "t2"),
            ("busy", "th-busy", "t1"),
        ]
    ):
        await store.create(rec(run_id, thread, tenant=tenant, at=100.0 + i), "enqueue")
    await store.update("paused", status="suspended")
    await store.update("busy", status="running")
    await store.event("old", "status", {"status": "running"})
    await store.complete("old", "th-old", "succeeded", output="done")
    finished_old = clock.wall()
    clock.advance(60)
    await store.complete("new", "th-new", "cancelled")
    clock.advance(365 * 86400)  # a year later: the unfinished runs are still kept

    assert await store.prune(finished_old - 1) == 0
    assert await store.get("old") is not None
    assert await store.prune(finished_old) == 1
    assert await store.get("old") is None
    assert await store.read_events("old", "0", block_ms=1) == []
    assert [r.run_id for r in (await store.list_runs(limit=10))[0]] == [
        "busy",
        "paused",
        "behind",
        "live",
        "new",
    ]
    assert [r.run_id for r in (await store.list_runs(tenant="t1", limit=10))[0]] == ["busy", "behind", "live"]
    assert await store.prune(clock.wall()) == 1  # "new"
    assert [r.run_id for r in (await store.list_runs(tenant="t2", limit=10))[0]] == ["paused"]
    assert await store.prune(clock.wall()) == 0
    kept = {r: (await store.get(r)) for r in ("live", "behind", "paused", "busy")}
    assert {r: v.status if v else None for r, v in kept.items()} == {
        "live": "queued",
        "behind": "waiting",
        "paused": "suspended",
        "busy": "running",
    }
    # a kept run finishes later and is pruned by its own finish time, handing its thread on
    await store.complete("live", "th-live", "succeeded")
    assert await store.prune(clock.wall() - 1) == 0
    assert await store.prune(clock.wall()) == 1
    behind = await store.get("behind")
    assert behind is not None and behind.status == "queued"


async def test_redis_finished_runs_carry_the_retention_ttl(clean_redis_url: str, clock: ManualClock) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    s = RunStore(client, wall=clock.wall, retention_s=3600)
    try:
        await s.ensure_group()
        await s.create(rec("done", "th1"), "enqueue")
        await s.create(rec("open", "th2"), "enqueue")
        await s.complete("done", "th1", "succeeded")
        assert 0 < await client.ttl(s.key("done")) <= 3600
        assert 0 < await client.ttl(f"{s.key('done')}:events") <= 3600
        assert await client.ttl(s.key("open")) == -1  # unfinished: no expiry
        await client.delete(s.key("done"), f"{s.key('done')}:events")  # as if the TTL had passed
        assert await s.prune(clock.wall()) == 1  # the index entries go too
        assert await client.zrange("agents:tenant:t1:runs", 0, -1) == [b"open"]
        assert await client.zrange("agents:runs", 0, -1) == [b"open"]
    finally:
        await client.aclose()


async def test_sqlite_prune_is_durable(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "runs.sqlite"
    s = SqliteRunStore(path, wall=clock.wall)
    await s.create(rec("done", "th1"), "enqueue")
    await s.create(rec("open", "th2"), "enqueue")
    await s.complete("done", "th1", "succeeded")
    assert await s.prune(clock.wall()) == 1
    s.close()
    again = SqliteRunStore(path, wall=clock.wall)
    assert await again.get("done") is None and await again.get("open") is not None
    again.close()


async def test_the_pruner_forgets_runs_only_after_the_retention(clock: ManualClock) -> None:
    s = MemoryRunStore(wall=clock.wall)
    await s.create(rec("done", "th1"), "enqueue")
    await s.create(rec("open", "th2"), "enqueue")
    await s.complete("done", "th1", "succeeded")
    finished = clock.wall()
    task = asyncio.get_running_loop().create_task(prune_forever(s, clock, 100.0, 30.0))
    try:
        for _ in range(100):  # the ManualClock moves 30 s per pruner sleep
            await asyncio.sleep(0)
            if await s.get("done") is None:
                break
            assert clock.wall() - finished < 100 + 30  # still there only while within the retention
        assert await s.get("done") is None and clock.wall() - finished >= 100
        assert await s.get("open") is not None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
