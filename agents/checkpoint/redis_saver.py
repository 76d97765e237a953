"""A langgraph checkpointer on plain Redis commands (no RedisJSON / RediSearch modules).

Layout, for thread ``T`` and checkpoint namespace ``N`` (both percent-quoted so that no key is
ambiguous), under ``prefix`` (default ``cp``)::

    {p}:threads                 SET   thread ids (for list(None))
    {p}:{T}:nss                 SET   namespaces of the thread
    {p}:{T}|{N}:ids             ZSET  checkpoint ids, all score 0 → ordered by id (uuid6 = time)
    {p}:{T}|{N}:c:{id}          HASH  ctype cdata mtype mdata parent
    {p}:{T}|{N}:blobs           HASH  "{channel}\\x00{version}" → type \\x00 data
    {p}:{T}|{N}:w:{id}          HASH  "{task_id}\\x00{idx}" → path \\x00 channel \\x00 type \\x00 data

A put is one MULTI/EXEC transaction; a get of a named checkpoint is two round trips (checkpoint +
writes, then the channel blobs with one HMGET), and three for the latest one (its id first).
Redis errors surface as :class:`core.errors.StoreUnavailableError`. Thread retention
(agents.thread_retention) deletes a thread's keys from a Lua script that knows this layout.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote

import redis.asyncio as aioredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from redis.exceptions import RedisError

from core.errors import StoreUnavailableError

_SEP = b"\x00"


def _q(part: str) -> str:
    return quote(part, safe="")


class RedisSaver(BaseCheckpointSaver[str]):
    """Async-only checkpointer. The caller owns ``client`` (a ``redis.asyncio.Redis`` with
    ``decode_responses=False``) and closes it."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "cp") -> None:
        super().__init__()
        # redis-py's stubs type replies as bytes | str unions; we always run with bytes replies
        self._r: Any = client
        self._p = prefix

    @property
    def prefix(self) -> str:
        return self._p

    # ---- keys ------------------------------------------------------------------------------
    def _base(self, thread_id: str, ns: str) -> str:
        return f"{self._p}:{_q(thread_id)}|{_q(ns)}"

    def _nss_key(self, thread_id: str) -> str:
        return f"{self._p}:{_q(thread_id)}:nss"

    # ---- versions ----------------------------------------------------------------------------
    def get_next_version(self, current: str | None, channel: None) -> str:
        """Monotonic per channel; the random tail keeps forked branches from sharing a blob."""
        n = 0 if current is None else int(str(current).split(".", 1)[0])
        return f"{n + 1:032d}.{secrets.token_hex(8)}"

    # ---- writes --------------------------------------------------------------------------------
    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config["configurable"]
        thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        base = self._base(thread_id, ns)
        body: dict[str, Any] = dict(checkpoint)
        values: dict[str, Any] = body.pop("channel_values", {}) or {}
        blobs: dict[bytes, bytes] = {}
        for channel, version in new_versions.items():
            field = channel.encode() + _SEP + str(version).encode()
            if channel in values:
                t, data = self.serde.dumps_typed(values[channel])
                blobs[field] = t.encode() + _SEP + data
            else:
                blobs[field] = b"empty" + _SEP
        ctype, cdata = self.serde.dumps_typed(body)
        mtype, mdata = self.serde.dumps_typed(get_checkpoint_metadata(config, metadata))
        parent = conf.get("checkpoint_id") or ""
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                if blobs:
                    pipe.hset(f"{base}:blobs", mapping=blobs)  # type: ignore[arg-type]
                pipe.hset(
                    f"{base}:c:{checkpoint['id']}",
                    mapping={
                        "ctype": ctype,
                        "cdata": cdata,
                        "mtype": mtype,
                        "mdata": mdata,
                        "parent": parent,
                    },
                )
                pipe.zadd(f"{base}:ids", {checkpoint["id"]: 0})
                pipe.sadd(f"{self._p}:threads", thread_id)
                pipe.sadd(self._nss_key(thread_id), ns)
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError("checkpoint store unavailable") from exc
        return {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint["id"]}
        }

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        conf = config["configurable"]
        base = self._base(str(conf["thread_id"]), str(conf.get("checkpoint_ns", "")))
        key = f"{base}:w:{conf['checkpoint_id']}"
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                for idx, (channel, value) in enumerate(writes):
                    widx = WRITES_IDX_MAP.get(channel, idx)
                    t, data = self.serde.dumps_typed(value)
                    field = f"{task_id}\x00{widx}"
                    record = _SEP.join([task_path.encode(), channel.encode(), t.encode(), data])
                    if widx >= 0:  # a retried task must not overwrite what it already wrote
                        pipe.hsetnx(key, field, record)
                    else:  # special writes (error, interrupt, …) replace the previous one
                        pipe.hset(key, field, record)
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError("checkpoint store unavailable") from exc

    # ---- reads -----------------------------------------------------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = config["configurable"]
        thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        checkpoint_id = get_checkpoint_id(config)
        try:
            if not checkpoint_id:
                latest = await self._r.zrange(f"{self._base(thread_id, ns)}:ids", -1, -1)
                if not latest:
                    return None
                checkpoint_id = latest[0].decode()
            return await self._load(thread_id, ns, checkpoint_id)
        except RedisError as exc:
            raise StoreUnavailableError("checkpoint store unavailable") from exc

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        try:
            if config is not None:
                threads = [str(config["configurable"]["thread_id"])]
            else:
                threads = sorted(t.decode() for t in await self._r.smembers(f"{self._p}:threads"))
            want_ns = config["configurable"].get("checkpoint_ns") if config else None
            want_id = get_checkpoint_id(config) if config else None
            before_id = get_checkpoint_id(before) if before else None
            remaining = limit
            for thread_id in threads:
                nss = sorted(n.decode() for n in await self._r.smembers(self._nss_key(thread_id)))
                for ns in nss:
                    if want_ns is not None and ns != want_ns:
                        continue
                    hi = f"({before_id}" if before_id else "+"
                    ids = await self._r.zrevrangebylex(f"{self._base(thread_id, ns)}:ids", hi, "-")
                    for raw in ids:
                        cid = raw.decode()
                        if want_id and cid != want_id:
                            continue
                        if remaining is not None and remaining <= 0:
                            return
                        tup = await self._load(thread_id, ns, cid)
                        if tup is None:
                            continue
                        if filter and not all(tup.metadata.get(k) == v for k, v in filter.items()):
                            continue
                        if remaining is not None:
                            remaining -= 1
                        yield tup
        except RedisError as exc:
            raise StoreUnavailableError("checkpoint store unavailable") from exc

    async def _load(self, thread_id: str, ns: str, checkpoint_id: str) -> CheckpointTuple | None:
        base = self._base(thread_id, ns)
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.hgetall(f"{base}:c:{checkpoint_id}")
            pipe.hgetall(f"{base}:w:{checkpoint_id}")
            row, raw_writes = await pipe.execute()
        if not row:
            return None
        checkpoint: dict[str, Any] = self.serde.loads_typed((row[b"ctype"].decode(), row[b"cdata"]))
        metadata = self.serde.loads_typed((row[b"mtype"].decode(), row[b"mdata"]))
        versions: dict[str, Any] = checkpoint.get("channel_versions", {}) or {}
        values: dict[str, Any] = {}
        if versions:
            channels = list(versions)
            fields = [c.encode() + _SEP + str(versions[c]).encode() for c in channels]
            for channel, blob in zip(channels, await self._r.hmget(f"{base}:blobs", fields), strict=True):
                if blob is None:
                    continue
                t, _, data = blob.partition(_SEP)
                if t != b"empty":
                    values[channel] = self.serde.loads_typed((t.decode(), data))
        checkpoint["channel_values"] = values
        writes = []
        for field, record in raw_writes.items():
            task_id, _, idx = field.decode().rpartition("\x00")
            path, channel, t, data = record.split(_SEP, 3)
            writes.append(
                (
                    writes_sort_key(path.decode(), task_id, int(idx)),
                    task_id,
                    channel.decode(),
                    self.serde.loads_typed((t.decode(), data)),
                )
            )
        writes.sort(key=lambda w: w[0])
        parent = row.get(b"parent", b"").decode()
        return CheckpointTuple(
            config={
                "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}
            },
            checkpoint=checkpoint,  # type: ignore[arg-type]
            metadata=metadata,
            parent_config={
                "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": parent}
            }
            if parent
            else None,
            pending_writes=[(task_id, channel, value) for _, task_id, channel, value in writes],
        )

    # ---- deletion / copy / prune -----------------------------------------------------------------
    async def adelete_thread(self, thread_id: str) -> None:
        try:
            nss = [n.decode() for n in await self._r.smembers(self._nss_key(thread_id))]
            keys: list[str] = [self._nss_key(thread_id)]
            for ns in nss:
                base = self._base(thread_id, ns)
                ids = [i.decode() for i in await self._r.zrange(f"{base}:ids", 0, -1)]
                keys += [f"{base}:ids", f"{base}:blobs"]
                keys += [f"{base}:c:{i}" for i in ids] + [f"{base}:w:{i}" for i in ids]
            async with self._r.pipeline(transaction=True) as pipe:
                for i in range(0, len(keys), 500):
                    pipe.delete(*keys[i : i + 500])
                pipe.srem(f"{self._p}:threads", thread_id)
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError("checkpoint store unavailable") from exc

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, blob and write of one thread under another thread id."""
        try:
            for ns in [n.decode() for n in await self._r.smembers(self._nss_key(source_thread_id))]:
                src, dst = self._base(source_thread_id, ns), self._base(target_thread_id, ns)
                ids = [i.decode() for i in await self._r.zrange(f"{src}:ids", 0, -1)]
                blobs = await self._r.hgetall(f"{src}:blobs")
                async with self._r.pipeline(transaction=True) as pipe:
                    if blobs:
                        pipe.hset(f"{dst}:blobs", mapping=blobs)
                    for cid in ids:
                        row = await self._r.hgetall(f"{src}:c:{cid}")
                        if row:
                            pipe.hset(f"{dst}:c:{cid}", mapping=row)
                        writes = await self._r.hgetall(f"{src}:w:{cid}")
                        if writes:
                            pipe.hset(f"{dst}:w:{cid}", mapping=writes)
                        pipe.zadd(f"{dst}:ids", {cid: 0})
                    pipe.sadd(f"{self._p}:threads", target_thread_id)
                    pipe.sadd(self._nss_key(target_thread_id), ns)
                    await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError("checkpoint store unavailable") from exc
