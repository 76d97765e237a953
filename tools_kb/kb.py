"""``ToolKB``: the tool knowledge base a process holds — catalog store + in-memory index.

Use it as an async context manager (enter loads the catalog and builds the index). Writes go to
the store and bump the catalog version; any replica whose ``refresh()`` sees a new version
rebuilds its index (only new or changed documents are embedded again) and swaps it in
atomically, so searches in flight finish on the snapshot they started with. Run
``refresh_loop()`` in the lifespan's task group to follow writes made by other replicas.

``search`` is the retrieval API other packages call (agents' ``search_tools``, the gateway's
tool selection and /v1/tools/search). With :meth:`ToolKB.configure_llm` it runs through the
language-model stages of :mod:`tools_kb.search_pipeline` (decomposition, rerank);
``search_plain`` is always the index alone.

``extras`` (optional, e.g. :class:`tools_kb.learned_examples.LearnedExamples`): more texts per
tool, indexed as extra dense rows and BM25 text. When only they change (not the catalog), the
index is rebuilt at most every ``extras_interval_s`` and keeps its tuned fusion.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from core.embedders.background import BackgroundEmbedder
from core.embedding import Embedder
from tools_kb.catalog import CatalogStore
from tools_kb.extras import ExtrasSource
from tools_kb.fusion import Fusion
from tools_kb.index import SearchHit, ToolIndex
from tools_kb.llm_stages import LLMStages
from tools_kb.memo_embedder import MemoEmbedder
from tools_kb.search_options import SearchOptions
from tools_kb.search_pipeline import AugmentedSearch, PipelineSettings
from tools_kb.tool import Tool

log = logging.getLogger(__name__)


class _PlainSearch:
    def __init__(self, kb: ToolKB) -> None:
        self._kb = kb

    async def search(
        self, query: str, k: int = 5, tenant: str | None = None, *, adaptive: bool = False
    ) -> list[SearchHit]:
        return await self._kb.search_plain(query, k, tenant, adaptive=adaptive)


class ToolKB:
    def __init__(
        self,
        store: CatalogStore,
        embedder: Embedder,
        *,
        fusion: Fusion | None = None,
        refresh_interval_s: float = 2.0,
        extras: ExtrasSource | None = None,
        extras_interval_s: float = 30.0,
    ) -> None:
        self._store = store
        self._embedder = embedder  # queries: the shared (cached, batching) embedder
        # builds: every text once, as background work that yields to requests on the shared
        # compute thread (core.embedders.background)
        self._docs_embedder = MemoEmbedder(BackgroundEmbedder(embedder))
        self._fixed_fusion = fusion
        self._interval = refresh_interval_s
        self._index: ToolIndex | None = None
        self._version = -1
        self._extras = extras
        self._extras_interval = extras_interval_s
        self._extras_version = 0
        self._extras_built_at = -float("inf")
        self._augmented: AugmentedSearch | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> ToolKB:
        await self.refresh()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._store.aclose()

    @property
    def version(self) -> int:
        return self._version

    @property
    def index(self) -> ToolIndex:
        if self._index is None:
            raise RuntimeError("ToolKB used before it was entered")
        return self._index

    async def _stale(self) -> bool:
        if self._index is None or await self._store.version() != self._version:
            return True
        if self._extras is None:
            return False
        loop = asyncio.get_running_loop()
        if loop.time() - self._extras_built_at < self._extras_interval:
            return False
        return await self._extras.version() != self._extras_version

    async def refresh(self, *, force: bool = False) -> bool:
        """Rebuild when the stored version (or, at most every ``extras_interval_s``, the extras'
        version) differs from the one indexed; True when rebuilt."""
        if not force and not await self._stale():
            return False
        async with self._lock:
            if not force and not await self._stale():
                return False
            version, tools = await self._store.load()
            # the version before the texts it covers: a text added meanwhile moves it again, so
            # the next refresh rebuilds (at worst once too often, never a text left out)
            extras_version = await self._extras.version() if self._extras is not None else 0
            extras = dict(await self._extras.load()) if self._extras is not None else {}
            if self._extras is not None:
                gone = self._gone(tools, extras)
                if gone:  # their texts go with them: a new tool of that name starts clean
                    await self._extras.forget(sorted(gone))
                    extras = {name: texts for name, texts in extras.items() if name not in gone}
            fusion, tuning = self._fixed_fusion, None
            if fusion is None and self._index is not None and version == self._version:
                # only the extras changed: keep the tuned fusion and decomposition level
                tuning = self._index.tuning
                fusion = self._index.fusion if tuning is None else None
            index = await ToolIndex.build(
                tools,
                self._docs_embedder,
                fusion=fusion,
                query_embedder=self._embedder,
                extras=extras or None,
                tuning=tuning,
            )
            if tuning is None:  # not after an extras-only rebuild: the next tuning needs its texts
                self._docs_embedder.forget_unused()
            self._index, self._version = index, version
            self._extras_version = extras_version
            self._extras_built_at = asyncio.get_running_loop().time()
            log.info("tool index v%d: %d tools, fusion %s", version, len(index), index.fusion.describe())
            return True

    def _gone(self, tools: Sequence[Tool], extras: Mapping[str, Sequence[str]]) -> set[str]:
        """Tools whose extra texts must be forgotten: those this replica saw leave the catalog,
        and, when the catalog holds tools, any with texts that it does not hold (removed while no
        replica ran, or between two polls). An empty catalog is one not seeded yet: it forgets
        nothing it did not see go."""
        names = {t.name for t in tools}
        gone = {t.name for t in self._index.tools} - names if self._index is not None else set()
        if names:
            gone |= set(extras) - names
        return gone

    async def refresh_loop(self) -> None:
        """Poll the store's version forever (cancel to stop); store errors are logged, not raised."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.refresh()
            except Exception:  # keep serving the last good index
                log.exception("tool catalog refresh failed")

    async def tools(self) -> list[Tool]:
        return list(self.index.tools)

    async def upsert(self, tools: Sequence[Tool]) -> int:
        """Store (insert or replace by name), then rebuild this replica's index."""
        names = [t.name for t in tools]
        if len(set(names)) != len(names):
            from tools_kb.tool import ToolValidationError

            dupe = next(n for n in names if names.count(n) > 1)
            raise ToolValidationError(dupe, "name", "appears twice in one upsert")
        version = await self._store.upsert(tools)
        await self.refresh()
        return version

    async def remove(self, names: Iterable[str]) -> int:
        version = await self._store.remove(names)
        await self.refresh()
        return version

    def configure_llm(self, llm: LLMStages | None, settings: PipelineSettings | None = None) -> None:
        """Run searches through ``llm``'s stages from now on (None: the index alone)."""
        self._augmented = None if llm is None else AugmentedSearch(_PlainSearch(self), llm, settings)

    @property
    def llm_stages(self) -> tuple[str, ...]:
        return self._augmented.stages if self._augmented is not None else ()

    async def search(
        self, query: str, k: int = 5, tenant: str | None = None, *, adaptive: bool = False
    ) -> list[SearchHit]:
        """Top ``k`` tools for ``query`` visible to ``tenant``. ``adaptive`` cuts the list where
        scores drop below 60% of the best (at least one hit)."""
        if self._augmented is not None:
            return await self._augmented.search(query, k, tenant, adaptive=adaptive)
        return await self.search_plain(query, k, tenant, adaptive=adaptive)

    async def search_plain(
        self, query: str, k: int = 5, tenant: str | None = None, *, adaptive: bool = False
    ) -> list[SearchHit]:
        """:meth:`search` without the language-model stages."""
        options = SearchOptions(min_score_ratio=0.6 if adaptive else None)
        return await self.index.search(query, k, tenant, options)


def open_tool_kb(
    embedder: Embedder,
    *,
    redis_url: str | None,
    sqlite_path: str = "var/tools_kb/catalog.sqlite",
    refresh_interval_s: float = 2.0,
    extras: ExtrasSource | None = None,
    extras_interval_s: float = 30.0,
) -> ToolKB:
    """The KB a gateway process uses: Redis-backed when a URL is set (replicas follow each
    other's writes through ``refresh_loop``), else the embedded SQLite file. Enter it in the
    lifespan, then ``await seed_if_empty(kb, Path("config/tools"))``."""
    from tools_kb.catalog import open_catalog_store

    return ToolKB(
        open_catalog_store(redis_url, sqlite_path),
        embedder,
        refresh_interval_s=refresh_interval_s,
        extras=extras,
        extras_interval_s=extras_interval_s,
    )


async def seed_if_empty(kb: ToolKB, folder: str | Path) -> int:
    """Load config/tools/ into an empty catalog (first start); returns how many were stored.
    Raises core.errors.ConfigError (file:line: tool: field) when a file is invalid."""
    from tools_kb.loaders import load_tools_dir

    if kb.version > 0 or len(kb.index) > 0:
        return 0
    tools = await asyncio.to_thread(lambda: load_tools_dir(folder) if Path(folder).is_dir() else [])
    # Read the stored catalog again right before writing, not this replica's last look at it:
    # another replica (or `switchboard tools add`) may have written it since. (Two writes that
    # land between this read and the upsert can still meet; the store has no conditional write.)
    await kb.refresh()
    if not tools or kb.version > 0 or len(kb.index) > 0:
        return 0
    await kb.upsert(tools)
    return len(tools)
