"""The cosines one search sees, approximate with a bound and exact on demand.

A :class:`DenseView` is what :func:`tools_kb.bounded_topk.bounded_top` reads: for the tools a
search may see (all of them, or the public ones plus one tenant's own), each tool's cosine is its
document row's, or the best of that and its enhancement rows' (:class:`ExtraRows`, the texts of
:mod:`tools_kb.enhance` and learned examples: ``max`` pooling, as the plain scan does). ``approx``
gives every visible tool's cosine from the int8 scans with one error bound per query; ``exact``
re-scores chosen tools on their float32 rows. Document rows the search may not see are never
read; enhancement rows are scanned whole, as the plain scan does, and the pooled cosines of tools
it may not see are dropped before anything is compared.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tools_kb.dense_bounds import BoundedScan

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


class ExtraRows:
    """Enhancement rows: ``matrix`` (m, dim), ``owner`` (m,) the tool row each belongs to."""

    def __init__(self, matrix: F32, owner: I64, n_tools: int) -> None:
        self._m = np.ascontiguousarray(matrix, dtype=np.float32)
        self._owner = np.asarray(owner, dtype=np.int64)
        self._n = n_tools
        self._order = np.argsort(self._owner, kind="stable")  # extra rows grouped by tool
        self._starts = np.searchsorted(self._owner[self._order], np.arange(n_tools + 1))
        self._scan = BoundedScan.build(self._m, min_rows=2)  # None: few rows, scored exactly

    def approx_pooled(self, queries: F32, tools: I64 | None) -> tuple[F32, F32]:
        """(t, len(tools)) best approximate cosine over each tool's extra rows (-inf for a tool
        without any; ``tools`` None: every tool), and one bound per query."""
        if self._scan is not None:
            approx, eps = self._scan.approx(queries)
        else:
            approx, eps = queries @ self._m.T, np.zeros(len(queries), dtype=np.float32)
        pooled = np.full((len(queries), self._n), -np.inf, dtype=np.float32)
        for i in range(len(queries)):
            np.maximum.at(pooled[i], self._owner, approx[i])
        return (pooled if tools is None else pooled[:, tools]), eps

    def exact_pooled(self, tools: I64, queries: F32) -> F32:
        """(len(tools), t) exact best cosine over each given tool's extra rows (-inf: none)."""
        counts = self._starts[tools + 1] - self._starts[tools]
        out = np.full((len(tools), len(queries)), -np.inf, dtype=np.float32)
        total = int(counts.sum())
        if total == 0:
            return out
        first = np.repeat(self._starts[tools], counts)
        offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = self._order[first + offset]
        np.maximum.at(out, np.repeat(np.arange(len(tools)), counts), self._m[rows] @ queries.T)
        return out


class DenseView:
    """The visible tools' cosines: ``rows`` (catalog rows, sorted; None: every tool), of which
    those at ``public_pos`` are the public scan's rows in its order; the others (one tenant's
    own tools, few) are scored exactly."""

    def __init__(
        self,
        scan: BoundedScan,
        matrix: F32,
        rows: I64 | None,
        public_pos: I64 | None,
        extras: ExtraRows | None,
    ) -> None:
        self._scan = scan
        self._matrix = matrix  # the whole catalog's float32 rows
        self._rows = rows
        self._extras = extras
        n = matrix.shape[0] if rows is None else len(rows)
        self._n = n
        self._public_pos = public_pos
        if public_pos is None or (len(public_pos) == n and bool(np.all(public_pos == np.arange(n)))):
            self._public_pos = None  # the scan's rows are exactly the visible ones
            self._own_pos = np.zeros(0, dtype=np.int64)
        else:
            self._own_pos = np.setdiff1d(np.arange(n), public_pos)
        own_rows = self._own_pos if rows is None else rows[self._own_pos]
        self._own = np.ascontiguousarray(matrix[own_rows])

    def __len__(self) -> int:
        return self._n

    def approx(self, queries: F32) -> tuple[F32, F32]:
        """Approximate cosines (t, visible tools) and one bound per query on their error."""
        approx, eps = self._scan.approx(queries)
        if self._public_pos is not None:
            out = np.empty((approx.shape[0], self._n), dtype=np.float32)
            out[:, self._public_pos] = approx
            out[:, self._own_pos] = queries @ self._own.T
            approx = out
        if self._extras is not None:
            pooled, extra_eps = self._extras.approx_pooled(queries, self._rows)
            approx = np.maximum(approx, pooled)
            eps = np.maximum(eps, extra_eps)
        return approx, eps

    def exact(self, positions: I64, queries: F32) -> F32:
        """Exact cosines (len(positions), t) of the visible tools at ``positions``."""
        rows = positions if self._rows is None else self._rows[positions]
        out: F32 = self._matrix[rows] @ queries.T
        if self._extras is not None:
            out = np.maximum(out, self._extras.exact_pooled(rows, queries))
        return out
