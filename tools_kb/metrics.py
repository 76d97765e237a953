"""Tool-retrieval metrics (definitions as in shared/data/README.md), averaged over queries.

Recall@k = |gold ∩ top-k| / |gold|; NDCG@k = binary DCG@k / ideal DCG over min(|gold|, k) items;
Sufficiency@k = 1 when every gold tool is in the top-k, else 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

KS = (1, 5, 10)
# The report's keys, in the order `switchboard tools eval --json` prints them.
METRIC_KEYS = (
    "n",
    "recall@1",
    "recall@5",
    "recall@10",
    "ndcg@5",
    "ndcg@10",
    "sufficiency@5",
    "sufficiency@10",
)


def recall_at(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    g = set(gold)
    return len(g.intersection(ranked[:k])) / len(g) if g else 0.0


def ndcg_at(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    g = set(gold)
    if not g:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, name in enumerate(ranked[:k]) if name in g)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(g), k)))
    return dcg / ideal


def sufficiency_at(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    return 1.0 if set(gold) <= set(ranked[:k]) else 0.0


def evaluate(rankings: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """The issue-4 report: n, recall@1/5/10, ndcg@5/10, sufficiency@5/10 (means over queries)."""
    n = len(rankings)
    if n != len(golds):
        raise ValueError("rankings and golds differ in length")
    out: dict[str, float] = {"n": n}
    if n == 0:
        return {"n": 0, **{key: 0.0 for key in METRIC_KEYS[1:]}}
    for k in KS:
        out[f"recall@{k}"] = sum(recall_at(r, g, k) for r, g in zip(rankings, golds, strict=True)) / n
    for k in (5, 10):
        out[f"ndcg@{k}"] = sum(ndcg_at(r, g, k) for r, g in zip(rankings, golds, strict=True)) / n
    for k in (5, 10):
        out[f"sufficiency@{k}"] = (
            sum(sufficiency_at(r, g, k) for r, g in zip(rankings, golds, strict=True)) / n
        )
    return out
