"""Routing quality metrics (pure numpy): RouteLLM's APGR / CPT and RouterBench's AIQ.

* ``pgr_curve(score, q_strong, q_weak)``: send the prompts with the highest router score to the strong
  model; for every share x of strong calls (at each distinct threshold; tied scores move together)
  record the mean quality Q(x); PGR(x) = (Q(x) − Q(0)) / (Q(1) − Q(0)).
* APGR = ∫₀¹ PGR(x) dx by the trapezoid rule over those points (RouteLLM integrates its sweep the same
  way). CPT(p) = the smallest share of strong calls at which PGR reaches p (linear interpolation).
* AIQ = the area under the non-decreasing upper convex hull of a router's (cost, quality) operating
  points between the cheapest and dearest single model, divided by that cost range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def _trapz(y: F64, x: F64) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def pgr_curve(score: F64, q_strong: F64, q_weak: F64) -> tuple[F64, F64]:
    """``(share_strong, pgr)`` at every distinct threshold, from 0 to 1. Raises ValueError when the
    strong model is not better than the weak one on these prompts (PGR undefined)."""
    n = len(score)
    if n == 0:
        raise ValueError("no prompts")
    order = np.argsort(-score, kind="stable")
    s, gain = score[order], (q_strong - q_weak)[order]
    total_gap = float(gain.sum())
    if total_gap <= 0:
        raise ValueError("the strong model does not beat the weak one on this data")
    # cut points at the end of each run of equal scores
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) + 1
    cum = np.r_[0.0, np.cumsum(gain)[ends - 1]]
    share = np.r_[0.0, ends / n]
    return share, cum / total_gap


def apgr(score: F64, q_strong: F64, q_weak: F64) -> float:
    share, pgr = pgr_curve(score, q_strong, q_weak)
    return _trapz(pgr, share)


def cpt(score: F64, q_strong: F64, q_weak: F64, target: float) -> float:
    """Smallest share of strong calls with PGR ≥ ``target`` (linearly interpolated)."""
    share, pgr = pgr_curve(score, q_strong, q_weak)
    hit = np.flatnonzero(pgr >= target - 1e-12)
    i = int(hit[0])
    if i == 0:
        return 0.0
    x0, x1, y0, y1 = share[i - 1], share[i], pgr[i - 1], pgr[i]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))


def apgr_bootstrap_ci(
    score: F64, q_strong: F64, q_weak: F64, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of APGR over prompts (resamples with no quality gap are skipped)."""
    rng = np.random.default_rng(seed)
    n = len(score)
    vals: list[float] = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        try:
            vals.append(apgr(score[idx], q_strong[idx], q_weak[idx]))
        except ValueError:
            continue
    if not vals:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(vals, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return (float(lo), float(hi))


@dataclass(frozen=True)
class TwoModelReport:
    n: int
    apgr: float
    cpt50: float
    cpt80: float
    apgr_ci95: tuple[float, float]


def two_model_report(score: F64, q_strong: F64, q_weak: F64, *, n_boot: int = 1000) -> TwoModelReport:
    return TwoModelReport(
        n=len(score),
        apgr=apgr(score, q_strong, q_weak),
        cpt50=cpt(score, q_strong, q_weak, 0.5),
        cpt80=cpt(score, q_strong, q_weak, 0.8),
        apgr_ci95=apgr_bootstrap_ci(score, q_strong, q_weak, n_boot=n_boot),
    )


def upper_hull(points: Sequence[tuple[float, float]]) -> F64:
    """Vertices ``(k, 2)`` of the non-decreasing upper convex hull of (cost, quality) points."""
    pts = sorted(set(points))
    # non-decreasing: drop points dominated by a cheaper point with higher quality
    best = -np.inf
    keep: list[tuple[float, float]] = []
    for c, q in pts:
        if q > best:
            keep.append((c, q))
            best = q
    hull: list[tuple[float, float]] = []
    for p in keep:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:  # hull[-1] under the chord
                hull.pop()
            else:
                break
        hull.append(p)
    return np.asarray(hull, dtype=np.float64)


def hull_value(hull: F64, cost: float) -> float:
    """Quality reachable at ``cost`` on the hull (flat beyond its ends)."""
    return float(np.interp(cost, hull[:, 0], hull[:, 1]))


def aiq(points: Sequence[tuple[float, float]], c_min: float, c_max: float, grid: int = 2001) -> float:
    """Area under the router's hull on [c_min, c_max], normalised by the range."""
    hull = upper_hull(points)
    if c_max <= c_min:
        return hull_value(hull, c_min)
    xs = np.linspace(c_min, c_max, grid)
    ys = np.interp(xs, hull[:, 0], hull[:, 1])
    return _trapz(ys, xs) / (c_max - c_min)


def min_cost_for_quality(points: Sequence[tuple[float, float]], quality: float) -> float | None:
    """Cheapest cost on the hull reaching ``quality`` (None when never reached)."""
    hull = upper_hull(points)
    if hull[-1, 1] < quality - 1e-12:
        return None
    i = int(np.flatnonzero(hull[:, 1] >= quality - 1e-12)[0])
    if i == 0:
        return float(hull[0, 0])
    (x0, y0), (x1, y1) = hull[i - 1], hull[i]
    return float(x0 + (quality - y0) * (x1 - x0) / (y1 - y0))
