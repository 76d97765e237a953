"""Thread retention: delete the checkpoints and tool-ledger entries of threads gone quiet.

A thread is expired when its newest run finished at or before the cutoff (``now - retention_s``,
the same setting as run retention) and it has no unfinished run (queued, waiting, running,
suspended). Its checkpoints (every namespace, with their pending writes and channel blobs) and
the tool-ledger entries claimed on it are deleted; a later run on the same thread id starts a
fresh conversation. Threads with an unfinished run are never touched, however old.

Where the newest finish time comes from: the run stores record it at completion (Redis: ZSET
``{agents}:threads:finished``, see agents.runs; embedded: ``MemoryRunStore`` / SQLite table
``agent_threads``, see agents.sqlite_runs). A thread found busy is dropped from that index: its
unfinished run's completion records it again.

Races with a run that starts on the thread while it is pruned:

* Redis: one Lua script per batch re-checks each thread (its active run's status, its waiting
  list) and deletes its keys in the same atomic step. Submission (agents.runs ``_SUBMIT``) is a
  script too, and a run only writes checkpoints or claims ledger entries after it was submitted,
  so a new run either comes before (the thread is busy: kept) or after (it starts fresh).
* Embedded (one process, one event loop): for each batch, the busy checks and the ledger
  deletions run without yielding, and the checkpoint delete starts right after: on SQLite it
  takes AsyncSqliteSaver's lock (FIFO, held by every checkpoint read and write) before its first
  await, so a run submitted meanwhile reads the thread only after it is gone (it starts fresh);
  InMemorySaver is cleared without yielding. A thread's finish time is dropped afterwards only
  if no run finished on it meanwhile.

The one window left: a worker still executing a run that was completed elsewhere (cancelled while
running stops at its next step boundary) could write a checkpoint after the prune deleted the
thread, if that step outlasted the whole retention; the orphan checkpoint is then deleted with the
thread's next expiry, or stays if the thread never runs again.

On Redis, threads whose runs all finished before this index existed are filled in once (the
first prune of a ``RedisThreadPruner`` on a Redis without the flag ``{agents}:threads:backfilled``):
each thread in the checkpointer's thread set without a finish time gets the time of its newest
root checkpoint (langgraph's checkpoint ids are UUIDv6, time-ordered with the time inside), added
with ZADD NX so a real finish time always wins; a thread with an unfinished run is then dropped
by the busy check as usual. Ledger entries claimed without a thread id are never pruned (the
Redis ledger's own TTL still applies to them).
"""

from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from redis.exceptions import RedisError

from agents.checkpoint.redis_saver import RedisSaver
from agents.memory_runs import MemoryRunStore
from agents.runs import RunStore
from agents.tools.ledger import RedisToolLedger
from core.errors import StoreUnavailableError

# KEYS[1] the finish-time ZSET. ARGV: cutoff, run-store prefix ("agents:"), checkpoint prefix
# ("cp"), ledger thread-set prefix ("toolcall-threads:"), max threads, key budget.
# q() is Python's urllib.parse.quote(s, safe="") byte for byte (agents.checkpoint.redis_saver).
_PRUNE_THREADS = """
local function q(s)
  return (string.gsub(s, '[^%w%-%._~]', function(c) return string.format('%%%02X', string.byte(c)) end))
end
local threads = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[5]))
local budget = tonumber(ARGV[6])
local examined, pruned, deleted = 0, 0, 0
for _, t in ipairs(threads) do
  examined = examined + 1
  local busy = false
  local active = redis.call('GET', ARGV[2] .. 'thread:' .. t .. ':active')
  if active then
    local st = redis.call('HGET', ARGV[2] .. 'run:' .. active, 'status')
    busy = st and st ~= 'succeeded' and st ~= 'failed' and st ~= 'cancelled'
  end
  if not busy and redis.call('LLEN', ARGV[2] .. 'thread:' .. t .. ':waiting') > 0 then busy = true end
  if not busy then
    local qt = ARGV[3] .. ':' .. q(t)
    local keys = {qt .. ':nss'}
    for _, ns in ipairs(redis.call('SMEMBERS', qt .. ':nss')) do
      local base = qt .. '|' .. q(ns)
      keys[#keys + 1] = base .. ':ids'
      keys[#keys + 1] = base .. ':blobs'
      for _, cid in ipairs(redis.call('ZRANGE', base .. ':ids', 0, -1)) do
        keys[#keys + 1] = base .. ':c:' .. cid
        keys[#keys + 1] = base .. ':w:' .. cid
      end
    end
    local ledger = ARGV[4] .. t
    for _, k in ipairs(redis.call('SMEMBERS', ledger)) do keys[#keys + 1] = k end
    keys[#keys + 1] = ledger
    for i = 1, #keys, 500 do
      deleted = deleted + redis.call('UNLINK', unpack(keys, i, math.min(i + 499, #keys)))
    end
    redis.call('SREM', ARGV[3] .. ':threads', t)
    pruned = pruned + 1
    budget = budget - #keys
  end
  redis.call('ZREM', KEYS[1], t)
  if budget <= 0 then break end
end
local more = 0
if examined == tonumber(ARGV[5]) or budget <= 0 then more = 1 end
return {pruned, deleted, more}
"""


@dataclass
class ThreadPruneResult:
    threads: int = 0  # threads whose checkpoints and ledger entries were deleted
    keys: int = 0  # Redis keys unlinked / embedded ledger rows deleted
    calls: int = 0  # Redis script calls (each one atomic)


class ThreadPruner(Protocol):
    async def prune(self, before: float) -> ThreadPruneResult:
        """Delete the checkpoints and ledger entries of the threads whose newest run finished
        at or before wall time ``before`` and that have no unfinished run."""
        ...


class RedisThreadPruner:
    """Thread retention on Redis. ``client`` is a redis.asyncio.Redis (bytes replies); the
    prefixes must be those of the ``RunStore``, ``RedisSaver`` and ``RedisToolLedger`` in use.
    Each script call looks at up to ``batch`` threads and stops after the thread that took it
    past ``key_budget`` unlinked keys, so one call blocks Redis for a few ms (a single thread is
    always deleted in one call, however many checkpoints it has)."""

    def __init__(
        self,
        client: Any,
        *,
        runs_prefix: str = "agents:",
        checkpoint_prefix: str = "cp",
        ledger_thread_prefix: str = "toolcall-threads:",
        batch: int = 100,
        key_budget: int = 2_000,
    ) -> None:
        self._r = client
        self._script = client.register_script(_PRUNE_THREADS)
        self._index = f"{runs_prefix}threads:finished"
        self._flag = f"{runs_prefix}threads:backfilled"
        self._cp = checkpoint_prefix
        self._args = [runs_prefix, checkpoint_prefix, ledger_thread_prefix, batch, key_budget]
        self._backfilled = False

    @classmethod
    def of(cls, store: RunStore, saver: RedisSaver, ledger: RedisToolLedger) -> RedisThreadPruner:
        """The pruner for these parts (their client and key prefixes)."""
        return cls(
            store.r,
            runs_prefix=store.p,
            checkpoint_prefix=saver.prefix,
            ledger_thread_prefix=ledger.thread_prefix,
        )

    async def backfill(self) -> int:
        """Give the threads that have checkpoints but no finish time the time of their newest
        root checkpoint (see the module doc); once per Redis. Returns how many were added."""
        if await self._r.exists(self._flag):
            return 0
        added, cursor = 0, 0
        while True:
            cursor, members = await self._r.sscan(f"{self._cp}:threads", cursor, count=500)
            threads = [m.decode() for m in members]
            if threads:
                async with self._r.pipeline(transaction=False) as pipe:
                    for t in threads:
                        pipe.zrange(f"{self._cp}:{quote(t, safe='')}|:ids", -1, -1)
                    newest = await pipe.execute()
                times = {t: _uuid6_time(ids[0]) for t, ids in zip(threads, newest, strict=True) if ids}
                found = {t: at for t, at in times.items() if at is not None}
                if found:
                    added += int(await self._r.zadd(self._index, found, nx=True))
            if int(cursor) == 0:
                break
        await self._r.set(self._flag, b"1")
        return added

    async def prune(self, before: float) -> ThreadPruneResult:
        out = ThreadPruneResult()
        try:
            if not self._backfilled:
                await self.backfill()
                self._backfilled = True
            while True:
                pruned, deleted, more = await self._script(
                    keys=[self._index], args=[repr(before), *self._args]
                )
                out.threads += int(pruned)
                out.keys += int(deleted)
                out.calls += 1
                if not more:
                    return out
        except RedisError as exc:
            raise StoreUnavailableError("thread retention: store unavailable") from exc


def _uuid6_time(checkpoint_id: bytes) -> float | None:
    """Unix time inside a UUIDv6 checkpoint id (None if it is not one)."""
    try:
        u = uuid.UUID(checkpoint_id.decode())
    except ValueError:
        return None
    if u.version != 6:
        return None
    n = u.int
    ticks = ((n >> 96) << 28) | (((n >> 80) & 0xFFFF) << 12) | ((n >> 64) & 0x0FFF)  # 100 ns since 1582
    return (ticks - 0x01B21DD213814000) / 1e7


class LocalLedger(Protocol):
    def forget_thread(self, thread_id: str) -> int: ...


class LocalThreadPruner:
    """Thread retention for the embedded runtime: ``store`` (MemoryRunStore or SqliteRunStore),
    the langgraph ``checkpointer`` it runs with and its ``ledger`` (MemoryToolLedger or
    SqliteToolLedger). With AsyncSqliteSaver or InMemorySaver threads are deleted ``batch`` at a
    time: one SQLite transaction, or one pass over the in-memory saver's maps (its own delete
    scans them all for every thread); any other saver is checked and asked to
    ``adelete_thread`` one thread at a time."""

    def __init__(
        self, store: MemoryRunStore, checkpointer: Any, ledger: LocalLedger, *, batch: int = 500
    ) -> None:
        self._store = store
        self._cp = checkpointer
        self._ledger = ledger
        self._batch = batch

    async def prune(self, before: float) -> ThreadPruneResult:
        out = ThreadPruneResult()
        setup = getattr(self._cp, "setup", None)  # AsyncSqliteSaver creates its tables lazily
        if setup is not None and inspect.iscoroutinefunction(setup):
            await setup()
        candidates = self._store.threads_finished_by(before)
        step = self._batch if _batches(self._cp) else 1  # another saver's delete may yield midway
        for i in range(0, len(candidates), step):
            # from the checks to the start of the delete nothing yields (see the module doc)
            chosen: list[tuple[str, float]] = []
            for thread_id, finished_at in candidates[i : i + step]:
                if self._store.thread_finished_at(thread_id) != finished_at:
                    continue  # a run finished on it since the list was made: not expired any more
                if self._store.thread_busy(thread_id):
                    self._store.forget_thread(thread_id, finished_at)  # its run's completion re-adds it
                    continue
                out.keys += self._ledger.forget_thread(thread_id)
                chosen.append((thread_id, finished_at))
            await _delete_threads(self._cp, [t for t, _ in chosen])
            for thread_id, finished_at in chosen:
                self._store.forget_thread(thread_id, finished_at)
            out.threads += len(chosen)
        return out


def _batches(saver: Any) -> bool:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    return type(saver) in (InMemorySaver, AsyncSqliteSaver)


async def _delete_threads(saver: Any, thread_ids: list[str]) -> None:
    """Delete the threads' checkpoints and writes. The SQLite path takes the saver's lock before
    its first await, so it is ordered before any checkpoint access requested after the call."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if not thread_ids:
        return
    if type(saver) is InMemorySaver:
        gone = set(thread_ids)
        for t in thread_ids:
            saver.storage.pop(t, None)
        for key in [k for k in saver.writes if k[0] in gone]:
            del saver.writes[key]
        for bkey in [k for k in saver.blobs if k[0] in gone]:
            del saver.blobs[bkey]
    elif type(saver) is AsyncSqliteSaver:
        rows = [(t,) for t in thread_ids]
        async with saver.lock:
            await saver.conn.executemany("DELETE FROM checkpoints WHERE thread_id = ?", rows)
            await saver.conn.executemany("DELETE FROM writes WHERE thread_id = ?", rows)
            await saver.conn.commit()
    else:
        for t in thread_ids:
            await saver.adelete_thread(t)
