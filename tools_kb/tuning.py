"""Choose the dense/lexical fusion for a catalog from the catalog alone.

Pseudo-queries: each tool's description (up to ``max_queries`` tools, a fixed sample). They are
held out from the tuning index, whose documents are the tools' name, parameters and tags only,
so a pseudo-query has to be matched by meaning or by shared words the way a user's request is.
Each fusion weight on a grid (and RRF) is scored by the mean reciprocal rank of the pseudo-query's
own tool; the best wins. Weights whose MRR is within ``tolerance`` of the best form a plateau and
the plateau's weight closest to 0.5 is taken: pseudo-queries cannot tell those weights apart,
and real queries (longer, with argument values and context) punish the extreme ones more. RRF is
the answer when the catalog has too few described tools to judge, or when it scores best.
No user query and no gold label is read here. The report carries the sample (pseudo-queries,
held-out catalog, vectors) to :mod:`tools_kb.decomposition_check`, which drops it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.embedding import Embedder
from tools_kb.decompose import Split
from tools_kb.documents import ToolDocument
from tools_kb.fusion import RRF, Fusion
from tools_kb.lexical import LexicalIndex, tokenize

WEIGHT_GRID = tuple(round(0.1 * i, 1) for i in range(11))
# Weight of the centrality prior that a tuned weighted fusion adds (see tools_kb.index). One
# global constant: pseudo-queries (one per tool) cannot measure a prior over which tools users
# ask for, so it is not tuned per catalog. Chosen as the largest value that did not lower
# Recall@5 on any of the four public catalogs by more than 0.1 pt (0.01, 0.02, 0.03 tried;
# docs/benchmarks.md); re-checked with the same rule and grid on the re-exported int8 vectors of
# 615a53e: still 0.02 (0.03 costs Seal-Tools 0.3 pt).
CENTRALITY_PRIOR = 0.02
# Added to the fused score of each tool a text names (every distinctive word of its name occurs:
# tools_kb.name_mentions). Not tuned per catalog either: pseudo-queries are the tools' own
# descriptions, which often restate the name, so they would reward any bonus. Chosen by the
# prior's rule (largest of 0.01 / 0.02 / 0.03 that lowers no catalog's Recall@5 by more than
# 0.1 pt against none; 0.03 costs API-Bank 0.13 pt), then the prior re-checked with it (still
# 0.02); figures in docs/benchmarks.md.
NAME_MENTION_BONUS = 0.02


@dataclass(frozen=True, slots=True)
class PseudoQueries:
    """The tuning sample: ``pool`` (sorted catalog rows) is the held-out catalog, ``held_out``
    its documents without descriptions; ``rows`` the tools whose descriptions are the
    ``queries``; ``vectors`` the held-out documents' rows, then the queries'."""

    pool: list[int]
    held_out: list[str]
    rows: list[int]
    queries: list[str]
    vectors: np.ndarray


@dataclass(frozen=True, slots=True)
class TuningReport:
    fusion: Fusion
    n_pseudo: int
    curve: dict[str, float]  # "0.0".."1.0", "rrf" → pseudo-query MRR
    # How far queries are cut into clauses on this catalog (tools_kb.decomposition_check), and why.
    split: Split = "all"
    decomposition: str = "not checked"
    # The pseudo-queries and their vectors, for the decomposition check; dropped after it.
    sample: PseudoQueries | None = None


async def choose_fusion(
    docs: Sequence[ToolDocument],
    embedder: Embedder,
    *,
    max_queries: int = 400,
    max_catalog: int = 1000,
    min_queries: int = 20,
    tolerance: float = 0.003,
    seed: int = 0,
) -> TuningReport:
    """Pick the fusion for ``docs``. Embeds at most ``max_queries + max_catalog`` short texts:
    big catalogs are tuned on a fixed sample of ``max_catalog`` tools (the pseudo-queries'
    own tools always among them). 1000 (was 2000): the held-out views were ~10 % of a 10k
    build's CPU, and 400 pseudo-queries against 1000 tools already rank the weights the same
    way on the public catalogs (docs/benchmarks.md)."""
    described = [i for i, d in enumerate(docs) if is_described(d.description)]
    if len(described) < min_queries or len(docs) < 2:
        return TuningReport(
            Fusion("rrf", reason=f"rrf: only {len(described)} described tools to tune on"),
            len(described),
            {},
            decomposition="all (no pseudo-queries to check)",
        )
    if len(described) > max_queries:
        described = sorted(random.Random(seed).sample(described, max_queries))
    pool = list(range(len(docs)))
    if len(docs) > max_catalog:
        rest = sorted(set(pool) - set(described))
        extra = random.Random(seed + 1).sample(rest, max(0, max_catalog - len(described)))
        pool = sorted({*described, *extra})
    position = {row: i for i, row in enumerate(pool)}
    held_out = [docs[i].text_without_description() for i in pool]
    queries = [docs[i].description for i in described]
    vectors = await embedder.embed([*held_out, *queries])
    targets = np.asarray([position[i] for i in described])
    # CPU work (BM25 index, 11 fusions × the pseudo-queries): off the event loop.
    curve = await asyncio.to_thread(_curve, held_out, queries, vectors, targets)
    sample = PseudoQueries(pool, held_out, described, queries, vectors)

    best = max(curve[f"{w:.1f}"] for w in WEIGHT_GRID)
    plateau = [w for w in WEIGHT_GRID if curve[f"{w:.1f}"] >= best - tolerance]
    weight = min(plateau, key=lambda w: (abs(w - 0.5), w))
    if curve["rrf"] > best:
        fusion = Fusion("rrf", reason=f"rrf: pseudo-query MRR {curve['rrf']:.3f} > weighted {best:.3f}")
    else:
        fusion = Fusion(
            "weighted",
            weight,
            reason=f"pseudo-query MRR {best:.3f} on {len(described)} tools (plateau {plateau})",
            prior=CENTRALITY_PRIOR,
            name_bonus=NAME_MENTION_BONUS,
        )
    return TuningReport(fusion, len(described), curve, sample=sample)


def _curve(
    held_out: Sequence[str], queries: Sequence[str], vectors: np.ndarray, targets: np.ndarray
) -> dict[str, float]:
    """Pseudo-query MRR of every weight on the grid and of RRF (``vectors``: the held-out
    documents' rows, then the queries')."""
    doc_vecs, query_vecs = vectors[: len(held_out)], vectors[len(held_out) :]
    # Plain BM25, without the name-pair score the search index adds: a description often
    # restates its tool's name word for word, so name pairs would let pseudo-queries match by
    # copied text (tilting the weight to BM25), which the held-out documents exist to prevent.
    lexical = LexicalIndex(held_out)
    dense_scores = query_vecs @ doc_vecs.T
    lexical_scores = np.stack([lexical.scores(q) for q in queries])
    curve: dict[str, float] = {}
    for w in WEIGHT_GRID:
        curve[f"{w:.1f}"] = _mrr(Fusion("weighted", w), dense_scores, lexical_scores, targets)
    curve["rrf"] = _mrr(RRF, dense_scores, lexical_scores, targets)
    return curve


def _mrr(fusion: Fusion, dense: np.ndarray, lexical: np.ndarray, targets: np.ndarray) -> float:
    total = 0.0
    for d, lx, t in zip(dense, lexical, targets, strict=True):
        s = fusion(d, lx)
        # Ties count half: a tool tied with many others is not "found".
        rank = float((s > s[t]).sum()) + 0.5 * float((s == s[t]).sum() - 1)
        total += 1.0 / (rank + 1.0)
    return total / len(targets)


def is_described(description: str) -> bool:
    """Whether a description is long enough to serve as a pseudo-query: three words, or, in a
    script written without spaces (Chinese, Japanese), three content tokens (character pairs)."""
    if len(description.split()) >= 3:
        return True
    return not description.isascii() and len(tokenize(description)) >= 3
