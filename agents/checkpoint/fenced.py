"""A checkpointer that refuses to write once its worker may have lost the run's lease.

A worker whose event loop stalls longer than the lease (a long GC pause, an overloaded box) can
have its run taken over by another worker while it still holds the run in memory. When it wakes
up it would finish its step and write one more checkpoint: a fork of the thread that the new owner
may then read as "latest" and finish from. :class:`FencedSaver` closes that window: every write
first asks ``held()`` — the worker's own, conservative view of its lease (see agents.worker) —
and raises :class:`LeaseLost` instead of writing. Reads pass through. The worker treats
LeaseLost as "not mine any more": it drops the run without completing or acknowledging it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)


class LeaseLost(Exception):
    """The run's lease may have passed to another worker; this worker must stop the run."""


class FencedSaver(BaseCheckpointSaver[Any]):
    """Delegates to ``inner``; writes only while ``held()`` is true."""

    def __init__(
        self, inner: BaseCheckpointSaver[Any], held: Callable[[], bool], *, what: str = "run"
    ) -> None:
        super().__init__(serde=inner.serde)
        self._inner = inner
        self._held = held
        self._what = what

    def _check(self) -> None:
        if not self._held():
            raise LeaseLost(f"{self._what}: lease may have expired; not writing its checkpoint")

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self._inner.get_next_version(current, channel)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._inner.aget_tuple(config)

    def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        return self._inner.alist(config, filter=filter, before=before, limit=limit)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        self._check()
        return await self._inner.aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self._check()
        await self._inner.aput_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self._check()
        await self._inner.adelete_thread(thread_id)
