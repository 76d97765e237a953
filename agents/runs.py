"""Run records, per-thread admission and the run queue on Redis (plain commands + Lua).

``RunStorage`` is the protocol the service and the workers use; ``RunStore`` implements it on
Redis (several processes share it) and ``agents.memory_runs.MemoryRunStore`` in-process (the
embedded single-process default, no Redis).

Keys (prefix ``p``, default ``agents``)::

    {p}:run:{id}            HASH   the run record (see RunRecord)
    {p}:runs                ZSET   every run id by created_at (the list endpoint's index)
    {p}:tenant:{t}:runs     ZSET   the tenant's run ids by created_at
    {p}:run:{id}:events     STREAM step / status events (SSE), capped at ~1000 entries
    {p}:thread:{tid}:active STRING the run that owns the thread now
    {p}:thread:{tid}:waiting LIST  runs accepted while the thread was busy (policy enqueue/interrupt)
    {p}:queue               STREAM runs ready for a worker; consumer group ``workers``
    {p}:finished            ZSET   finished run ids by the wall time they finished (retention)
    {p}:finished:tenants    HASH   finished run id → tenant (to clean the tenant's index)
    {p}:threads:finished    ZSET   thread id → wall time its newest run finished (thread retention)

A run is acknowledged on the queue only after its record reached a terminal state (or was
suspended), so a worker that dies leaves its entries pending; another worker takes them over
with XAUTOCLAIM once their lease (idle time without heartbeat) expired. Completion is a Lua
script that refuses a second completion, so a run never finishes twice.

Retention: only finished runs (succeeded, failed, cancelled) are ever forgotten. ``prune(before)``
deletes the record, events and list-index entries of the runs that finished at or before that
wall time (the agents runtime calls it periodically with ``now - retention_s``); with
``retention_s`` set, a finished run's record and events also get that TTL in Redis, so they go
even when no process prunes (the next prune then drops the index entries). Queued, waiting,
running and suspended runs never expire. Completion also records the thread's newest finish time
in ``{p}:threads:finished``, which thread retention (agents.thread_retention: checkpoints and
tool ledger) reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from redis.exceptions import RedisError, ResponseError

from core.errors import StoreUnavailableError

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
STATUSES = frozenset({"pending", "queued", "waiting", "running", "suspended", *TERMINAL})
LIST_SCAN_MAX = 5000  # list_runs looks at most this many of the newest runs when it filters

_SUBMIT = """
local active = redis.call('GET', KEYS[1])
if active then
  local st = redis.call('HGET', ARGV[3] .. 'run:' .. active, 'status')
  if st == 'succeeded' or st == 'failed' or st == 'cancelled' or not st then active = false end
end
if not active then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('HSET', ARGV[3] .. 'run:' .. ARGV[1], 'status', 'queued')
  redis.call('XADD', KEYS[3], '*', 'run_id', ARGV[1])
  return {'queued', ''}
end
if ARGV[2] == 'reject' then return {'rejected', active} end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('HSET', ARGV[3] .. 'run:' .. ARGV[1], 'status', 'waiting')
return {'waiting', active}
"""

_COMPLETE = """
local st = redis.call('HGET', KEYS[1], 'status')
local first = not (st == 'succeeded' or st == 'failed' or st == 'cancelled')
if first then
  redis.call('HSET', KEYS[1], 'status', ARGV[2], 'output', ARGV[3], 'error', ARGV[4], 'updated_at', ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'completions', 1)
  redis.call('ZADD', ARGV[6] .. 'finished', ARGV[5], ARGV[1])
  redis.call('HSET', ARGV[6] .. 'finished:tenants', ARGV[1], redis.call('HGET', KEYS[1], 'tenant') or '')
  redis.call('ZADD', ARGV[6] .. 'threads:finished', ARGV[5], ARGV[8])
  if tonumber(ARGV[7]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[7]) end
end
-- hand the thread on (also when the run had been completed elsewhere, e.g. cancelled while queued)
if redis.call('GET', KEYS[2]) == ARGV[1] then
  local nxt = redis.call('LPOP', KEYS[3])
  if nxt then
    redis.call('SET', KEYS[2], nxt)
    redis.call('HSET', ARGV[6] .. 'run:' .. nxt, 'status', 'queued')
    redis.call('XADD', KEYS[4], '*', 'run_id', nxt)
  else
    redis.call('DEL', KEYS[2])
  end
end
if first then return 1 end
return 0
"""

_PRUNE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  local rec = ARGV[2] .. 'run:' .. id
  local st = redis.call('HGET', rec, 'status')
  if not st or st == 'succeeded' or st == 'failed' or st == 'cancelled' then
    local tenant = redis.call('HGET', KEYS[2], id)
    redis.call('DEL', rec, rec .. ':events')
    redis.call('ZREM', KEYS[3], id)
    if tenant then redis.call('ZREM', ARGV[2] .. 'tenant:' .. tenant .. ':runs', id) end
  end
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return #ids
"""
PRUNE_BATCH = 500


@dataclass
class RunRecord:
    """A run as stored. ``deadline_at`` is wall-clock seconds (None: no deadline)."""

    run_id: str
    agent: str
    thread_id: str
    input: str
    tenant: str = "default"
    priority: str = "normal"
    deadline_at: float | None = None
    status: str = "pending"
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    output: str = ""
    error: str = ""
    created_at: float = field(default_factory=time.time)
    updated_at: float = 0.0
    completions: int = 0
    owner: str = ""
    cancel_requested: int = 0
    suspend_requested: int = 0
    key_id: str = ""  # the virtual key that created the run (its spend is charged); not public

    @property
    def public_thread_id(self) -> str:
        """The caller's thread id. The service stores threads as ``{tenant}/{id}`` so that a
        tenant can never continue, interrupt or read another tenant's thread."""
        prefix = f"{self.tenant}/"
        return self.thread_id[len(prefix) :] if self.thread_id.startswith(prefix) else self.thread_id

    def to_public(self) -> dict[str, Any]:
        d = asdict(self)
        d["thread_id"] = self.public_thread_id
        d["usage"] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        for k in (
            "prompt_tokens",
            "completion_tokens",
            "completions",
            "owner",
            "cancel_requested",
            "suspend_requested",
            "key_id",
        ):
            d.pop(k)
        return d


_INT = {"steps", "prompt_tokens", "completion_tokens", "completions", "cancel_requested", "suspend_requested"}
_FLOAT = {"cost_usd", "created_at", "updated_at"}


def _decode(raw: dict[bytes, bytes]) -> RunRecord:
    d: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    for k in _INT & d.keys():
        d[k] = int(d[k])
    for k in _FLOAT & d.keys():
        d[k] = float(d[k])
    d["deadline_at"] = float(d["deadline_at"]) if d.get("deadline_at") else None
    known = RunRecord.__dataclass_fields__.keys()
    return RunRecord(**{k: v for k, v in d.items() if k in known})


class RunStorage(Protocol):
    """Run records, per-thread admission, events and the run queue (Redis or in-process).

    Queue semantics (both implementations): ``take`` hands a new entry to one consumer; the
    entry stays pending, owned by that consumer, until ``ack``; ``heartbeat`` renews the lease
    of owned entries; ``reclaim`` hands entries idle longer than the lease to another consumer.
    ``take`` and ``read_events`` wait up to ``block_ms`` (≥ 1: Redis reads 0 as "forever")
    for something to arrive.
    Failures of the backing store raise ``core.errors.StoreUnavailableError``."""

    async def create(self, rec: RunRecord, policy: str) -> tuple[str, str]: ...

    async def get(self, run_id: str) -> RunRecord | None: ...

    async def update(self, run_id: str, **fields: Any) -> None: ...

    async def add_usage(
        self, run_id: str, steps: int, prompt: int, completion: int, cost_usd: float = 0.0
    ) -> float: ...

    async def complete(
        self, rec_id: str, thread_id: str, status: str, output: str = "", error: str = ""
    ) -> bool: ...

    async def remove_waiting(self, thread_id: str, run_id: str) -> None: ...

    async def list_runs(
        self,
        *,
        tenant: str | None = None,
        agent: str | None = None,
        status: str | None = None,
        limit: int = 20,
    ) -> tuple[list[RunRecord], bool]: ...

    async def event(self, run_id: str, kind: str, data: dict[str, Any]) -> None: ...

    async def read_events(
        self, run_id: str, after: str = "0", block_ms: int = 1000, count: int = 100
    ) -> list[tuple[str, str, dict[str, Any]]]: ...

    async def ensure_group(self) -> None: ...

    async def enqueue(self, run_id: str) -> None: ...

    async def take(self, consumer: str, count: int, block_ms: int) -> list[tuple[str, str]]: ...

    async def reclaim(self, consumer: str, lease_ms: int, count: int) -> list[tuple[str, str]]: ...

    async def heartbeat(self, consumer: str, entry_ids: list[str]) -> set[str]: ...

    async def ack(self, entry_id: str) -> None: ...

    async def prune(self, before: float) -> int:
        """Forget the finished runs that finished at or before wall time ``before`` (record,
        events, list entries); returns how many. Unfinished runs are never touched."""
        ...


def matches(rec: RunRecord, agent: str | None, status: str | None) -> bool:
    """The list endpoint's filters (None: any)."""
    return (agent is None or rec.agent == agent) and (status is None or rec.status == status)


def done_event(rec: RunRecord | None, status: str, output: str, error: str) -> dict[str, Any]:
    """The ``done`` event's data: the outcome plus the run's final steps, usage and cost."""
    data: dict[str, Any] = {"status": status, "output": output, "error": error}
    if rec is not None:
        data.update(steps=rec.steps, usage=rec.to_public()["usage"], cost_usd=rec.cost_usd)
    return data


class RunStore:
    """Run records, events and the queue. ``client``: redis.asyncio.Redis (bytes replies);
    the caller owns it. Every Redis failure raises StoreUnavailableError."""

    GROUP = "workers"

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "agents",
        wall: Callable[[], float] = time.time,
        retention_s: float | None = None,
    ) -> None:
        self.r = client
        self.p = prefix + ":"
        self.queue_key = f"{self.p}queue"
        self._wall = wall
        self.retention_s = retention_s  # TTL of a finished run's record and events (None: none)
        self._submit = client.register_script(_SUBMIT)
        self._complete = client.register_script(_COMPLETE)
        self._prune = client.register_script(_PRUNE)

    def key(self, run_id: str) -> str:
        return f"{self.p}run:{run_id}"

    def _thread(self, thread_id: str) -> tuple[str, str]:
        return f"{self.p}thread:{thread_id}:active", f"{self.p}thread:{thread_id}:waiting"

    def _index(self, tenant: str | None) -> str:
        return f"{self.p}runs" if tenant is None else f"{self.p}tenant:{tenant}:runs"

    # ---- records ---------------------------------------------------------------------------
    async def create(self, rec: RunRecord, policy: str) -> tuple[str, str]:
        """Store ``rec`` and admit it to its thread: returns (outcome, active_run) where outcome is
        ``queued`` (owns the thread, on the queue), ``waiting`` (behind ``active_run``) or
        ``rejected`` (policy reject and the thread is busy; the record is deleted)."""
        fields = {k: ("" if v is None else str(v)) for k, v in asdict(rec).items()}
        try:
            async with self.r.pipeline(transaction=True) as pipe:
                pipe.hset(self.key(rec.run_id), mapping=fields)
                pipe.zadd(self._index(None), {rec.run_id: rec.created_at})
                pipe.zadd(self._index(rec.tenant), {rec.run_id: rec.created_at})
                await pipe.execute()
            active, waiting = self._thread(rec.thread_id)
            outcome, other = await self._submit(
                keys=[active, waiting, self.queue_key], args=[rec.run_id, policy, self.p]
            )
            if outcome == b"rejected":
                async with self.r.pipeline(transaction=True) as pipe:
                    pipe.delete(self.key(rec.run_id))
                    pipe.zrem(self._index(None), rec.run_id)
                    pipe.zrem(self._index(rec.tenant), rec.run_id)
                    await pipe.execute()
            return outcome.decode(), other.decode()
        except RedisError as exc:
            raise StoreUnavailableError("run store unavailable") from exc

    async def get(self, run_id: str) -> RunRecord | None:
        try:
            raw = await self.r.hgetall(self.key(run_id))
        except RedisError as exc:
            raise StoreUnavailableError("run store unavailable") from exc
        return _decode(raw) if raw else None

    async def update(self, run_id: str, **fields: Any) -> None:
        try:
            await self.r.hset(self.key(run_id), mapping={k: str(v) for k, v in fields.items()})
        except RedisError as exc:
            raise StoreUnavailableError("run store unavailable") from exc

    async def add_usage(
        self, run_id: str, steps: int, prompt: int, completion: int, cost_usd: float = 0.0
    ) -> float:
        """Add one step's counts and cost; returns the run's total cost so far."""
        try:
            async with self.r.pipeline(transaction=True) as pipe:
                pipe.hincrby(self.key(run_id), "steps", steps)
                pipe.hincrby(self.key(run_id), "prompt_tokens", prompt)
                pipe.hincrby(self.key(run_id), "completion_tokens", completion)
                pipe.hincrbyfloat(self.key(run_id), "cost_usd", cost_usd)
                pipe.hset(self.key(run_id), "updated_at", str(self._wall()))
                res = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError("run store unavailable") from exc
        return float(res[3])

    async def remove_waiting(self, thread_id: str, run_id: str) -> None:
        try:
            await self.r.lrem(self._thread(thread_id)[1], 0, run_id)
        except RedisError as exc:
            raise StoreUnavailableError("run store unavailable") from exc

    async def list_runs(
        self,
        *,
        tenant: str | None = None,
        agent: str | None = None,
        status: str | None = None,
        limit: int = 20,
    ) -> tuple[list[RunRecord], bool]:
        """Newest first: up to ``limit`` runs of ``tenant`` (None: every tenant) that match the
        filters, and whether more match (records without ``input``). With filters, only the
        newest LIST_SCAN_MAX runs are looked at."""
        found: list[RunRecord] = []
        start, page = 0, limit + 1  # unfiltered, one page answers; filtered pages grow ×4
        fields = [f for f in RunRecord.__dataclass_fields__ if f != "input"]  # input can be 200k chars
        try:
            while start < LIST_SCAN_MAX:
                ids = await self.r.zrevrange(self._index(tenant), start, start + page - 1)
                if not ids:
                    break
                async with self.r.pipeline(transaction=False) as pipe:
                    for rid in ids:
                        pipe.hmget(self.key(rid.decode()), fields)
                    rows = await pipe.execute()
                for row in rows:
                    if row[0] is None:  # run_id: the record is gone
                        continue
                    raw = {k.encode(): v for k, v in zip(fields, row, strict=True) if v is not None}
                    if matches(rec := _decode({b"input": b"", **raw}), agent, status):
                        found.append(rec)
                        if len(found) > limit:
                            return found[:limit], True
                if len(ids) < page:
                    break
                start, page = start + page, min(4 * page, 1000)
        except RedisError as exc:
            raise StoreUnavailableError("run store unavailable") from exc
        return found, False

    async def complete(
        self, rec_id: str, thread_id: str, status: str, output: str = "", error: str = ""
    ) -> bool:
        """Move the run to a terminal ``status`` and hand its thread to the next waiting run;
        False when it had already completed (nothing changes)."""
        active, waiting = self._thread(thread_id)
        ttl = int(self.retention_s) if self.retention_s else 0
        try:
            done = await self._complete(
                keys=[self.key(rec_id), active, waiting, self.queue_key],
                args=[rec_id, status, output, error, repr(self._wall()), self.p, max(ttl, 0), thread_id],
            )
        except RedisError as exc:
            raise StoreUnavailableError("run store unavailable") from exc
        if done:
            data = done_event(await self.get(rec_id), status, output, error)
            if ttl <= 0:
                await self.event(rec_id, "done", data)
                return True
            try:  # the done event and the events' TTL in one round trip
                async with self.r.pipeline(transaction=False) as pipe:
                    self._xadd(pipe, rec_id, "done", data)
                    pipe.expire(f"{self.key(rec_id)}:events", ttl)
                    await pipe.execute()
            except RedisError as exc:
                raise StoreUnavailableError("run store unavailable") from exc
        return bool(done)

    async def prune(self, before: float) -> int:
        """Forget the runs that finished at or before wall time ``before`` (see the module doc)."""
        total = 0
        keys = [f"{self.p}finished", f"{self.p}finished:tenants", self._index(None)]
        try:
            while True:
                n = int(await self._prune(keys=keys, args=[repr(before), self.p, PRUNE_BATCH]))
                total += n
                if n < PRUNE_BATCH:
                    return total
        except RedisError as exc:
            raise StoreUnavailableError("run store unavailable") from exc

    # ---- events ------------------------------------------------------------------------------
    def _xadd(self, client: Any, run_id: str, kind: str, data: dict[str, Any]) -> Any:
        return client.xadd(
            f"{self.key(run_id)}:events",
            {"type": kind, "data": json.dumps(data)},
            maxlen=1000,
            approximate=True,
        )

    async def event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        try:
            await self._xadd(self.r, run_id, kind, data)
        except RedisError as exc:
            raise StoreUnavailableError("run store unavailable") from exc

    async def read_events(
        self, run_id: str, after: str = "0", block_ms: int = 1000, count: int = 100
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """(event id, type, data) after ``after``; waits up to ``block_ms`` for the first one."""
        try:
            resp = await self.r.xread({f"{self.key(run_id)}:events": after}, count=count, block=block_ms)
        except RedisError as exc:
            raise StoreUnavailableError("run store unavailable") from exc
        out = []
        for _, entries in resp or []:
            for eid, fields in entries:
                out.append((eid.decode(), fields[b"type"].decode(), json.loads(fields[b"data"])))
        return out

    # ---- queue -------------------------------------------------------------------------------
    async def ensure_group(self) -> None:
        try:
            await self.r.xgroup_create(self.queue_key, self.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise StoreUnavailableError("run queue unavailable") from exc

    async def enqueue(self, run_id: str) -> None:
        await self.update(run_id, status="queued")
        await self.r.xadd(self.queue_key, {"run_id": run_id})

    async def take(self, consumer: str, count: int, block_ms: int) -> list[tuple[str, str]]:
        """New queue entries for ``consumer``: (entry id, run id)."""
        resp = await self.r.xreadgroup(
            self.GROUP, consumer, {self.queue_key: ">"}, count=count, block=block_ms
        )
        return [(eid.decode(), f[b"run_id"].decode()) for _, entries in resp or [] for eid, f in entries]

    async def reclaim(self, consumer: str, lease_ms: int, count: int) -> list[tuple[str, str]]:
        """Entries whose owner sent no heartbeat for ``lease_ms``: now owned by ``consumer``."""
        resp = await self.r.xautoclaim(self.queue_key, self.GROUP, consumer, lease_ms, "0-0", count=count)
        entries = resp[1]
        return [(eid.decode(), f[b"run_id"].decode()) for eid, f in entries if f]

    async def heartbeat(self, consumer: str, entry_ids: list[str]) -> set[str]:
        """Renew the lease (reset the idle time) of the entries ``consumer`` still owns; returns
        those it owns. An entry missing from the answer was taken over: stop working on it."""
        if not entry_ids:
            return set()
        pending = await self.r.xpending_range(
            self.queue_key, self.GROUP, "-", "+", 10_000, consumername=consumer
        )
        owned = {p["message_id"].decode() for p in pending} & set(entry_ids)
        if owned:
            await self.r.xclaim(self.queue_key, self.GROUP, consumer, 0, sorted(owned), justid=True)
        return owned

    async def ack(self, entry_id: str) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.xack(self.queue_key, self.GROUP, entry_id)
            pipe.xdel(self.queue_key, entry_id)
            await pipe.execute()
