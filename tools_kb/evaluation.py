"""Offline evaluation of tool retrieval on a catalog + query file (``switchboard tools eval``).

The index is built from the catalog alone (the fusion is tuned on pseudo-queries made from the
tools); queries and gold labels are read only after the index exists, to score it.
Methods: ``auto`` (the production pipeline: tuned fusion + multi-intent decomposition) and the
baselines ``dense``, ``bm25`` and ``rrf`` (whole query, no decomposition), or ``weighted:W``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.embedding import Embedder
from tools_kb.fusion import DENSE_ONLY, LEXICAL_ONLY, RRF, Fusion
from tools_kb.index import SearchOptions, ToolIndex
from tools_kb.metrics import evaluate
from tools_kb.tool import Tool

METHODS = ("auto", "dense", "bm25", "rrf")
_BATCH = 256


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    id: str
    query: str
    gold: tuple[str, ...]


def read_queries(path: Path | str) -> list[LabelledQuery]:
    """``{"id", "query", "gold": [names]}`` per line. Raises ValueError naming the line."""
    out: list[LabelledQuery] = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            gold = row["gold"]
            if isinstance(gold, str):
                gold = [gold]
            out.append(LabelledQuery(str(row.get("id", lineno)), str(row["query"]), tuple(map(str, gold))))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{lineno}: expected {{id, query, gold}}: {exc}") from exc
    return out


def method_fusion(method: str) -> Fusion | None:
    """The fixed fusion of a baseline method, or None for ``auto`` (tuned on the catalog)."""
    if method == "auto":
        return None
    if method == "dense":
        return DENSE_ONLY
    if method == "bm25":
        return LEXICAL_ONLY
    if method == "rrf":
        return RRF
    if method.startswith("weighted:"):
        return Fusion("weighted", float(method.split(":", 1)[1]), "fixed by caller")
    raise ValueError(f"unknown method {method!r}; use one of {METHODS} or weighted:W")


async def evaluate_catalog(
    tools: Sequence[Tool],
    queries: Sequence[LabelledQuery],
    embedder: Embedder,
    *,
    k: int = 5,
    method: str = "auto",
    decompose: bool | None = None,
    extras: Mapping[str, Sequence[str]] | None = None,
    build_embedder: Embedder | None = None,
) -> tuple[dict[str, float], ToolIndex]:
    """Build a fresh index from ``tools`` (and their enhancement ``extras``, made from the tools
    alone), then score ``queries``. Returns the issue-4 metrics and the index (for its tuning
    report). ``decompose`` defaults to on for ``auto`` only. ``build_embedder`` (default
    ``embedder``; it must make the same vectors) embeds the catalog, ``embedder`` the queries."""
    index = await ToolIndex.build(
        tools,
        build_embedder or embedder,
        fusion=method_fusion(method),
        extras=extras,
        query_embedder=embedder,
    )
    options = SearchOptions(decompose=(method == "auto") if decompose is None else decompose)
    depth = max(k, 10)
    rankings: list[list[str]] = []
    for start in range(0, len(queries), _BATCH):
        batch = queries[start : start + _BATCH]
        results = await index.search_many([q.query for q in batch], depth, None, options)
        rankings.extend([h.name for h in hits] for hits in results)
    return evaluate(rankings, [q.gold for q in queries]), index
