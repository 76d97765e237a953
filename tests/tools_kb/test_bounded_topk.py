"""``bounded_top`` against the plain definition (every cosine in float32, fused, combined, top-k):
the same rows in the same order, the same scores and the same floor, on catalogs built to be hard
for it (near-duplicate tools, tied and empty BM25 scores, clauses, name bonuses, a prior)."""

from __future__ import annotations

import numpy as np
import pytest

from tools_kb.bounded_topk import TextScores, bounded_top
from tools_kb.dense_bounds import BoundedScan
from tools_kb.dense_view import DenseView, ExtraRows
from tools_kb.fusion import weighted

N = 5000
DIM = 128


def _unit(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def catalog() -> tuple[np.ndarray, BoundedScan]:
    rng = np.random.default_rng(3)
    centres = _unit(rng.standard_normal((60, DIM)))
    matrix = _unit(centres[rng.integers(0, 60, N)] + 0.08 * rng.standard_normal((N, DIM)))
    matrix[100:110] = matrix[99]  # exact duplicates: tied cosines
    # 300 near-duplicates, closer to each other than the int8 error: their approximate order is
    # not their true order, so only the bound's margin keeps the true top-k among the candidates
    matrix[200:500] = _unit(matrix[200] + 0.001 * rng.standard_normal((300, DIM)))
    matrix[600:900] = _unit(-matrix[200] + 0.001 * rng.standard_normal((300, DIM)))  # and the floor
    scan = BoundedScan.build(matrix)
    assert scan is not None
    return matrix, scan


def _texts(matrix: np.ndarray, n_texts: int, dense_only: bool, seed: int) -> list[TextScores]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_texts):
        near = 200 if i == 0 else rng.integers(0, N)  # the whole query aims at the near-duplicates
        vector = _unit(matrix[near] + 0.4 * rng.standard_normal(DIM))
        lexical = None
        if not dense_only:  # BM25-like: mostly zeros, some ties
            lexical = np.zeros(N, dtype=np.float32)
            hit = rng.choice(N, 300, replace=False)
            lexical[hit] = np.round(rng.gamma(2.0, 2.0, 300), 1).astype(np.float32)
        named = None
        if rng.random() < 0.5:
            named = np.zeros(N, dtype=np.float32)
            named[rng.choice(N, 3, replace=False)] = np.float32(0.02)
        out.append(TextScores(vector, lexical, named))
    return out


def _reference(matrix: np.ndarray, texts: list[TextScores], weight: float, clause_weight: float, prior):
    scores = None
    for i, t in enumerate(texts):
        dense = matrix @ t.vector
        fused = dense if t.lexical is None else weighted(dense, t.lexical, weight)
        if t.named is not None:
            fused = fused + t.named
        scores = fused if i == 0 else np.maximum(scores, clause_weight * fused)
    return scores if prior is None else scores + prior


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("weight", "n_texts", "dense_only", "k"),
    [(0.4, 1, False, 5), (0.8, 3, False, 10), (0.1, 2, False, 1), (1.0, 2, True, 5), (0.5, 1, False, N + 3)],
)
def test_same_ranking_scores_and_floor_as_the_full_scan(
    catalog: tuple[np.ndarray, BoundedScan], seed: int, weight: float, n_texts: int, dense_only: bool, k: int
) -> None:
    matrix, scan = catalog
    texts = _texts(matrix, n_texts, dense_only, seed)
    rng = np.random.default_rng(seed + 100)
    prior = None if seed % 2 else (np.float32(0.02) * rng.standard_normal(N)).astype(np.float32)
    view = DenseView(scan, matrix, None, None, None)
    ranked = bounded_top(view, texts, weight=weight, clause_weight=0.9, prior=prior, k=k, floor=True)
    want = _reference(matrix, texts, weight, 0.9, prior)
    kk = min(k, N)
    assert len(ranked.rows) == kk
    np.testing.assert_allclose(ranked.scores, want[ranked.rows], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ranked.scores, np.sort(want)[::-1][:kk], rtol=0, atol=1e-6)
    assert np.all(np.diff(ranked.scores) <= 0)
    assert ranked.floor == pytest.approx(float(want.min()), abs=1e-6)


def test_bm25_only_is_refused(catalog: tuple[np.ndarray, BoundedScan]) -> None:
    matrix, scan = catalog
    view = DenseView(scan, matrix, None, None, None)
    with pytest.raises(ValueError, match="weight > 0"):
        bounded_top(
            view, _texts(matrix, 1, False, 0), weight=0.0, clause_weight=0.9, prior=None, k=5, floor=False
        )


@pytest.mark.parametrize("n_extra", [1, 3000])  # one row: scored exactly; many: int8-scanned
def test_enhancement_rows_pool_into_their_tools_cosines(
    catalog: tuple[np.ndarray, BoundedScan], n_extra: int
) -> None:
    """A tool's cosine is the max over its document row and its extra rows; tools without extra
    rows keep their own (compared with that definition computed on the float32 rows)."""
    matrix, scan = catalog
    rng = np.random.default_rng(n_extra)
    owner = rng.integers(0, N // 3, n_extra)  # two thirds of the tools have none
    extra = _unit(matrix[owner] + 0.5 * rng.standard_normal((n_extra, DIM)))
    extras = ExtraRows(extra, owner, N)
    texts = _texts(matrix, 2, False, 9)
    queries = np.stack([t.vector for t in texts])
    pooled = np.full((2, N), -np.inf, dtype=np.float32)
    for i in range(2):
        np.maximum.at(pooled[i], owner, queries[i] @ extra.T)
    want_cos = np.maximum(queries @ matrix.T, pooled)
    # a tenant's view: 400 tools hidden (another tenant's), 50 its own (scored exactly), the rest
    # public (the int8 scan of those rows)
    shuffled = rng.permutation(N)
    own, public = np.sort(shuffled[400:450]), np.sort(shuffled[450:])
    visible = np.sort(np.concatenate([own, public]))
    public_scan = BoundedScan.build(matrix[public])
    assert public_scan is not None
    views = [
        (None, DenseView(scan, matrix, None, None, extras)),
        (visible, DenseView(public_scan, matrix, visible, np.flatnonzero(np.isin(visible, public)), extras)),
    ]
    for rows, view in views:
        cos = want_cos if rows is None else want_cos[:, rows]
        approx, eps = view.approx(queries)
        assert approx.shape == cos.shape
        assert np.all(np.abs(approx - cos) <= eps[:, None])
        picks = np.arange(0, len(view), 7)
        np.testing.assert_allclose(view.exact(picks, queries), cos[:, picks].T, rtol=0, atol=1e-6)

    def reference_with_extras(weight: float) -> np.ndarray:
        scores = None
        for i, t in enumerate(texts):
            fused = weighted(want_cos[i], t.lexical, weight)
            if t.named is not None:
                fused = fused + t.named
            scores = fused if i == 0 else np.maximum(scores, 0.9 * fused)
        return scores

    view = DenseView(scan, matrix, None, None, extras)
    ranked = bounded_top(view, texts, weight=0.6, clause_weight=0.9, prior=None, k=10, floor=True)
    want = reference_with_extras(0.6)
    np.testing.assert_allclose(ranked.scores, np.sort(want)[::-1][:10], rtol=0, atol=1e-6)
    assert ranked.floor == pytest.approx(float(want.min()), abs=1e-6)
