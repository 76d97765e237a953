"""Two worker processes share one Redis; one is SIGKILLed mid-run. All 50 runs finish, none
twice, and no tool side effect is applied twice."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from agents.runs import TERMINAL, RunStore
from tests.agents.procs import enqueue_runs, spawn_worker, wait_for

N_RUNS = 50


def spawn(redis_url: str, name: str, log_dir: Path) -> subprocess.Popen[str]:
    return spawn_worker("tests.agents.worker_proc", [redis_url, name], name, log_dir)


@pytest.mark.slow
async def test_sigkill_one_worker_all_runs_finish_once(clean_redis_url: str, tmp_path: Path) -> None:
    client = aioredis.Redis.from_url(clean_redis_url)
    store = RunStore(client)
    await store.ensure_group()
    workers = [spawn(clean_redis_url, "w-a", tmp_path), spawn(clean_redis_url, "w-b", tmp_path)]
    try:
        ids = await enqueue_runs(store, N_RUNS)

        async def victim_mid_run() -> bool:
            for rid in ids:
                rec = await store.get(rid)
                if rec and rec.owner == "w-a" and rec.status == "running" and rec.steps >= 1:
                    return True
            return False

        await wait_for(victim_mid_run, "worker A to be mid-run", 120.0)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()

        async def all_done() -> bool:
            recs = [await store.get(rid) for rid in ids]
            return all(r is not None and r.status in TERMINAL for r in recs)

        try:
            await wait_for(all_done, "all runs to finish", 120.0)
        except AssertionError:
            recs = [await store.get(rid) for rid in ids]
            logs = (tmp_path / "w-b.log").read_text()[-3000:]
            raise AssertionError(
                f"{sorted({(r.status, r.owner, r.steps) for r in recs if r})}\n{logs}"
            ) from None
        recs = [await store.get(rid) for rid in ids]
        assert all(r is not None and r.status == "succeeded" for r in recs), [r.error for r in recs if r]
        assert all(r is not None and r.completions == 1 for r in recs)
        assert all(r is not None and r.output.startswith("total=") for r in recs), [
            (r.run_id, r.output, r.steps, r.owner) for r in recs if r and not r.output.startswith("total=")
        ]
        assert any(r is not None and r.owner == "w-b" for r in recs)
        effects = [e.decode() for e in await client.lrange("effects", 0, -1)]
        assert len(effects) == len(set(effects)) == 3 * N_RUNS
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
                w.wait(timeout=10)
        await client.aclose()
