"""Live mode of the scheduler benchmark: real sockets, real timers, the real async scheduler.

Agent sessions from the LMCache trace (first ``steps`` calls each, output capped) call fake
upstreams (bench/paced_upstream.py, a separate process) over HTTP on loopback. Everything runs
``speed`` times faster than the model; reported times are model seconds (wall × speed), so they
compare with the simulation. Modes, one after the other against the same upstreams:

* ``no_scheduler``: each session calls its home deployment directly; on 429 it backs off like
  openai-python (min(0.5·2^n, 8) s minus up to 25 % jitter) and retries forever (as in the sim);
* scheduled (``fifo``, ``priority``, ``fair_share``): every session is a run in
  :class:`agents.scheduler.AsyncScheduler` over :class:`SchedulerCore` with one slot per unit of
  upstream capacity; an executor runs its steps while it holds a slot, keeps the slot through a
  tool call ≤ ``hold_s``, releases it (block / wake) for longer ones, and stops at a PREEMPT
  verdict (no graph state here, so a switch costs nothing but the queueing it causes).

The same workload also runs through the discrete-event simulation (same tiers, same policies)
so the live ranking can be checked against the simulated one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from agents.scheduler import (
    AsyncScheduler,
    Dispatch,
    RunSpec,
    SchedulerCore,
    SlotPool,
    StepLease,
    Verdict,
    build_policy,
)
from bench.scheduler_model import Call, Session, Tier
from bench.scheduler_sim import SimConfig, SimResult, Simulation, StepRecord

MODES = ["no_scheduler", "fifo", "priority", "fair_share", "shortest_remaining"]


@dataclass
class LiveConfig:
    tiers: list[Tier]
    hardware: dict[str, str]
    speed: float = 15.0
    hold_s: float = 0.25
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    seed: int = 7


def truncate(sessions: list[Session], steps: int, max_output: int, max_tool_s: float) -> list[Session]:
    out = []
    for s in sessions:
        calls = [
            Call(
                c.prompt_tokens,
                c.shared_prefix_tokens,
                min(c.output_tokens, max_output),
                min(c.tool_s, max_tool_s),
            )
            for c in s.calls[:steps]
        ]
        calls[-1] = Call(
            calls[-1].prompt_tokens, calls[-1].shared_prefix_tokens, calls[-1].output_tokens, 0.0
        )
        out.append(
            Session(
                s.sid,
                s.kind,
                s.tenant,
                s.priority,
                s.arrival_s,
                calls,
                s.deadline_s,
                s.est_steps,
                dict(s.meta),
            )
        )
    return out


async def _call(port: int, sid: str, call: Call) -> int:
    """One LLM call; returns the HTTP status (the body is read to the end)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        body = orjson.dumps(
            {
                "session": sid,
                "prompt_tokens": call.prompt_tokens,
                "shared_prefix_tokens": call.shared_prefix_tokens,
                "max_tokens": call.output_tokens,
            }
        )
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: up\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        while await reader.read(65536):
            pass
        return status
    finally:
        writer.close()


@dataclass
class _Live:
    session: Session
    idx: int = 0
    ready_at: float = 0.0


@dataclass
class LiveRun:
    cfg: LiveConfig
    ports: dict[str, int]
    sessions: list[Session]
    res: SimResult = field(default_factory=SimResult)
    t0: float = 0.0
    all_done: asyncio.Event = field(default_factory=asyncio.Event)

    def now(self) -> float:
        """Model seconds since the start of this mode."""
        return (time.monotonic() - self.t0) * self.cfg.speed

    async def sleep(self, model_s: float) -> None:
        await asyncio.sleep(model_s / self.cfg.speed)

    def _record(self, st: _Live, attempts: int, started: float) -> None:
        s, c = st.session, st.session.calls[st.idx]
        self.res.steps.append(
            StepRecord(
                s.sid,
                st.idx,
                s.tenant,
                s.priority,
                st.ready_at,
                self.now(),
                started,
                c.prompt_tokens,
                c.output_tokens,
                attempts,
            )
        )
        st.idx += 1
        if st.idx >= len(s.calls):
            self.res.session_done[s.sid] = self.now()
            if len(self.res.session_done) == len(self.sessions):
                self.all_done.set()

    # ---- no scheduler ---------------------------------------------------------------------
    async def direct(self) -> SimResult:
        names = [t.name for t in self.cfg.tiers]
        ring = [t.name for t in self.cfg.tiers for _ in range(t.capacity)]
        rng = random.Random(self.cfg.seed)
        self.t0 = time.monotonic()

        async def client(i: int, s: Session) -> None:
            home = ring[(i * 7919) % len(ring)]
            assert home in names
            st = _Live(s)
            await self.sleep(s.arrival_s)
            while st.idx < len(s.calls):
                st.ready_at, n = self.now(), 0
                while True:
                    n += 1
                    started = self.now()
                    if await _call(self.ports[home], s.sid, s.calls[st.idx]) == 200:
                        break
                    self.res.rejects += 1
                    wait = min(self.cfg.backoff_base_s * 2 ** (n - 1), self.cfg.backoff_cap_s) * (
                        1 - 0.25 * rng.random()
                    )
                    self.res.backoff_s += wait
                    await self.sleep(wait)
                tool = s.calls[st.idx].tool_s
                self._record(st, n, started)
                if st.idx < len(s.calls):
                    await self.sleep(tool)

        await asyncio.gather(*(client(i, s) for i, s in enumerate(self.sessions)))
        return self.res

    # ---- scheduled ------------------------------------------------------------------------
    async def scheduled(self, policy_name: str, params: dict[str, Any]) -> SimResult:
        core = SchedulerCore(
            policy=build_policy(policy_name, **params),
            slots=SlotPool(
                {t.name: t.capacity for t in self.cfg.tiers},
                speeds={t.name: 1.0 / t.token_s[0] for t in self.cfg.tiers},
            ),
        )
        state = {s.sid: _Live(s) for s in self.sessions}
        live = self
        wakers: set[asyncio.Task[None]] = set()

        class Clock:
            def now(self) -> float:
                return live.now()

            def wall(self) -> float:
                return time.time()

            async def sleep(self, seconds: float) -> None:
                await live.sleep(seconds)

        class Executor:
            async def execute(self, dispatch: Dispatch, lease: StepLease) -> None:
                st = state[dispatch.run_id]
                port = live.ports[dispatch.deployment]
                while True:
                    call = st.session.calls[st.idx]
                    started = live.now()
                    status = await _call(port, st.session.sid, call)
                    if status != 200:  # cannot happen with one slot per unit of capacity
                        live.res.rejects += 1
                        await live.sleep(0.05)
                        continue
                    live._record(st, 1, started)
                    if st.idx >= len(st.session.calls):
                        lease.boundary(
                            prompt_tokens=call.prompt_tokens, completion_tokens=call.output_tokens, done=True
                        )
                        return
                    if call.tool_s > live.cfg.hold_s:
                        lease.boundary(
                            prompt_tokens=call.prompt_tokens, completion_tokens=call.output_tokens, block=True
                        )
                        task = asyncio.get_running_loop().create_task(
                            self._wake(dispatch.run_id, call.tool_s)
                        )
                        wakers.add(task)
                        task.add_done_callback(wakers.discard)
                        return
                    live.res.held_idle_s += call.tool_s
                    await live.sleep(call.tool_s)
                    st.ready_at = live.now()
                    verdict = lease.boundary(
                        prompt_tokens=call.prompt_tokens, completion_tokens=call.output_tokens
                    )
                    if verdict is not Verdict.CONTINUE:
                        return

            async def _wake(self, run_id: str, tool_s: float) -> None:
                await live.sleep(tool_s)
                state[run_id].ready_at = live.now()
                sched.wake(run_id)

        self.t0 = time.monotonic()
        async with AsyncScheduler(core, Clock(), Executor()) as sched:

            async def arrive(s: Session) -> None:
                await self.sleep(s.arrival_s)
                state[s.sid].ready_at = self.now()
                sched.submit(
                    RunSpec(
                        s.sid,
                        s.sid,
                        tenant=s.tenant,
                        priority=s.priority,
                        deadline=s.deadline_s,
                        est_steps=s.est_steps,
                    )
                )

            await asyncio.gather(*(arrive(s) for s in self.sessions))
            await self.all_done.wait()
        self.res.switches = core.switches.summary()
        return self.res


async def _stats(port: int) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /stats HTTP/1.1\r\nHost: up\r\n\r\n")
    await writer.drain()
    data = await reader.read()
    writer.close()
    out: dict[str, Any] = orjson.loads(data.split(b"\r\n\r\n", 1)[1])
    return out


async def run_live(
    cfg: LiveConfig, sessions: list[Session], scheduled: dict[str, dict[str, Any]]
) -> dict[str, tuple[SimResult, dict[str, Any], float]]:
    """Every mode against one upstream process; per mode: result, upstream stats, wall seconds."""
    args = [sys.executable, "-m", "bench.paced_upstream", "--speed", str(cfg.speed)]
    for t in cfg.tiers:
        args += ["--tier", f"{t.name}:{cfg.hardware[t.name]}:{t.capacity}"]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        ports: dict[str, int] = orjson.loads(line)["ports"]
        out: dict[str, tuple[SimResult, dict[str, Any], float]] = {}
        for mode in MODES:
            run = LiveRun(cfg, ports, sessions)
            w0 = time.monotonic()
            res = await (run.direct() if mode == "no_scheduler" else run.scheduled(mode, scheduled[mode]))
            wall = time.monotonic() - w0
            stats = {name: await _stats(p) for name, p in ports.items()}
            out[mode] = (res, stats, wall)
        return out
    finally:
        proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)


def simulate(
    cfg: LiveConfig, sessions: list[Session], scheduled: dict[str, dict[str, Any]]
) -> dict[str, SimResult]:
    sc = SimConfig(
        tiers=cfg.tiers,
        hold_s=cfg.hold_s,
        save_s=0.0,
        restore_s=0.0,
        rtt_s=0.0,
        backoff_cap_s=cfg.backoff_cap_s,
        seed=cfg.seed,
    )
    out = {"no_scheduler": Simulation(sc, sessions).run_direct("no_scheduler")}
    for mode in MODES[1:]:
        out[mode] = Simulation(sc, sessions).run_scheduled(build_policy(mode, **scheduled[mode]))
    return out
