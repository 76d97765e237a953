"""``BoundedScan``: int8 cosines whose error bound holds, on spread-out and clustered matrices."""

from __future__ import annotations

import numpy as np
import pytest

from tools_kb.dense_bounds import MIN_ROWS, BoundedScan


def _unit(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=-1, keepdims=True)).astype(np.float32)


def _matrices() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    spread = _unit(rng.standard_normal((MIN_ROWS, 384)))
    centres = _unit(rng.standard_normal((40, 384)))
    clustered = _unit(
        centres[rng.integers(0, 40, MIN_ROWS + 500)] + 0.05 * rng.standard_normal((MIN_ROWS + 500, 384))
    )
    # a few peaky rows (one large coordinate) and a zero row (an empty document)
    peaky = clustered.copy()
    peaky[:10] = _unit(np.eye(384, dtype=np.float32)[:10] + 0.01)
    peaky[10] = 0.0
    return [spread, clustered, peaky]


@pytest.mark.parametrize("levels", [127, 63], ids=["8-bit", "7-bit (CPUs without VNNI)"])
@pytest.mark.parametrize("matrix", _matrices(), ids=["spread", "clustered", "peaky"])
def test_every_approximate_cosine_is_within_its_bound(matrix: np.ndarray, levels: int) -> None:
    scan = BoundedScan.build(matrix, levels=levels)
    assert scan is not None
    rng = np.random.default_rng(1)
    queries = np.vstack(
        [
            _unit(matrix[rng.integers(0, len(matrix), 20)] + 0.3 * rng.standard_normal((20, 384))),
            _unit(rng.standard_normal((5, 384))),
            3.0 * _unit(rng.standard_normal((2, 384))),  # not unit length: the bound scales
        ]
    ).astype(np.float32)
    for batch in (queries[:1], queries[1:4], queries):  # one uint8 step per batch
        approx, eps = scan.approx(batch)
        exact = batch @ matrix.T
        assert approx.shape == exact.shape and eps.shape == (len(batch),)
        assert np.all(np.abs(exact - approx) <= eps[:, None])
    # for one unit-length query: loose enough to hold, tight enough to prune
    assert float(scan.approx(queries[:1])[1][0]) < (0.1 if levels == 127 else 0.2)


def test_the_bound_holds_for_a_query_that_rounds_all_one_way() -> None:
    """Coordinates just above half a uint8 step all round up, and rows of equal positive
    coordinates add those errors up: the query's rounding error reaches its bound's order."""
    rng = np.random.default_rng(4)
    matrix = _unit(rng.standard_normal((MIN_ROWS, 384)))
    matrix[:50] = _unit(np.ones((50, 384)) + 0.001 * rng.random((50, 384)))
    scan = BoundedScan.build(matrix)
    assert scan is not None
    query = np.full(384, 0.5 / 255 * 1.02, dtype=np.float32)
    query[0] = 1.0
    approx, eps = scan.approx(query[None, :])
    error = np.abs(query @ matrix.T - approx[0])
    assert float(error.max()) > 0.5 * float(eps[0])  # the bound is not loose by an order here
    assert np.all(error <= eps[0])


def test_the_bound_holds_for_a_query_along_a_rows_rounding_error() -> None:
    """A row with one large coordinate gets a coarse int8 step, and its 383 equal small
    coordinates all round the same way: its rounding error points along (1, 1, …, 1), and so
    does this query (which itself quantizes exactly), so that error is met in full."""
    matrix = _matrices()[2]
    scan = BoundedScan.build(matrix)
    assert scan is not None
    query = _unit(np.ones(384, dtype=np.float32))
    approx, eps = scan.approx(query[None, :])
    error = np.abs(query @ matrix.T - approx[0])
    assert float(error.max()) > 0.5 * float(eps[0])
    assert np.all(error <= eps[0])


def test_small_matrices_get_no_scan() -> None:
    rng = np.random.default_rng(2)
    assert BoundedScan.build(_unit(rng.standard_normal((MIN_ROWS - 1, 64)))) is None
    assert BoundedScan.build(_unit(rng.standard_normal((300, 64))), min_rows=256) is not None
