"""The run store and run queue in process memory: the embedded default (no Redis).

Same contract as the Redis ``agents.runs.RunStore`` (``agents.runs.RunStorage``): per-thread
admission (reject / enqueue / interrupt), completion at most once that hands the thread on,
events with increasing ids (``{n}-0``, so ``Last-Event-ID`` works the same), and a queue whose
taken entries stay pending, owned by their consumer, until acked, with leases renewed by
heartbeats and reclaimed after ``lease_ms`` without one.

Durability is the process's: records, events and queued runs live only as long as the process
(a restart loses runs that were not finished) unless a subclass persists them through the
``_persist`` / ``_forget`` hooks (``agents.sqlite_runs.SqliteRunStore``). One process only; several gateway processes or
``switchboard worker`` processes need Redis. Finished runs beyond ``max_finished`` are forgotten,
oldest first, so memory stays bounded, and ``prune(before)`` forgets those that finished at or
before a wall time (retention; finish times come from ``wall``); runs that are not finished are
never dropped. For thread retention (agents.thread_retention) it also keeps, per thread, the wall
time its newest run finished (set at completion) and answers whether a thread has an unfinished
run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.runs import TERMINAL, RunRecord, done_event, matches


@dataclass
class _Events:
    seq: int = 0
    items: deque[tuple[int, str, dict[str, Any]]] = field(default_factory=lambda: deque(maxlen=1000))


def _event_seq(event_id: str) -> int:
    """``{n}-0`` or ``{n}`` → n; anything else reads from the start (0)."""
    head = event_id.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


class MemoryRunStore:
    """In-process ``RunStorage``. ``now`` (monotonic seconds) times leases."""

    def __init__(
        self,
        *,
        now: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_finished: int = 10_000,
    ) -> None:
        self._now = now
        self._wall = wall
        self._max_finished = max_finished
        self._records: dict[str, RunRecord] = {}  # insertion order = creation order
        self._events: dict[str, _Events] = {}
        self._active: dict[str, str] = {}
        self._waiting: dict[str, deque[str]] = {}
        self._queue: deque[tuple[str, str]] = deque()
        self._pending: dict[str, tuple[str, str, float]] = {}  # entry → (consumer, run id, last touch)
        self._entry_seq = 0
        self._queued = asyncio.Condition()
        self._evented = asyncio.Condition()
        self._finished: deque[str] = deque()
        self._thread_done: dict[str, float] = {}  # thread → when its newest run finished

    # ---- records ---------------------------------------------------------------------------
    async def create(self, rec: RunRecord, policy: str) -> tuple[str, str]:
        active = self._active.get(rec.thread_id)
        if active is not None:
            cur = self._records.get(active)
            if cur is None or cur.status in TERMINAL:
                active = None
        if active is None:
            self._records[rec.run_id] = dataclasses.replace(rec, status="queued")
            self._active[rec.thread_id] = rec.run_id
            self._persist(rec.run_id)
            await self._push(rec.run_id)
            return "queued", ""
        if policy == "reject":
            return "rejected", active
        self._records[rec.run_id] = dataclasses.replace(rec, status="waiting")
        self._waiting.setdefault(rec.thread_id, deque()).append(rec.run_id)
        self._persist(rec.run_id)
        return "waiting", active

    async def get(self, run_id: str) -> RunRecord | None:
        rec = self._records.get(run_id)
        return None if rec is None else dataclasses.replace(rec)

    async def update(self, run_id: str, **fields: Any) -> None:
        rec = self._records.get(run_id)
        if rec is None:  # Redis HSET would create a partial hash; nothing reads one
            return
        for k, v in fields.items():
            setattr(rec, k, v)
        self._persist(run_id)

    async def add_usage(
        self, run_id: str, steps: int, prompt: int, completion: int, cost_usd: float = 0.0
    ) -> float:
        rec = self._records.get(run_id)
        if rec is None:
            return 0.0
        rec.steps += steps
        rec.prompt_tokens += prompt
        rec.completion_tokens += completion
        rec.cost_usd += cost_usd
        rec.updated_at = self._wall()
        self._persist(run_id)
        return rec.cost_usd

    async def complete(
        self, rec_id: str, thread_id: str, status: str, output: str = "", error: str = ""
    ) -> bool:
        rec = self._records.get(rec_id)
        first = rec is not None and rec.status not in TERMINAL
        if rec is not None and first:
            rec.status, rec.output, rec.error, rec.updated_at = status, output, error, self._wall()
            rec.completions += 1
            self._finished.append(rec_id)
            self._persist(rec_id)
            self._thread_done[thread_id] = rec.updated_at
            self._persist_thread(thread_id)
        if self._active.get(thread_id) == rec_id:
            waiting = self._waiting.get(thread_id)
            nxt = waiting.popleft() if waiting else None
            if waiting is not None and not waiting:
                del self._waiting[thread_id]
            if nxt is None:
                del self._active[thread_id]
            else:
                self._active[thread_id] = nxt
                await self.update(nxt, status="queued")
                await self._push(nxt)
        if first:
            await self.event(rec_id, "done", done_event(rec, status, output, error))
            self._forget_old()
        return first

    async def remove_waiting(self, thread_id: str, run_id: str) -> None:
        waiting = self._waiting.get(thread_id)
        if waiting is not None and run_id in waiting:
            waiting.remove(run_id)

    async def list_runs(
        self,
        *,
        tenant: str | None = None,
        agent: str | None = None,
        status: str | None = None,
        limit: int = 20,
    ) -> tuple[list[RunRecord], bool]:
        found: list[RunRecord] = []
        for rec in reversed(self._records.values()):
            if (tenant is None or rec.tenant == tenant) and matches(rec, agent, status):
                if len(found) == limit:
                    return found, True
                found.append(dataclasses.replace(rec))
        return found, False

    def unfinished(self) -> int:
        """Runs accepted and not finished (lost if the process stops now)."""
        return sum(1 for rec in self._records.values() if rec.status not in TERMINAL)

    def _forget_old(self) -> None:
        while len(self._finished) > self._max_finished:
            self._drop(self._finished.popleft())

    def _drop(self, run_id: str) -> None:
        self._records.pop(run_id, None)
        self._events.pop(run_id, None)
        self._forget(run_id)

    async def prune(self, before: float) -> int:
        """Forget the finished runs whose completion (``updated_at``) is at or before ``before``."""
        keep: deque[str] = deque()
        dropped = 0
        for run_id in self._finished:
            rec = self._records.get(run_id)
            if rec is not None and rec.status in TERMINAL and rec.updated_at > before:
                keep.append(run_id)
            elif rec is None or rec.status in TERMINAL:
                self._drop(run_id)
                dropped += rec is not None
        self._finished = keep
        return dropped

    # ---- thread retention (agents.thread_retention) -------------------------------------------
    def threads_finished_by(self, before: float) -> list[tuple[str, float]]:
        """(thread, finish time) of the threads whose newest run finished at or before
        ``before`` (the thread may have an unfinished run since: see ``thread_busy``)."""
        return [(t, at) for t, at in self._thread_done.items() if at <= before]

    def thread_finished_at(self, thread_id: str) -> float | None:
        return self._thread_done.get(thread_id)

    def thread_busy(self, thread_id: str) -> bool:
        """Whether the thread has an unfinished run (its active run, or one waiting for it)."""
        active = self._active.get(thread_id)
        if active is not None:
            cur = self._records.get(active)
            if cur is not None and cur.status not in TERMINAL:
                return True
        return bool(self._waiting.get(thread_id))

    def forget_thread(self, thread_id: str, finished_at: float) -> bool:
        """Drop the thread's finish time if it is still ``finished_at`` (a run that finished
        since keeps it); the next completion on the thread records it again."""
        if self._thread_done.get(thread_id) != finished_at:
            return False
        del self._thread_done[thread_id]
        self._forget_thread(thread_id)
        return True

    # ---- persistence hooks (agents.sqlite_runs) ------------------------------------------------
    def _persist(self, run_id: str) -> None:
        """Called after every change of a record."""

    def _forget(self, run_id: str) -> None:
        """Called when a finished record is dropped."""

    def _persist_thread(self, thread_id: str) -> None:
        """Called when a thread's newest finish time changed."""

    def _forget_thread(self, thread_id: str) -> None:
        """Called when a thread's finish time is dropped (thread retention)."""

    # ---- events ------------------------------------------------------------------------------
    async def event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        ev = self._events.setdefault(run_id, _Events())
        ev.seq += 1
        ev.items.append((ev.seq, kind, data))
        async with self._evented:
            self._evented.notify_all()

    def _after(self, run_id: str, seq: int, count: int) -> list[tuple[str, str, dict[str, Any]]]:
        ev = self._events.get(run_id)
        if ev is None:
            return []
        return [(f"{n}-0", kind, data) for n, kind, data in ev.items if n > seq][:count]

    async def read_events(
        self, run_id: str, after: str = "0", block_ms: int = 1000, count: int = 100
    ) -> list[tuple[str, str, dict[str, Any]]]:
        seq = _event_seq(after)
        out = self._after(run_id, seq, count)
        if out or block_ms <= 0:
            return out
        async with self._evented:
            try:
                await asyncio.wait_for(
                    self._evented.wait_for(lambda: bool(self._after(run_id, seq, 1))), block_ms / 1000
                )
            except TimeoutError:
                return []
        return self._after(run_id, seq, count)

    # ---- queue -------------------------------------------------------------------------------
    async def ensure_group(self) -> None:
        return None

    async def _push(self, run_id: str) -> None:
        self._entry_seq += 1
        self._queue.append((f"{self._entry_seq}-0", run_id))
        async with self._queued:
            self._queued.notify_all()

    async def enqueue(self, run_id: str) -> None:
        await self.update(run_id, status="queued")
        await self._push(run_id)

    async def take(self, consumer: str, count: int, block_ms: int) -> list[tuple[str, str]]:
        if not self._queue and block_ms > 0:
            async with self._queued:
                try:
                    await asyncio.wait_for(self._queued.wait_for(lambda: bool(self._queue)), block_ms / 1000)
                except TimeoutError:
                    return []
        out: list[tuple[str, str]] = []
        while self._queue and len(out) < count:
            entry, run_id = self._queue.popleft()
            self._pending[entry] = (consumer, run_id, self._now())
            out.append((entry, run_id))
        return out

    async def reclaim(self, consumer: str, lease_ms: int, count: int) -> list[tuple[str, str]]:
        now = self._now()
        out: list[tuple[str, str]] = []
        for entry, (_, run_id, touched) in list(self._pending.items()):
            if len(out) == count:
                break
            if (now - touched) * 1000 >= lease_ms:
                self._pending[entry] = (consumer, run_id, now)
                out.append((entry, run_id))
        return out

    async def heartbeat(self, consumer: str, entry_ids: list[str]) -> set[str]:
        now = self._now()
        owned = set()
        for entry in entry_ids:
            held = self._pending.get(entry)
            if held is not None and held[0] == consumer:
                self._pending[entry] = (consumer, held[1], now)
                owned.add(entry)
        return owned

    async def ack(self, entry_id: str) -> None:
        self._pending.pop(entry_id, None)
