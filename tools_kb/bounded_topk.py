"""Exact top-k of the fused tool scores, reading the float32 matrix only where it can matter.

:class:`tools_kb.index.ToolIndex` scores every tool as, per text t (the whole query, then its
clauses) and with the catalog's weighted fusion of dense weight w::

    f_t = w · minmax(cos_t) + (1 − w) · minmax(bm25_t) + named_t      (0 < w < 1)
    f_t = cos_t + named_t                                                 (dense only)
    score = max(f_0, c · f_1, …, c · f_m) + prior           (w > 0 here)

With a :class:`tools_kb.dense_view.DenseView` every cosine is known to within ``eps``, so every
score is known to within a bound Δ: ``w · eps / (hi − lo)`` per text (the min–max scale is exact:
``hi`` and ``lo`` are found by re-scoring the few rows that could hold them), the max over texts
of ``c · δ_t``. A tool can be in the top k only if its upper bound reaches the k-th largest lower
bound; those candidates (a few dozen at 10k tools) are re-scored exactly on their float32 rows,
with the same float32 operations as the full scan, and ranked. The adaptive-k floor (the lowest
score) is found the same way. RRF (ranks of every cosine) is not handled here: the index scans
the matrix for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tools_kb.fusion import scaled

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
# Added to every score bound: float32 rounding of the fusion arithmetic (a few operations on values
# of magnitude ≤ ~4, each off by ≤ 2^-24 relative), which the approximate and exact scores do not
# share bit for bit. It keeps the bound sound even for a tiny fusion weight.
ROUNDING = 2e-6


class CosineView(Protocol):
    """The cosines of the visible tools (:class:`tools_kb.dense_view.DenseView`)."""

    def __len__(self) -> int: ...

    def approx(self, queries: F32) -> tuple[F32, F32]:
        """(t, tools) approximate cosines and (t,) bounds: ``|exact − approx| ≤ eps[i]``."""
        ...

    def exact(self, positions: I64, queries: F32) -> F32:
        """(len(positions), t) exact cosines of the tools at ``positions``."""
        ...


@dataclass(frozen=True, slots=True)
class TextScores:
    """One text's inputs: its query vector, BM25 scores (None: dense only) and name bonus."""

    vector: F32
    lexical: F32 | None
    named: F32 | None


@dataclass(frozen=True, slots=True)
class Ranked:
    rows: I64  # best first, at most k
    scores: F32  # exact, aligned with rows
    floor: float | None  # the lowest exact score over all rows, when asked for


class _Text:
    """One text's approximate fused scores and their bound, and its exact fused scores on a
    subset of rows."""

    def __init__(self, text: TextScores, approx: F32, eps: float, view: CosineView, weight: float) -> None:
        self.text = text
        self.view = view
        self.dense_only = text.lexical is None
        self.lo = 0.0
        self.factor: np.float32 | None = None  # None: the cosine unscaled (dense only)
        self.lexical_part: F32 | None = None
        self.fused: F32
        self.delta: float
        if self.dense_only:
            self.fused, self.delta = approx, eps
        else:
            assert text.lexical is not None
            self.lexical_part = scaled(text.lexical, 1.0 - weight)  # as fusion.weighted does
            hi = self._exact_extreme(approx, eps, top=True)
            lo = self._exact_extreme(approx, eps, top=False)
            if hi <= lo:
                self.factor = np.float32(0.0)
                self.fused, self.delta = self.lexical_part.copy(), 0.0
            else:
                self.lo, self.factor = lo, np.float32(weight / (hi - lo))
                fused = np.subtract(approx, np.float32(lo), dtype=np.float32)
                fused *= self.factor
                fused += self.lexical_part
                self.fused, self.delta = fused, eps * float(self.factor)
        if text.named is not None:
            self.fused = self.fused + text.named

    def _exact_extreme(self, approx: F32, eps: float, *, top: bool) -> float:
        """The exact max (``top``) or min cosine: only rows within ``2 eps`` of the approximate
        extreme can hold it."""
        query = self.text.vector[None, :]
        if top:
            rows = np.flatnonzero(approx >= np.float32(float(approx.max()) - 2 * eps))
            return float(self.view.exact(rows, query).max())
        rows = np.flatnonzero(approx <= np.float32(float(approx.min()) + 2 * eps))
        return float(self.view.exact(rows, query).min())

    def exact(self, rows: I64, cosines: F32) -> F32:
        """Exact fused scores of ``rows`` (``cosines``: their exact cosines for this text)."""
        if self.dense_only:
            out = cosines
        else:
            assert self.lexical_part is not None and self.factor is not None
            if self.factor == 0.0:
                out = self.lexical_part[rows].copy()
            else:
                out = np.subtract(cosines, np.float32(self.lo), dtype=np.float32)
                out *= self.factor
                out += self.lexical_part[rows]
        if self.text.named is not None:
            out = out + self.text.named[rows]
        return out


def bounded_top(
    view: CosineView,
    texts: Sequence[TextScores],
    *,
    weight: float,
    clause_weight: float,
    prior: F32 | None,
    k: int,
    floor: bool,
) -> Ranked:
    """The exact top ``k`` of the visible tools' combined score (see the module doc; rows are
    positions in ``view``) and, with ``floor``, the exact lowest score. ``prior``: the per-tool
    prior term already scaled (aligned with the view), or None."""
    if weight <= 0.0:
        raise ValueError("bounded_top needs a fusion that uses the cosines (weight > 0)")
    n = len(view)
    k = max(0, min(k, n))
    queries = np.stack([t.vector for t in texts])
    approx, eps = view.approx(queries)
    parts = [_Text(t, approx[i], float(eps[i]), view, weight) for i, t in enumerate(texts)]
    score = parts[0].fused
    delta = parts[0].delta
    for part in parts[1:]:
        score = np.maximum(score, clause_weight * part.fused)
        delta = max(delta, clause_weight * part.delta)
    if prior is not None:
        score = score + prior
    delta += ROUNDING

    def exact(rows: I64) -> F32:
        cosines = view.exact(rows, queries)
        out = parts[0].exact(rows, cosines[:, 0])
        for i, part in enumerate(parts[1:], start=1):
            out = np.maximum(out, clause_weight * part.exact(rows, cosines[:, i]))
        return out if prior is None else out + prior[rows]

    if k == 0:
        return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), None)
    # true scores lie within ± delta of ``score``: the k-th best is at least the k-th largest
    # lower bound, and a row can only beat that if its upper bound reaches it
    kth = float(np.partition(score, n - k)[n - k])
    candidates = np.flatnonzero(score >= np.float32(kth - 2 * delta))
    exact_scores = exact(candidates)
    order = np.argsort(-exact_scores, kind="stable")[:k]
    lowest = None
    if floor:
        low_rows = np.flatnonzero(score <= np.float32(float(score.min()) + 2 * delta))
        lowest = float(exact(low_rows).min())
    return Ranked(candidates[order], exact_scores[order], lowest)
