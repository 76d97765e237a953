"""Helpers for the tests that run agent workers as separate processes on one Redis."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from agents.runs import RunRecord, RunStore

REPO = Path(__file__).resolve().parents[2]


def spawn_worker(module: str, args: Sequence[str], name: str, log_dir: Path) -> subprocess.Popen[str]:
    """``python -m module *args`` from the repository root, stderr to ``log_dir/name.log``; returns
    once it prints "ready" (at most 60 s, else the log tail is the failure message)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log_path = log_dir / f"{name}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60.0)
    if not ready or proc.stdout.readline().strip() != "ready":
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"worker {name} did not start: {log_path.read_text()[-2000:]}")
    return proc


async def stop_worker(proc: subprocess.Popen[str], name: str, log_dir: Path, timeout_s: float = 30.0) -> None:
    """SIGTERM ``proc`` and wait for a clean exit (status 0); AssertionError with the exit status
    and the tail of ``log_dir/name.log`` when it exits otherwise or is still running after
    ``timeout_s`` (then it is killed)."""
    proc.terminate()
    try:
        code = await asyncio.to_thread(proc.wait, timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        code = None
    if code != 0:
        what = f"exited with {code}" if code is not None else f"was still running {timeout_s} s later"
        tail = (log_dir / f"{name}.log").read_text()[-3000:]
        raise AssertionError(f"worker {name} did not stop cleanly on SIGTERM: it {what}\n{tail}")


async def wait_for(predicate: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60.0) -> None:
    """Poll ``predicate`` every 50 ms; AssertionError naming ``what`` after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not await predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


async def enqueue_runs(store: RunStore, n: int, agent: str = "adder") -> list[str]:
    """Queue ``n`` runs (``run-0`` …, each on its own thread) and return their ids."""
    ids = [f"run-{i}" for i in range(n)]
    for rid in ids:
        outcome, _ = await store.create(RunRecord(rid, agent, f"th-{rid}", f"question {rid}"), "enqueue")
        assert outcome == "queued"
    return ids
