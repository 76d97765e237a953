"""Discrete-event simulation of agent sessions on emulated upstream deployments.

Two ways to reach the upstreams:

* ``scheduled``: every session is a run in the real :class:`agents.scheduler.SchedulerCore`
  (the same code the live scheduler runs) with one slot per unit of upstream capacity. A run
  keeps its slot through a short tool call (≤ ``hold_s``; the slot idles meanwhile, counted as
  ``held_idle_s``) and blocks (releases it) for a longer one. The step boundary is after the tool
  call, before the next LLM call; a preemption there is a context switch: the run pays checkpoint
  save + restore when it is dispatched again and loses the deployment's prefix cache (its shared
  prefix is prefilled again: ``wasted_tokens``). ``batch_interval_s`` > 0 admits only at ticks
  (AIOS-style FIFO with a batch interval).
* ``direct``: no scheduler. Each client calls a deployment (its fixed one, the least busy one,
  or the lowest-latency one, or a random one weighted by capacity, as LiteLLM's routing strategies
  least-busy, latency-based and simple-shuffle do); a deployment at capacity answers
  429 after ``rtt_s``. ``client="retry_forever"``: the client backs off with openai-python's
  formula (min(0.5·2^n, 8) s, minus up to 25 % jitter) and tries again, forever (an SDK configured
  with unlimited retries). ``client="sdk"``: openai-python's defaults inside LangGraph's default
  ``RetryPolicy``: the SDK tries 3 times (max_retries=2: waits 0.5·2^k s minus up to 25 %, or the
  server's Retry-After when ``retry_after_s`` is set), the node retries the step 3 times (waits
  0.5·2^a s + U(0, 1) s), then the run fails; after ``rerun_delay_s`` the application submits it
  again, from its last completed step (``resubmit="checkpoint"``: a checkpointed LangGraph thread) or
  from its first step (``resubmit="scratch"``: no checkpointer).

Service time of an LLM call comes from :class:`bench.scheduler_model.Tier` with the number of
calls in flight on that deployment when it starts. A call's prefix is cached on the deployment
that served the session's previous call, unless a context switch evicted it.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.scheduler import RunSpec, SchedulerCore, SchedulerPolicy, SlotPool, Verdict
from bench.scheduler_model import Session, Tier


@dataclass
class SimConfig:
    tiers: list[Tier]
    hold_s: float = 0.25
    save_s: float = 0.001  # per switch; replaced by the measured Redis checkpoint figures
    restore_s: float = 0.001
    rtt_s: float = 0.02
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    batch_interval_s: float = 0.0
    client: str = "retry_forever"  # direct mode: "retry_forever" | "sdk" (see the module docstring)
    resubmit: str = "checkpoint"  # sdk client, after a failed run: "checkpoint" | "scratch"
    retry_after_s: float | None = None  # the 429's Retry-After header (None: not sent)
    sdk_tries: int = 3  # openai-python max_retries=2
    node_attempts: int = 3  # LangGraph RetryPolicy max_attempts
    rerun_delay_s: float = 1.0
    high_reserve_slots: int = 0  # scheduled mode: slots only high-priority runs may take
    speed_aware: bool = True  # scheduled mode: place runs on the fastest free deployment
    midstream: bool = False  # scheduled mode: preempt long generations mid-stream for urgent runs
    horizon_s: float = 50_000.0  # stop there; sessions not done by then are reported unfinished
    seed: int = 7


@dataclass
class StepRecord:
    sid: str
    idx: int
    tenant: str
    priority: int
    ready_at: float
    done_at: float
    started_at: float
    prompt_tokens: int
    output_tokens: int
    attempts: int

    @property
    def latency(self) -> float:
        return self.done_at - self.ready_at

    @property
    def wait(self) -> float:
        """Ready → the successful call started (queueing, backoff, restore)."""
        return self.started_at - self.ready_at


@dataclass
class SimResult:
    steps: list[StepRecord] = field(default_factory=list)
    session_done: dict[str, float] = field(default_factory=dict)
    rejects: int = 0
    backoff_s: float = 0.0
    held_idle_s: float = 0.0
    busy_s: float = 0.0
    switches: dict[str, Any] = field(default_factory=dict)
    switch_overhead_s: float = 0.0
    reruns: int = 0
    rerun_wasted_tokens: int = 0
    failed_runs: int = 0


@dataclass
class _S:
    session: Session
    idx: int = 0
    ready_at: float = 0.0
    cache_dep: str | None = None
    dep: str | None = None
    evicted: bool = False
    attempts: int = 0
    home: str | None = None
    started_at: float = 0.0
    # the call in flight (mid-stream preemption needs to know how far it got)
    gen: int = 0
    in_call: bool = False
    call_started: float = 0.0
    call_prefill_s: float = 0.0
    call_tpot_s: float = 0.0
    call_end: float = 0.0
    partial: int = 0  # output tokens of the current step generated before a mid-stream stop
    stopped: bool = False  # the current step was stopped mid-stream at least once


class Simulation:
    """One replay. ``run_scheduled`` or ``run_direct`` once per instance."""

    def __init__(self, config: SimConfig, sessions: list[Session]) -> None:
        self.cfg = config
        self.tiers = {t.name: t for t in config.tiers}
        self.in_flight = dict.fromkeys(self.tiers, 0)
        self.ss = {s.sid: _S(s) for s in sessions}
        self.rng = random.Random(config.seed)
        self.res = SimResult()
        self._heap: list[tuple[float, int, Callable[[float], None]]] = []
        self._tick = itertools.count()
        self.core: SchedulerCore | None = None
        self._lat_ewma: dict[str, float] = {}

    # ---- event loop -------------------------------------------------------------------
    def at(self, t: float, fn: Callable[[float], None]) -> None:
        heapq.heappush(self._heap, (t, next(self._tick), fn))

    def _loop(self) -> SimResult:
        while self._heap:
            t, _, fn = heapq.heappop(self._heap)
            if t > self.cfg.horizon_s:
                break
            fn(t)
        return self.res

    # ---- the upstream ------------------------------------------------------------------
    def _start_call(self, st: _S, dep: str, t: float, on_done: Callable[[_S, str, float], None]) -> None:
        call = st.session.calls[st.idx]
        warm = st.cache_dep == dep and not st.evicted
        # after a mid-stream stop the call resumes from its partial output: prompt + partial
        # output are prefilled again (the cache was evicted), the rest is generated
        prefill = call.prompt_tokens + st.partial - (call.shared_prefix_tokens if warm else 0)
        out = call.output_tokens - st.partial
        self.in_flight[dep] += 1
        tier, n = self.tiers[dep], self.in_flight[dep]
        dur = tier.service_s(prefill, out, n)
        self.res.busy_s += dur
        if not st.stopped:
            st.started_at = t
        st.gen += 1
        st.dep, st.in_call, st.call_started, st.call_end = dep, True, t, t + dur
        st.call_prefill_s = tier.service_s(prefill, 0, n)
        st.call_tpot_s = (dur - st.call_prefill_s) / max(1, out)
        gen = st.gen
        self.at(t + dur, lambda now: on_done(st, dep, now) if st.gen == gen else None)

    def _finish_call(self, st: _S, dep: str, t: float) -> None:
        self.in_flight[dep] -= 1
        call = st.session.calls[st.idx]
        s = st.session
        self.res.steps.append(
            StepRecord(
                s.sid,
                st.idx,
                s.tenant,
                s.priority,
                st.ready_at,
                t,
                st.started_at,
                call.prompt_tokens,
                call.output_tokens,
                st.attempts,
            )
        )
        ewma = self._lat_ewma.get(dep)
        per_tok = (t - st.ready_at) / max(1, call.output_tokens)
        self._lat_ewma[dep] = per_tok if ewma is None else 0.8 * ewma + 0.2 * per_tok
        st.cache_dep, st.evicted, st.attempts = dep, False, 0
        st.in_call, st.partial, st.stopped = False, 0, False
        st.idx += 1

    # ---- scheduled mode -----------------------------------------------------------------
    def run_scheduled(self, policy: SchedulerPolicy) -> SimResult:
        self.core = SchedulerCore(
            policy=policy,
            slots=SlotPool(
                {n: t.capacity for n, t in self.tiers.items()},
                speeds={n: 1.0 / t.token_s[0] for n, t in self.tiers.items()}
                if self.cfg.speed_aware
                else None,
            ),
            high_reserve_slots=self.cfg.high_reserve_slots,
        )
        self.core.ledger.weights.update(
            {s.session.tenant: s.session.meta.get("weight", 1.0) for s in self.ss.values()}
        )
        for st in self.ss.values():
            self.at(st.session.arrival_s, functools.partial(self._arrive, st))
        if self.cfg.batch_interval_s > 0:
            self.at(0.0, self._batch_tick)
        res = self._loop()
        res.switches = self.core.switches.summary()
        return res

    def _arrive(self, st: _S, t: float) -> None:
        s = st.session
        assert self.core is not None
        st.ready_at = t
        self.core.submit(
            RunSpec(
                s.sid,
                s.sid,
                tenant=s.tenant,
                priority=s.priority,
                deadline=s.deadline_s,
                est_steps=s.est_steps,
            ),
            t,
        )
        self._dispatch(t)

    def _dispatch(self, t: float, tick: bool = False) -> None:
        assert self.core is not None
        if self.cfg.batch_interval_s > 0 and not tick:
            return
        if self.cfg.midstream:
            in_call = {sid for sid, st in self.ss.items() if st.in_call}
            while (victim := self.core.preempt_midstream(t, in_call)) is not None:
                in_call.discard(victim)
                self._stop_midstream(self.ss[victim], t)
                self._admit(t)
        self._admit(t)

    def _stop_midstream(self, st: _S, t: float) -> None:
        """Stop the generation in flight, keeping the tokens generated so far."""
        assert st.dep is not None and self.core is not None
        call = st.session.calls[st.idx]
        done = int(max(0.0, t - st.call_started - st.call_prefill_s) / max(st.call_tpot_s, 1e-9))
        done = min(done, call.output_tokens - st.partial - 1)
        self.in_flight[st.dep] -= 1
        self.res.busy_s -= max(0.0, st.call_end - t)
        st.gen += 1  # the scheduled completion is void
        st.in_call, st.stopped, st.evicted = False, True, True
        st.partial += max(0, done)

    def _admit(self, t: float) -> None:
        assert self.core is not None
        for d in self.core.dispatch(t):
            st = self.ss[d.run_id]
            start = t
            if d.resume:
                start += self.cfg.save_s + self.cfg.restore_s
                self.res.switch_overhead_s += self.cfg.save_s + self.cfg.restore_s
                call = st.session.calls[st.idx]
                # what the switch makes the upstream prefill again: the cached prefix, or after
                # a mid-stream stop the whole prompt and the partial output
                wasted = call.prompt_tokens + st.partial if st.stopped else call.shared_prefix_tokens
                self.core.switches.record(
                    save_s=self.cfg.save_s,
                    restore_s=self.cfg.restore_s,
                    nbytes=4 * (call.prompt_tokens + call.output_tokens),
                    wasted_tokens=wasted,
                )
            self.at(start, functools.partial(self._call_at, st, d.deployment))

    def _batch_tick(self, t: float) -> None:
        self._dispatch(t, tick=True)
        if any(st.idx < len(st.session.calls) for st in self.ss.values()):
            self.at(t + self.cfg.batch_interval_s, self._batch_tick)

    def _call_at(self, st: _S, dep: str, t: float) -> None:
        self._start_call(st, dep, t, self._sched_done)

    def _sched_done(self, st: _S, dep: str, t: float) -> None:
        assert self.core is not None
        call = st.session.calls[st.idx]
        self._finish_call(st, dep, t)
        run = st.session.sid
        if st.idx >= len(st.session.calls):
            self.core.boundary(
                run, t, prompt_tokens=call.prompt_tokens, completion_tokens=call.output_tokens, done=True
            )
            self.res.session_done[run] = t
            self._dispatch(t)
        elif call.tool_s > self.cfg.hold_s:
            self.core.boundary(
                run, t, prompt_tokens=call.prompt_tokens, completion_tokens=call.output_tokens, block=True
            )
            self._dispatch(t)
            self.at(t + call.tool_s, lambda now: self._wake(st, now))
        else:
            self.res.held_idle_s += call.tool_s
            self.at(
                t + call.tool_s,
                lambda now: self._tool_done(st, dep, call.prompt_tokens, call.output_tokens, now),
            )

    def _tool_done(self, st: _S, dep: str, prompt: int, completion: int, t: float) -> None:
        assert self.core is not None
        st.ready_at = t
        verdict = self.core.boundary(st.session.sid, t, prompt_tokens=prompt, completion_tokens=completion)
        if verdict is Verdict.CONTINUE:
            self._start_call(st, dep, t, self._sched_done)
        else:  # PREEMPT: the switch evicts the session's prefix from the deployment's cache
            st.evicted = True
            self._dispatch(t)

    def _wake(self, st: _S, t: float) -> None:
        assert self.core is not None
        st.ready_at = t
        self.core.wake(st.session.sid, t)
        self._dispatch(t)

    # ---- direct mode (no scheduler / load-aware dispatch) ---------------------------------
    def run_direct(self, strategy: str) -> SimResult:
        names = list(self.tiers)
        ring = [n for n in names for _ in range(self.tiers[n].capacity)]
        for i, st in enumerate(self.ss.values()):
            st.home = ring[(i * 7919) % len(ring)]  # spread clients over deployments by capacity
            self.at(st.session.arrival_s, functools.partial(self._step_ready, st))
        self._strategy = strategy
        return self._loop()

    def _pick(self, st: _S) -> str:
        if self._strategy == "no_scheduler":
            assert st.home is not None
            return st.home
        if self._strategy == "least_busy":
            return min(self.tiers, key=lambda d: self.in_flight[d] / self.tiers[d].capacity)
        if self._strategy == "latency_based":
            return min(self.tiers, key=lambda d: self._lat_ewma.get(d, 0.0))
        if self._strategy == "shuffle":  # LiteLLM's default: random per request, weighted by capacity
            names = list(self.tiers)
            return self.rng.choices(names, weights=[self.tiers[d].capacity for d in names])[0]
        raise ValueError(self._strategy)

    def _step_ready(self, st: _S, t: float) -> None:
        st.ready_at, st.attempts = t, 0
        self._attempt(st, t)

    def _attempt(self, st: _S, t: float) -> None:
        dep = self._pick(st)
        st.attempts += 1
        if self.in_flight[dep] < self.tiers[dep].capacity:
            self._start_call(st, dep, t, self._direct_done)
            return
        self.res.rejects += 1
        wait = self._backoff(st)
        if wait is None:  # the run failed; the application submits it again
            self.res.failed_runs += 1
            if self.cfg.resubmit == "scratch":
                self.res.reruns += 1
                self.res.rerun_wasted_tokens += sum(
                    c.prompt_tokens + c.output_tokens for c in st.session.calls[: st.idx]
                )
                st.idx = 0
                self.at(t + self.cfg.rtt_s + self.cfg.rerun_delay_s, lambda now: self._step_ready(st, now))
            else:  # from its checkpoint: the same step, still counted from when it became ready
                st.attempts = 0
                self.at(t + self.cfg.rtt_s + self.cfg.rerun_delay_s, lambda now: self._attempt(st, now))
            return
        self.res.backoff_s += wait
        self.at(t + self.cfg.rtt_s + wait, lambda now: self._attempt(st, now))

    def _backoff(self, st: _S) -> float | None:
        """Seconds to wait after the ``st.attempts``-th rejected try; None: the run fails."""
        n = st.attempts
        if self.cfg.client == "retry_forever":
            capped = min(self.cfg.backoff_base_s * 2.0 ** (n - 1), self.cfg.backoff_cap_s)
            return float(capped * (1 - 0.25 * self.rng.random()))
        if self.cfg.client != "sdk":
            raise ValueError(self.cfg.client)
        sdk_try, node_try = (n - 1) % self.cfg.sdk_tries, (n - 1) // self.cfg.sdk_tries
        if sdk_try + 1 < self.cfg.sdk_tries:  # openai-python's own retry
            if self.cfg.retry_after_s is not None:
                return self.cfg.retry_after_s
            return float(min(0.5 * 2.0**sdk_try, 8.0) * (1 - 0.25 * self.rng.random()))
        if node_try + 1 < self.cfg.node_attempts:  # the LangGraph node's RetryPolicy
            return float(min(0.5 * 2.0**node_try, 128.0) + self.rng.uniform(0.0, 1.0))
        return None

    def _direct_done(self, st: _S, dep: str, t: float) -> None:
        call = st.session.calls[st.idx]
        self._finish_call(st, dep, t)
        if st.idx >= len(st.session.calls):
            self.res.session_done[st.session.sid] = t
        else:
            self.at(t + call.tool_s, lambda now: self._step_ready(st, now))


def jain(values: list[float]) -> float:
    """Jain's fairness index: (Σx)² / (n·Σx²); 1.0 is perfectly even."""
    if not values or not any(values):
        return 1.0
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _intersect(xs: list[tuple[float, float]], ys: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out, i, j = [], 0, 0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if a < b:
            out.append((a, b))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


def backlogged_service(
    steps: list[StepRecord], w_in: float = 1.0, w_out: float = 2.0
) -> tuple[dict[str, float], float]:
    """Weighted tokens (VTC cost) each tenant was served while *every* tenant was backlogged.

    A tenant is backlogged while one of its steps waits for a slot ([ready_at, started_at]): it
    could use more service than it gets (as in VTC's fairness guarantee); a tenant whose sessions
    are all in service or in tool calls asks for nothing more. A step's tokens are spread evenly over its service
    interval [started_at, done_at]; only the part inside the all-backlogged time counts. Returns
    (tokens per tenant, seconds during which all tenants were backlogged).
    """
    by_tenant: dict[str, list[tuple[float, float]]] = {}
    for st in steps:
        by_tenant.setdefault(st.tenant, []).append((st.ready_at, st.started_at))
    merged = [_merge(v) for v in by_tenant.values()]
    common = merged[0] if merged else []
    for m in merged[1:]:
        common = _intersect(common, m)
    served = dict.fromkeys(by_tenant, 0.0)
    starts = [a for a, _ in common]
    for st in steps:
        span = st.done_at - st.started_at
        if span <= 0:
            continue
        k = max(0, bisect.bisect_right(starts, st.started_at) - 1)
        inside = 0.0
        while k < len(common) and common[k][0] < st.done_at:
            inside += max(0.0, min(common[k][1], st.done_at) - max(common[k][0], st.started_at))
            k += 1
        served[st.tenant] += (st.prompt_tokens * w_in + st.output_tokens * w_out) * inside / span
    return served, sum(b - a for a, b in common)
