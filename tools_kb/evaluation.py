"""Offline evaluation of tool retrieval on a catalog + query file (``switchboard tools eval``).

The index is built from the catalog alone (the fusion is tuned on pseudo-queries made from the
tools); queries and gold labels are read only after the index exists, to score it.
Methods: ``auto`` (the production pipeline: tuned fusion, multi-intent decomposition unless the
catalog's own descriptions turn it off, and prerequisite tools) and the baselines ``dense``, ``bm25`` and ``rrf`` (whole query, no
decomposition, ranked by their scores alone), or ``weighted:W``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from core.embedding import Embedder
from tools_kb.decompose import Split
from tools_kb.fusion import DENSE_ONLY, LEXICAL_ONLY, RRF, Fusion
from tools_kb.index import ToolIndex
from tools_kb.loaders import json_line, jsonl_lines, read_text
from tools_kb.metrics import evaluate
from tools_kb.search_options import SearchOptions
from tools_kb.tool import Tool

METHODS = ("auto", "dense", "bm25", "rrf")
_BATCH = 256


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    id: str
    query: str
    gold: tuple[str, ...]


def read_queries(path: Path | str) -> list[LabelledQuery]:
    """``{"id", "query", "gold": [names]}`` per line (``gold`` may be one name), in a UTF-8 file
    (a byte-order mark is dropped; lines end at ``\n`` only). Raises ValueError naming the file
    and line: unreadable or not UTF-8, invalid JSON, a missing or empty ``query``, a ``gold``
    that is missing, empty or not names (an empty gold set would count as found by Sufficiency
    and as missed by Recall), or no query at all (every metric would be a meaningless 0)."""
    text = read_text(path)
    out: list[LabelledQuery] = []
    for lineno, line in jsonl_lines(text):
        where = f"{path}:{lineno}"
        row = json_line(line, where)
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected an object {{id, query, gold}}")
        query = row.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"{where}: query: must be a non-empty string")
        gold = row.get("gold")
        if isinstance(gold, str):
            gold = [gold]
        if not isinstance(gold, list) or not gold or not all(isinstance(g, str) and g for g in gold):
            raise ValueError(f"{where}: gold: must be a non-empty list of tool names")
        out.append(LabelledQuery(str(row.get("id", lineno)), query, tuple(gold)))
    if not out:
        raise ValueError(f"{path}: no queries (one JSON object per line: id, query, gold)")
    return out


def unknown_gold(queries: Sequence[LabelledQuery], names: Iterable[str]) -> tuple[int, list[str]]:
    """(how many queries name a gold tool that is not among ``names``, those names sorted):
    such a tool can never be retrieved, so it counts as a miss."""
    known = set(names)
    missing = {g for q in queries for g in q.gold if g not in known}
    affected = sum(1 for q in queries if any(g in missing for g in q.gold))
    return affected, sorted(missing)


def public_tools(tools: Iterable[Tool]) -> tuple[list[Tool], int]:
    """``tools`` with their tenant lists dropped, and how many had one. The eval searches as no
    tenant and measures the whole catalog, so a private tool must count as public, not as a
    miss."""
    out = list(tools)
    private = sum(1 for t in out if t.tenants is not None)
    return ([replace(t, tenants=None) for t in out] if private else out), private


def method_fusion(method: str) -> Fusion | None:
    """The fixed fusion of a baseline method, or None for ``auto`` (tuned on the catalog).
    Raises ValueError for an unknown method or a ``weighted:W`` whose W is not a number from 0
    to 1."""
    if method == "auto":
        return None
    if method == "dense":
        return DENSE_ONLY
    if method == "bm25":
        return LEXICAL_ONLY
    if method == "rrf":
        return RRF
    if method.startswith("weighted:"):
        text = method.split(":", 1)[1]
        try:
            weight = float(text)
        except ValueError:
            weight = math.nan
        if not 0.0 <= weight <= 1.0:  # also NaN
            raise ValueError(f"method weighted:W needs a dense share W from 0 to 1, got {text!r}")
        return Fusion("weighted", weight, "fixed by caller")
    raise ValueError(f"unknown method {method!r}; use one of {METHODS} or weighted:W")


async def evaluate_catalog(
    tools: Sequence[Tool],
    queries: Sequence[LabelledQuery],
    embedder: Embedder,
    *,
    k: int = 5,
    method: str = "auto",
    decompose: bool | Split | None = None,
    extras: Mapping[str, Sequence[str]] | None = None,
    build_embedder: Embedder | None = None,
) -> tuple[dict[str, float], ToolIndex]:
    """Build a fresh index from ``tools`` (and their enhancement ``extras``, made from the tools
    alone), every tool public (:func:`public_tools`), then score ``queries``. Returns the issue-4
    metrics and the index (for its tuning report). ``decompose`` defaults to the catalog's
    level for ``auto`` (:mod:`tools_kb.decomposition_check`) and to off for the baselines;
    True / False / a level force it. ``build_embedder`` (default ``embedder``; it must make the same
    vectors) embeds the catalog, ``embedder`` the queries. ``k`` only deepens the ranking past
    10 (the metrics stop at @10)."""
    index = await ToolIndex.build(
        public_tools(tools)[0],
        build_embedder or embedder,
        fusion=method_fusion(method),
        extras=extras,
        query_embedder=embedder,
    )
    options = SearchOptions(
        # auto: the catalog's level (tools_kb.decomposition_check); the baselines never cut
        decompose=(None if method == "auto" else False) if decompose is None else decompose,
        prerequisites=method == "auto",  # the baselines rank by their scores alone
    )
    depth = max(k, 10)
    rankings: list[list[str]] = []
    for start in range(0, len(queries), _BATCH):
        batch = queries[start : start + _BATCH]
        results = await index.search_many([q.query for q in batch], depth, None, options)
        rankings.extend([h.name for h in hits] for hits in results)
    return evaluate(rankings, [q.gold for q in queries]), index
