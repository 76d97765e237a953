"""Exact dense search over one float32 matrix of L2-normalised tool vectors.

Cosine similarity is a matrix-vector product. Visibility is applied *before* scoring: a caller
passes the row indices a tenant may see and only those rows are multiplied (the sub-matrix of a
row set is cached, so a tenant's searches do not copy the matrix each time).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

Rows = npt.NDArray[np.int64]
V = TypeVar("V")


class Lru(Generic[V]):
    """At most ``size`` values by key, the least recently used dropped first (per-tenant
    sub-matrices and prefilter views)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        value = self._items.get(key)
        if value is None:
            value = self._items[key] = make()
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return value


def centrality(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Each row's mean cosine to all rows (= its dot product with the mean vector), z-scored
    over the catalog: > 0 for broad tools near the catalog's centre, < 0 for niche ones.
    Zeros when there are fewer than two rows or they are all equally central."""
    n = vectors.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.float32)
    c = vectors @ vectors.mean(axis=0)
    std = float(c.std())
    if std <= 1e-9:
        return np.zeros(n, dtype=np.float32)
    out: npt.NDArray[np.float32] = ((c - float(c.mean())) / std).astype(np.float32)
    return out


class DenseIndex:
    """Immutable after construction; safe to share between concurrent searches."""

    def __init__(self, vectors: npt.NDArray[np.float32], *, cache_rowsets: int = 32) -> None:
        if vectors.ndim != 2:
            raise ValueError("vectors must be a 2-D matrix")
        self._m = np.ascontiguousarray(vectors, dtype=np.float32)
        self._subs: Lru[npt.NDArray[np.float32]] = Lru(cache_rowsets)

    def __len__(self) -> int:
        return int(self._m.shape[0])

    @property
    def matrix(self) -> npt.NDArray[np.float32]:
        return self._m

    def scores(
        self, query: npt.NDArray[np.float32], rows: Rows | None = None, *, rows_key: str | None = None
    ) -> npt.NDArray[np.float32]:
        """Cosine of ``query`` (dim,) or ``(q, dim)`` with every row, or with ``rows`` only
        (result aligned with ``rows``). ``rows_key`` names the row set for the sub-matrix cache
        (e.g. the tenant); without it the rows' bytes are the key."""
        m = self._m if rows is None else self._submatrix(rows, rows_key)
        out: npt.NDArray[np.float32] = query @ m.T if query.ndim == 2 else m @ query
        return out

    def _submatrix(self, rows: Rows, rows_key: str | None) -> npt.NDArray[np.float32]:
        key = rows_key.encode() if rows_key is not None else rows.tobytes()
        return self._subs.get_or_make(key, lambda: np.ascontiguousarray(self._m[rows]))
