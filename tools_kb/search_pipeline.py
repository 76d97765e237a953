"""Tool search with the optional language-model stages around the index.

:class:`AugmentedSearch` has the same ``search`` signature as :class:`tools_kb.kb.ToolKB` (the
:class:`ToolSearcher` protocol), so the gateway hands it to every caller of the KB — the search
API, tool selection on the chat path and the agents' ``search_tools`` — when a model is
configured for retrieval. Without stages it is a plain pass-through.

Order: (1) LLM decomposition into sub-queries; with two or more, each is searched on its own and
the lists are interleaved round-robin (first hit of every intent, then the second …, duplicates
dropped), so every intent is represented; with one, the index's own clause splitting applies.
(2) LLM rerank of the top ``rerank_depth`` candidates. (3) Cut to ``k``. Adaptive k (score
threshold) applies to the index's list only when there is no rerank, since a reranked list has
no monotone score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tools_kb.index import SearchHit
from tools_kb.llm_stages import LLMStages


class ToolSearcher(Protocol):
    async def search(
        self, query: str, k: int = 5, tenant: str | None = None, *, adaptive: bool = False
    ) -> list[SearchHit]: ...


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    decompose: bool = True
    rerank: bool = True
    rerank_depth: int = 20  # candidates shown to the model


def interleave(lists: Sequence[Sequence[SearchHit]]) -> list[SearchHit]:
    """Round-robin over ``lists`` (rank 1 of each, then rank 2 …), first occurrence kept."""
    out: list[SearchHit] = []
    seen: set[str] = set()
    for rank in range(max((len(hits) for hits in lists), default=0)):
        for hits in lists:
            if rank < len(hits) and hits[rank].name not in seen:
                seen.add(hits[rank].name)
                out.append(hits[rank])
    return out


class AugmentedSearch:
    """``base`` (a ToolKB) plus the stages of ``llm`` that ``settings`` turn on."""

    def __init__(
        self, base: ToolSearcher, llm: LLMStages | None, settings: PipelineSettings | None = None
    ) -> None:
        self._base = base
        self._llm = llm
        self._settings = settings or PipelineSettings()

    @property
    def stages(self) -> tuple[str, ...]:
        """The language-model stages that run (for logs, headers and the dashboard)."""
        if self._llm is None:
            return ()
        s = self._settings
        return tuple(name for name, on in (("decompose", s.decompose), ("rerank", s.rerank)) if on)

    async def search(
        self, query: str, k: int = 5, tenant: str | None = None, *, adaptive: bool = False
    ) -> list[SearchHit]:
        llm, s = self._llm, self._settings
        if llm is None or not (s.decompose or s.rerank):
            return await self._base.search(query, k, tenant, adaptive=adaptive)
        depth = max(k, s.rerank_depth) if s.rerank else k
        queries = await llm.decompose(query) if s.decompose else [query]
        if len(queries) > 1:
            hits = interleave([await self._base.search(q, depth, tenant) for q in queries])
        else:
            hits = await self._base.search(query, depth, tenant, adaptive=adaptive and not s.rerank)
        if s.rerank and len(hits) > 1:
            order = await llm.rerank(query, [h.tool for h in hits])
            hits = [hits[i] for i in order]
        return hits[:k]
