"""Calibrate λ (cost weight) or a strong/weak threshold to an operating target.

All functions take a sample of predictions (e.g. recent prompts' predicted quality and expected cost
per candidate) and return the knob that meets the target on that sample:

* ``threshold_for_strong_share``: the score threshold that sends a given share to the strong model;
* ``lambda_for_budget``: the smallest λ whose picks cost at most a target $ per 1k requests;
* ``lambda_for_quality_floor``: the largest λ whose picks keep mean predicted quality ≥ a floor;
* ``lambda_for_strong_share``: the λ at which a given share of picks go to a given set of models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
LAMBDA_MAX = 1e9


def threshold_for_strong_share(scores: Sequence[float] | F64, share: float) -> float:
    """Threshold t such that the share of ``scores >= t`` is ``share`` (0 → +inf, 1 → min score)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    if share <= 0 or len(s) == 0:
        return float("inf")
    k = min(len(s), max(1, int(round(share * len(s)))))
    return float(s[k - 1])


def picks(quality: F64, cost: F64, lam: float) -> npt.NDArray[np.int64]:
    """Column chosen per row by ``argmax quality − λ·cost`` (NaN cells never chosen)."""
    u = np.where(np.isnan(quality) | np.isnan(cost), -np.inf, quality - lam * np.nan_to_num(cost))
    out: npt.NDArray[np.int64] = np.argmax(u, axis=1)
    return out


def _bisect(metric: Callable[[float], float], target: float, increasing: bool) -> float:
    """λ on a log grid + bisection where ``metric(λ)`` crosses ``target``. Metric is monotone in λ
    (cost and quality fall as λ grows)."""
    lo, hi = 0.0, LAMBDA_MAX
    if (metric(0.0) <= target) != increasing:
        return 0.0
    grid = np.r_[0.0, np.logspace(-3, 9, 61)]
    vals = [metric(float(g)) for g in grid]
    for g0, g1, v1 in zip(grid[:-1], grid[1:], vals[1:], strict=True):
        if (v1 <= target) != increasing:
            lo, hi = float(g0), float(g1)
            break
    else:
        return LAMBDA_MAX
    for _ in range(40):
        mid = (lo + hi) / 2
        if (metric(mid) <= target) != increasing:
            hi = mid
        else:
            lo = mid
    return hi if not increasing else lo


def lambda_for_budget(quality: F64, cost: F64, usd_per_1k: float) -> float:
    """Smallest λ with mean cost of picks ≤ ``usd_per_1k`` / 1000."""
    target = usd_per_1k / 1000.0

    def mean_cost(lam: float) -> float:
        p = picks(quality, cost, lam)
        return float(np.nan_to_num(cost)[np.arange(len(p)), p].mean())

    return _bisect(mean_cost, target, increasing=False)


def lambda_for_quality_floor(quality: F64, cost: F64, floor: float) -> float:
    """Largest λ with mean predicted quality of picks ≥ ``floor`` (0 when even λ=0 misses it)."""

    def mean_q(lam: float) -> float:
        p = picks(quality, cost, lam)
        return float(np.nan_to_num(quality)[np.arange(len(p)), p].mean())

    if mean_q(0.0) < floor:
        return 0.0
    return _bisect(lambda lam: -mean_q(lam), -floor, increasing=True)


def lambda_for_strong_share(quality: F64, cost: F64, strong_cols: Sequence[int], share: float) -> float:
    """Smallest λ at which at most ``share`` of picks fall in ``strong_cols``."""
    cols = np.asarray(list(strong_cols), dtype=np.int64)

    def strong_share(lam: float) -> float:
        return float(np.isin(picks(quality, cost, lam), cols).mean())

    return _bisect(strong_share, share, increasing=False)
