"""An agent worker: takes runs from the run queue (Redis, or in-process) and runs them on its scheduler.

Each worker process (``switchboard worker``, or a gateway with workers enabled) is one consumer
of the queue's group. It keeps at most ``max_inflight`` runs, renews their leases every
``heartbeat_s`` and, every ``heartbeat_s`` too, takes over entries whose lease (``lease_s``
without heartbeat) expired: the runs of a worker that died. A taken-over run resumes from its
last checkpoint (see agents.executor) and its tool calls are deduplicated by idempotency key.
Fencing: a worker counts a run's lease as held until ``LEASE_SAFETY × lease_s`` after the last
heartbeat that renewed it was sent; past that its checkpoint writes raise LeaseLost (see
agents.checkpoint.fenced) and it drops the run unacknowledged, so a worker that stalled past its
lease can never write a fork of a thread that another worker has taken over.

Global slots: with ``global_slots`` (bootstrap passes one whenever the queue is on Redis) a run
admitted into a local slot also takes one of its deployment's slots shared by every worker
(agents.scheduler.global_slots) before it executes; the heartbeat renews them.

Cost: each LLM step is priced by ``cost(deployment, prompt_tokens, completion_tokens)`` (the
gateway passes its PriceBook; the deployment is the one that answered the step) and added to the
run record's ``cost_usd``; step events carry the step's deployment, usage and cost; ``on_spend``
(the gateway: the virtual key's spend and token windows) is told each LLM step of a keyed run.

Budget: after each step the run's tokens and cost so far are checked against its agent's
``budget`` (``max_tokens``, ``max_cost_usd``); a run over it stops at that step's boundary and
fails with ``budget exceeded: …`` (the step that crossed the limit has already been paid; a final
answer that crosses it is kept). A run created with a key is also checked against the key's own
budget: ``key_check`` (the gateway: the limiter's admission budget check) is asked when the run
is taken from the queue and at every step boundary; a reason from it fails the run the same way
(``budget exceeded: key budget exhausted …``, or ``key revoked: …`` once the key is revoked).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agents.checkpoint.fenced import FencedSaver, LeaseLost
from agents.executor import GraphExecutor, RunWork
from agents.graph import GraphDeps, build_react_graph
from agents.runs import TERMINAL, RunRecord, RunStorage
from agents.scheduler import (
    AsyncScheduler,
    RunSpec,
    SchedulerCore,
    SchedulerPolicy,
    SlotPool,
    Verdict,
    priority_of,
)
from agents.scheduler.global_slots import GlobalSlots
from agents.spec import AgentSpec
from agents.tools import Toolbox, ToolLedger
from core.backend import ChatBackend
from core.clock import Clock

log = logging.getLogger(__name__)

CostFn = Callable[[str, int, int], float]  # (deployment, prompt tokens, completion tokens) → USD
# (run, prompt tokens, completion tokens, USD) of one LLM step: charges the run's key (gateway)
SpendFn = Callable[[RunRecord, int, int, float], Awaitable[None]]
# why the run's key may not go on (budget spent, key revoked), or None: asked for runs with a key_id
KeyCheckFn = Callable[[RunRecord], Awaitable[str | None]]


def free(deployment: str, prompt_tokens: int, completion_tokens: int) -> float:
    """The cost function when none is given: every step costs 0."""
    return 0.0


# A lease counts as held for this share of ``lease_s`` after the heartbeat that renewed it was sent.
LEASE_SAFETY = 0.8


@dataclass
class WorkerConfig:
    consumer: str
    slots: Mapping[str, int]
    max_inflight: int = 16
    lease_s: float = 10.0
    heartbeat_s: float = 2.0
    block_ms: int = 500


class Worker:
    """Runs until ``stop()``; use as ``async with Worker(...) as w: await w.run()``."""

    def __init__(
        self,
        store: RunStorage,
        agents: Mapping[str, AgentSpec],
        backend: ChatBackend,
        toolbox: Toolbox,
        ledger: ToolLedger,
        checkpointer: Any,
        policy: SchedulerPolicy,
        clock: Clock,
        config: WorkerConfig,
        on_record: Callable[[RunRecord], Awaitable[None]] | None = None,
        cost: CostFn = free,
        on_spend: SpendFn | None = None,
        key_check: KeyCheckFn | None = None,
        global_slots: GlobalSlots | None = None,
    ) -> None:
        self.store = store
        self.global_slots = global_slots
        self.cost = cost
        self.on_spend = on_spend
        self.key_check = key_check
        self.agents = agents
        self.backend = backend
        self.toolbox = toolbox
        self.ledger = ledger
        self.checkpointer = checkpointer
        self.clock = clock
        self.cfg = config
        self.core = SchedulerCore(policy=policy, slots=SlotPool(config.slots))
        gate = (
            (lambda d: global_slots.slot(d.deployment, d.run_id, d.priority, d.waited_s))
            if global_slots is not None
            else None
        )
        self.sched = AsyncScheduler(self.core, clock, GraphExecutor(self._resolve, clock, _Hooks(self), gate))
        self.entries: dict[str, str] = {}  # run id → queue entry id
        self.records: dict[str, RunRecord] = {}
        self.over_budget: dict[str, str] = {}  # run id → why it is being stopped
        # run id → monotonic time until which no other worker can have taken the run over
        self.lease_until: dict[str, float] = {}
        self.leases_lost = 0  # runs dropped because a checkpoint write found the lease lapsed
        self.runs_taken_over = 0  # runs stopped because a heartbeat found another worker owns them
        self._stop = asyncio.Event()
        self._on_record = on_record

    async def __aenter__(self) -> Worker:
        await self.store.ensure_group()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sched.aclose()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Take, reclaim and heartbeat until stopped."""
        beat = asyncio.get_running_loop().create_task(self._heartbeats())
        try:
            while not self._stop.is_set():
                room = self.cfg.max_inflight - len(self.entries)
                if room <= 0:
                    await asyncio.sleep(self.cfg.block_ms / 1000)
                    continue
                for entry_id, run_id in await self.store.take(self.cfg.consumer, room, self.cfg.block_ms):
                    await self._admit(entry_id, run_id)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.heartbeat_s)
            try:
                await self._beat()
            except Exception:  # a Redis hiccup must not stop leases or take-overs for good
                log.exception("heartbeat failed")
            if self.global_slots is not None:
                try:  # after the leases: a slot renewal that fails must not cost a lease
                    await self.global_slots.renew()
                except Exception:
                    log.exception("renewing global slots failed")

    async def _beat(self) -> None:
        held = dict(self.entries)  # a run admitted while we ask Redis is not judged by this answer
        asked = self.clock.now()  # the renewed leases run from before the request, to be safe
        owned = await self.store.heartbeat(self.cfg.consumer, list(held.values()))
        for run_id, entry in held.items():
            if entry in owned and self.entries.get(run_id) == entry:
                self.lease_until[run_id] = asked + self.cfg.lease_s * LEASE_SAFETY
            elif entry not in owned and self.entries.get(run_id) == entry:
                # our lease expired and another worker took the run over: stop it here
                log.warning("run %s was taken over; stopping it here", run_id)
                self.runs_taken_over += 1
                self.entries.pop(run_id, None)
                self.records.pop(run_id, None)
                self.lease_until.pop(run_id, None)
                with contextlib.suppress(KeyError):
                    self.sched.cancel(run_id)
        room = self.cfg.max_inflight - len(self.entries)
        if room > 0:
            for entry_id, run_id in await self.store.reclaim(
                self.cfg.consumer, int(self.cfg.lease_s * 1000), room
            ):
                if run_id not in self.entries:
                    await self._admit(entry_id, run_id)

    async def _admit(self, entry_id: str, run_id: str) -> None:
        rec = await self.store.get(run_id)
        if rec is None or rec.status in TERMINAL or rec.agent not in self.agents:
            if rec is not None:  # completes an unknown agent's run; hands a finished run's thread on
                await self.store.complete(
                    run_id, rec.thread_id, "failed", error=f"unknown agent {rec.agent!r}"
                )
            await self.store.ack(entry_id)
            return
        if rec.status == "suspended":  # suspended while queued: resume puts it on the queue again
            await self.store.ack(entry_id)
            return
        spec = self.agents[rec.agent]
        over = await self.key_over(rec)
        if over:  # the key's budget ran out while the run waited (or before a take-over)
            with contextlib.suppress(KeyError, ValueError):
                self.core.forget(run_id)
            await self.store.complete(run_id, rec.thread_id, "failed", error=over)
            await self.store.ack(entry_id)
            return
        self.entries[run_id] = entry_id
        self.records[run_id] = rec
        self.lease_until[run_id] = self.clock.now() + self.cfg.lease_s * LEASE_SAFETY
        await self.store.update(run_id, status="running", owner=self.cfg.consumer)
        await self.store.event(run_id, "status", {"status": "running", "worker": self.cfg.consumer})
        deadline = math.inf
        if rec.deadline_at is not None:
            deadline = self.clock.now() + (rec.deadline_at - self.clock.wall())
        with contextlib.suppress(KeyError, ValueError):  # a stale local record of an earlier attempt
            self.core.forget(run_id)
        try:
            self.sched.submit(
                RunSpec(
                    run_id,
                    rec.thread_id,
                    tenant=rec.tenant,
                    priority=priority_of(rec.priority),
                    deadline=deadline,
                    est_steps=max(1, spec.max_steps // 2),
                )
            )
        except ValueError:
            # still known to this worker's scheduler: suspended here before (a resume re-queued
            # it), so resume it from its checkpoint; or reclaimed while still running here
            with contextlib.suppress(ValueError):
                self.sched.resume(run_id)

    async def _resolve(self, run_id: str) -> RunWork:
        rec = self.records[run_id]
        spec = self.agents[rec.agent]
        tools = await self.toolbox.select(spec, rec.input, rec.tenant)
        deps = GraphDeps(spec, self.backend, tools, self.ledger, self.clock, tenant=rec.tenant)
        checkpointer = self.checkpointer
        if isinstance(checkpointer, BaseCheckpointSaver):  # no write after the lease may be gone
            checkpointer = FencedSaver(checkpointer, lambda: self.lease_held(run_id), what=f"run {run_id}")
        return RunWork(run_id, build_react_graph(deps, checkpointer), rec.input, spec.max_steps)

    def lease_held(self, run_id: str) -> bool:
        """True while no other worker can have taken ``run_id`` over: less than ``lease_s``
        (with a safety margin) has passed since the last heartbeat that renewed it was sent."""
        return self.clock.now() < self.lease_until.get(run_id, -math.inf)

    def _drop(self, run_id: str) -> None:
        """Forget a run that another worker may own now: no completion, no acknowledgement (its
        queue entry belongs to the new owner)."""
        log.warning("run %s: lease lost mid-step; leaving it to its new owner", run_id)
        self.leases_lost += 1
        self.entries.pop(run_id, None)
        self.records.pop(run_id, None)
        self.over_budget.pop(run_id, None)
        self.lease_until.pop(run_id, None)
        with contextlib.suppress(KeyError, ValueError):
            self.core.forget(run_id)

    async def key_over(self, rec: RunRecord) -> str | None:
        """Why the run's key may not go on, or None (also when the check itself fails: a key
        ledger that is down must not fail runs)."""
        if self.key_check is None or not rec.key_id:
            return None
        try:
            return await self.key_check(rec)
        except Exception:
            log.exception("checking the key of run %s failed", rec.run_id)
            return None

    async def _release(self, run_id: str) -> None:
        entry = self.entries.pop(run_id, None)
        self.records.pop(run_id, None)
        self.lease_until.pop(run_id, None)
        self.over_budget.pop(run_id, None)
        if entry is not None:
            await self.store.ack(entry)
        with contextlib.suppress(KeyError, ValueError):
            self.core.forget(run_id)


def over_budget(spec: AgentSpec, rec: RunRecord) -> str | None:
    """Why the run went over its agent's budget (tokens or USD so far), or None."""
    budget = spec.budget
    tokens = rec.prompt_tokens + rec.completion_tokens
    if budget.max_tokens is not None and tokens > budget.max_tokens:
        return f"budget exceeded: {tokens} tokens > max_tokens {budget.max_tokens}"
    if budget.max_cost_usd is not None and rec.cost_usd > budget.max_cost_usd:
        return f"budget exceeded: ${rec.cost_usd:.6f} > max_cost_usd ${budget.max_cost_usd}"
    return None


def _final(node: str, update: dict[str, Any]) -> bool:
    """An LLM step that answered without tool calls ends the run: nothing left to stop."""
    msgs = update.get("messages") or []
    return node == "llm" and bool(msgs) and not msgs[-1].get("tool_calls")


class _Hooks:
    def __init__(self, worker: Worker) -> None:
        self.w = worker

    def _price(self, deployment: str, prompt: int, completion: int) -> float:
        try:
            return float(self.w.cost(deployment, prompt, completion))
        except Exception:  # a pricing problem must not fail the run; the step counts as free
            log.exception("pricing %s failed", deployment)
            return 0.0

    async def on_step(self, run_id: str, node: str, update: dict[str, Any]) -> None:
        usage = update.get("usage") or {}
        prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        deployment = str(update.get("deployment") or "")
        cost = self._price(deployment, prompt, completion) if node == "llm" else 0.0
        total = await self.w.store.add_usage(run_id, 1 if node == "llm" else 0, prompt, completion, cost)
        summary: dict[str, Any] = {"node": node}
        if node == "llm":
            summary.update(
                deployment=deployment,
                usage={"prompt_tokens": prompt, "completion_tokens": completion},
                cost_usd=cost,
                run_cost_usd=total,
            )
        msgs = update.get("messages") or []
        if msgs:
            summary["messages"] = msgs
        await self.w.store.event(run_id, "step", summary)
        rec = await self.w.store.get(run_id)
        if node == "llm" and rec is not None and rec.key_id and self.w.on_spend is not None:
            try:
                await self.w.on_spend(rec, prompt, completion, cost)
            except Exception:  # the key's ledger being down must not fail the run
                log.exception("charging run %s to key %s failed", run_id, rec.key_id)
        spec = self.w.agents.get(rec.agent) if rec is not None else None
        over = over_budget(spec, rec) if spec is not None and rec is not None else None
        if not over and rec is not None and not _final(node, update):
            over = await self.w.key_over(rec)  # after the step was charged to the key
        if over and not _final(node, update):
            self.w.over_budget[run_id] = over
            self.w.core.cancel(run_id)  # stops at this step's boundary; the run fails with ``over``
        elif rec is not None and rec.cancel_requested:
            self.w.core.cancel(run_id)  # takes effect at this step's boundary
        elif rec is not None and rec.suspend_requested:
            self.w.sched.suspend(run_id)

    async def on_token(self, run_id: str, text: str) -> None:
        if text:
            await self.w.store.event(run_id, "token", {"text": text})

    async def on_stop(self, run_id: str, verdict: Verdict) -> None:
        rec = self.w.records.get(run_id)
        if rec is None:
            return
        if verdict is Verdict.SUSPEND:
            # let go of the run before it is seen as suspended: a resume that lands right after
            # the status change re-queues it, and this worker may admit it again at once
            await self.w._release(run_id)
            await self.w.store.update(run_id, status="suspended", suspend_requested=0)
            await self.w.store.event(run_id, "status", {"status": "suspended"})
        elif verdict is Verdict.CANCEL:
            over = self.w.over_budget.pop(run_id, None)
            if over:
                await self.w.store.complete(run_id, rec.thread_id, "failed", error=over)
            else:
                await self.w.store.complete(run_id, rec.thread_id, "cancelled")
            await self.w._release(run_id)
        # PREEMPT: the run stays ours, queued on this worker's scheduler

    async def on_finish(self, run_id: str, state: dict[str, Any]) -> None:
        rec = self.w.records.get(run_id)
        if rec is None:
            return
        msgs = state.get("messages") or []
        output = str((msgs[-1].get("content") if msgs else "") or "")
        await self.w.store.complete(run_id, rec.thread_id, "succeeded", output=output)
        await self.w._release(run_id)

    async def on_error(self, run_id: str, error: BaseException) -> None:
        rec = self.w.records.get(run_id)
        if rec is None:
            return
        if isinstance(error, LeaseLost):
            self.w._drop(run_id)
            return
        message = getattr(error, "message", None) or type(error).__name__
        await self.w.store.complete(run_id, rec.thread_id, "failed", error=str(message))
        await self.w._release(run_id)
