"""What the agents HTTP API does, without HTTP: submit, inspect, list, cancel, suspend, resume, events.

Runs are accepted into the run store (Redis, or in-process in the embedded mode) before the call
returns, so an accepted run is never dropped: a worker picks it up (with Redis, also after a
restart). A new message on a thread whose run is still
active follows the agent's ``on_active_run`` policy (overridable per request): ``reject`` (409),
``enqueue`` (runs after the active one) or ``interrupt`` (the active run is cancelled at its next
step boundary, then this one runs). Raises only core.errors types.

Tenancy: every read and control takes ``tenant``: a run of another tenant is reported as unknown
(NotFoundError, the same answer as for a run that does not exist, so ids cannot be probed);
``tenant=None`` (the master key) reaches every run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from agents.runs import STATUSES, TERMINAL, RunRecord, RunStorage, done_event
from agents.scheduler import PRIORITY_CLASSES
from agents.spec import AgentSpec
from core.clock import Clock
from core.errors import ConflictError, InvalidRequestError, NotFoundError

MAX_DEADLINE_S = 7 * 86400.0
MAX_INPUT_CHARS = 200_000
MAX_LIST_LIMIT = 100


class RunService:
    def __init__(self, store: RunStorage, agents: Mapping[str, AgentSpec], clock: Clock) -> None:
        self.store = store
        self.agents = agents
        self.clock = clock

    async def submit(
        self,
        agent: str,
        user_input: str,
        *,
        thread_id: str | None = None,
        priority: str | None = None,
        deadline_s: float | None = None,
        on_active_run: str | None = None,
        tenant: str = "default",
        key_id: str = "",
    ) -> tuple[RunRecord, str]:
        """Accept a run; returns (record, outcome) with outcome ``queued`` or ``waiting``."""
        spec = self.agents.get(agent)
        if spec is None:
            raise NotFoundError(f"unknown agent {agent!r}", param="name")
        if not isinstance(user_input, str) or not user_input.strip():
            raise InvalidRequestError("input must be a non-empty string", param="input")
        if len(user_input) > MAX_INPUT_CHARS:
            raise InvalidRequestError(f"input is longer than {MAX_INPUT_CHARS} characters", param="input")
        prio = priority or spec.priority
        if prio not in PRIORITY_CLASSES:
            raise InvalidRequestError("priority must be one of high, normal, low", param="priority")
        dl = deadline_s if deadline_s is not None else spec.deadline_s
        if dl is not None and not (0 < dl <= MAX_DEADLINE_S):
            raise InvalidRequestError(
                f"deadline must be in (0, {MAX_DEADLINE_S:.0f}] seconds", param="deadline"
            )
        policy = on_active_run or spec.on_active_run
        if policy not in ("reject", "enqueue", "interrupt"):
            raise InvalidRequestError(
                "on_active_run must be reject, enqueue or interrupt", param="on_active_run"
            )
        if thread_id is not None and not (0 < len(thread_id) <= 128):
            raise InvalidRequestError("thread_id must be 1 to 128 characters", param="thread_id")
        run_id = f"run_{uuid.uuid4().hex}"
        rec = RunRecord(
            run_id=run_id,
            agent=agent,
            thread_id=f"{tenant}/{thread_id or f'thread_{uuid.uuid4().hex}'}",  # threads are per tenant
            input=user_input,
            tenant=tenant,
            key_id=key_id,
            priority=prio,
            deadline_at=None if dl is None else self.clock.wall() + dl,
            created_at=self.clock.wall(),
        )
        outcome, active = await self.store.create(rec, policy)
        if outcome == "rejected":
            raise ConflictError(
                f"thread {rec.public_thread_id!r} has an active run {active!r}", param="thread_id"
            )
        if outcome == "waiting" and policy == "interrupt":
            await self.store.update(active, cancel_requested=1)
        rec.status = outcome
        await self.store.event(run_id, "status", {"status": outcome, "behind": active or None})
        return rec, outcome

    async def get(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """The run, if it exists and belongs to ``tenant`` (None: any tenant)."""
        rec = await self.store.get(run_id)
        if rec is None or (tenant is not None and rec.tenant != tenant):
            raise NotFoundError(f"unknown run {run_id!r}", param="run_id")
        return rec

    async def list_runs(
        self,
        *,
        tenant: str | None = None,
        agent: str | None = None,
        status: str | None = None,
        limit: int = 20,
    ) -> tuple[list[RunRecord], bool]:
        """Newest first: runs of ``tenant`` (None: all) filtered by agent and status; and whether
        more match than ``limit``."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidRequestError(f"limit must be between 1 and {MAX_LIST_LIMIT}", param="limit")
        if status is not None and status not in STATUSES:
            raise InvalidRequestError(f"state must be one of {', '.join(sorted(STATUSES))}", param="state")
        return await self.store.list_runs(tenant=tenant, agent=agent, status=status, limit=limit)

    async def cancel(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """Idempotent. A run not on a worker is cancelled now, a running one at its next step."""
        rec = await self.get(run_id, tenant=tenant)
        if rec.status in TERMINAL:
            return rec
        if rec.status in ("queued", "waiting", "suspended", "pending"):
            if rec.status == "waiting":
                await self.store.remove_waiting(rec.thread_id, run_id)
            await self.store.complete(run_id, rec.thread_id, "cancelled")
        else:
            await self.store.update(run_id, cancel_requested=1)
        return await self.get(run_id)

    async def suspend(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """A running run suspends at its next step boundary (checkpointed); a queued one at once."""
        rec = await self.get(run_id, tenant=tenant)
        if rec.status == "running":
            await self.store.update(run_id, suspend_requested=1)
        elif rec.status == "queued":
            await self.store.update(run_id, status="suspended")
            await self.store.event(run_id, "status", {"status": "suspended"})
        elif rec.status != "suspended":
            raise ConflictError(
                f"run {run_id!r} is {rec.status}; only queued or running runs can be suspended"
            )
        return await self.get(run_id)

    async def resume(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        rec = await self.get(run_id, tenant=tenant)
        if rec.status == "suspended":
            await self.store.enqueue(run_id)
            await self.store.event(run_id, "status", {"status": "queued"})
        elif rec.status == "running" and rec.suspend_requested:
            await self.store.update(run_id, suspend_requested=0)
        else:
            raise ConflictError(f"run {run_id!r} is {rec.status}; only suspended runs can be resumed")
        return await self.get(run_id)

    async def events(
        self, run_id: str, after: str = "0", *, tenant: str | None = None
    ) -> AsyncIterator[tuple[str, str, dict[str, Any]]]:
        """Yield (event id, type, data) until the run's ``done`` event; then stop."""
        await self.get(run_id, tenant=tenant)
        cursor = after
        while True:
            batch = await self.store.read_events(run_id, cursor, block_ms=1000)
            for eid, kind, data in batch:
                cursor = eid
                yield eid, kind, data
                if kind == "done":
                    return
            if not batch:
                rec = await self.get(run_id)
                if rec.status in TERMINAL and cursor == "0":  # finished, history gone (restart)
                    yield "0-1", "done", done_event(rec, rec.status, rec.output, rec.error)
                    return
                if rec.status in TERMINAL:
                    return
                await asyncio.sleep(0)
