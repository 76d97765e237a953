"""Score fusion of the dense and lexical views.

``Fusion`` is either a convex combination of per-query min-max normalised scores
(``weight`` on dense, ``1 - weight`` on BM25) or reciprocal-rank fusion (RRF, k=60), the
fallback that needs no weight. Both return one score per visible row; higher is better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.float32]
RRF_K = 60.0


@dataclass(frozen=True, slots=True)
class Fusion:
    kind: Literal["weighted", "rrf"]
    weight: float = 0.5  # dense share for "weighted"; ignored by "rrf"
    reason: str = ""
    # "weighted" only: this times each tool's z-scored centrality (tools_kb.dense.centrality) is
    # added to the fused scores. The fixed baselines below keep 0.
    prior: float = 0.0
    # "weighted" only: added to the fused score of each tool a text names
    # (tools_kb.name_mentions). The fixed baselines keep 0.
    name_bonus: float = 0.0

    def __call__(self, dense: Scores, lexical: Scores) -> Scores:
        if self.kind == "rrf":
            return rrf(dense, lexical)
        return weighted(dense, lexical, self.weight)

    def describe(self) -> str:
        if self.kind == "rrf":
            return "rrf"
        prior = f", prior={self.prior:.2f}" if self.uses_prior else ""
        named = f", name_bonus={self.name_bonus:.2f}" if self.uses_name_bonus else ""
        return f"weighted(dense={self.weight:.2f}{prior}{named})"

    @property
    def uses_prior(self) -> bool:
        return self.kind == "weighted" and self.prior > 0.0

    @property
    def uses_name_bonus(self) -> bool:
        return self.kind == "weighted" and self.name_bonus > 0.0


DENSE_ONLY = Fusion("weighted", 1.0, "dense only")
LEXICAL_ONLY = Fusion("weighted", 0.0, "bm25 only")
RRF = Fusion("rrf", reason="reciprocal-rank fusion")


def minmax(s: Scores) -> Scores:
    """Scale to [0, 1] over the rows given; a constant vector becomes zeros."""
    if s.size == 0:
        return s
    lo = float(s.min())
    hi = float(s.max())
    if hi <= lo:
        return np.zeros_like(s)
    out: Scores = ((s - lo) / (hi - lo)).astype(np.float32, copy=False)
    return out


def weighted(dense: Scores, lexical: Scores, weight: float) -> Scores:
    if weight >= 1.0:
        return dense.astype(np.float32, copy=False)
    if weight <= 0.0:
        return lexical.astype(np.float32, copy=False)
    out = scaled(dense, weight)
    out += scaled(lexical, 1.0 - weight)
    return out


def scaled(s: Scores, factor: float) -> Scores:
    """``factor * minmax(s)`` as a new float32 array (two passes over ``s``, no temporaries)."""
    lo = float(s.min()) if s.size else 0.0
    hi = float(s.max()) if s.size else 0.0
    if hi <= lo:
        return np.zeros(s.shape, dtype=np.float32)
    out: Scores = np.subtract(s, np.float32(lo), dtype=np.float32)
    out *= np.float32(factor / (hi - lo))
    return out


def ranks(s: Scores) -> npt.NDArray[np.int64]:
    """0-based rank of each row (ties broken by row order)."""
    r = np.empty(s.shape[0], dtype=np.int64)
    r[np.argsort(-s, kind="stable")] = np.arange(s.shape[0])
    return r


def rrf(dense: Scores, lexical: Scores) -> Scores:
    out: Scores = (1.0 / (RRF_K + 1 + ranks(dense)) + 1.0 / (RRF_K + 1 + ranks(lexical))).astype(np.float32)
    return out
