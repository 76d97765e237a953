"""Evaluate routers on labelled records: two-model APGR/CPT and many-model cost/quality curves.

Pure functions over arrays (no I/O), used by ``switchboard router eval`` and the benchmark scripts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routers.features import Features
from routers.metrics import (
    TwoModelReport,
    aiq,
    hull_value,
    min_cost_for_quality,
    two_model_report,
    upper_hull,
)
from routers.router import Router, TrainedRouter

F64 = npt.NDArray[np.float64]


def two_model_eval(
    router: Router,
    feats: Features,
    q_strong: F64,
    q_weak: F64,
    strong: str,
    weak: str,
    *,
    n_boot: int = 1000,
) -> TwoModelReport:
    """APGR etc. on the rows where both models have a score (NaN rows dropped)."""
    keep = np.flatnonzero(~np.isnan(q_strong) & ~np.isnan(q_weak))
    sub = feats.rows(keep)
    score = router.strong_needed(sub, strong, weak)
    return two_model_report(score, q_strong[keep], q_weak[keep], n_boot=n_boot)


@dataclass(frozen=True)
class MultiReport:
    n: int
    aiq: float
    best_single_model: str
    best_single_quality: float
    best_single_cost_usd: float
    cost_fraction_at_best_single_quality: float | None
    quality_at_half_best_single_cost: float | None
    points: tuple[tuple[float, float], ...]
    singles: Mapping[str, tuple[float, float]]  # model → (mean cost, mean quality)
    zero_router_aiq: float


LAMBDAS: tuple[float, ...] = (0.0, *np.logspace(-1, 7, 81).tolist(), float("inf"))


def operating_points(
    pred_q: F64, pred_cost: F64, true_q: F64, true_cost: F64, lambdas: Sequence[float] = LAMBDAS
) -> list[tuple[float, float]]:
    """(mean true cost, mean true quality) of ``argmax pred_q − λ·pred_cost`` for each λ; cells whose
    true quality or cost is NaN are never picked."""
    avail = ~np.isnan(true_q) & ~np.isnan(true_cost)
    rows = np.arange(len(true_q))
    pts: list[tuple[float, float]] = []
    for lam in lambdas:
        u = -pred_cost if np.isinf(lam) else pred_q - lam * pred_cost
        u = np.where(avail, u, -np.inf)
        p = np.argmax(u, axis=1)
        pts.append((float(true_cost[rows, p].mean()), float(true_q[rows, p].mean())))
    return pts


def multi_report(
    models: Sequence[str], pred_q: F64, pred_cost: F64, true_q: F64, true_cost: F64
) -> MultiReport:
    """Cost/quality summary of a router's λ sweep against the single models, on the rows where every
    model has a score and a cost (or, when there are none, the rows where at least one has)."""
    avail = ~np.isnan(true_q) & ~np.isnan(true_cost)
    # compare like with like: the rows where every model is scored, when there are any
    keep = avail.all(axis=1) if avail.all(axis=1).any() else avail.any(axis=1)
    pred_q, pred_cost, true_q, true_cost = pred_q[keep], pred_cost[keep], true_q[keep], true_cost[keep]
    avail = avail[keep]
    singles: dict[str, tuple[float, float]] = {}
    for j, name in enumerate(models):
        if avail[:, j].any():
            singles[name] = (
                float(np.mean(true_cost[avail[:, j], j])),
                float(np.mean(true_q[avail[:, j], j])),
            )
    if not singles:
        raise ValueError("no model has both a score and a price on this data")
    best = max(singles, key=lambda m: (singles[m][1], -singles[m][0]))
    best_cost, best_q = singles[best]
    pts = operating_points(pred_q, pred_cost, true_q, true_cost)
    costs = [c for c, _ in singles.values()]
    c_min, c_max = min(costs), max(costs)
    reach = min_cost_for_quality(pts, best_q)
    hull = upper_hull(pts)
    half = 0.5 * best_cost
    return MultiReport(
        n=int(keep.sum()),
        aiq=aiq(pts, c_min, c_max),
        best_single_model=best,
        best_single_quality=best_q,
        best_single_cost_usd=best_cost,
        cost_fraction_at_best_single_quality=None if reach is None or best_cost <= 0 else reach / best_cost,
        quality_at_half_best_single_cost=None if half < hull[0, 0] - 1e-15 else hull_value(hull, half),
        points=tuple(pts),
        singles=singles,
        zero_router_aiq=aiq(list(singles.values()), c_min, c_max),
    )


def predicted_costs(
    router: TrainedRouter,
    feats: Features,
    prompts: Sequence[str],
    models: Sequence[str],
    prices: Mapping[str, tuple[float, float]],
) -> F64:
    """Expected USD per prompt and model from prices × (ceil(chars/4) + expected output tokens)."""
    out_toks = router.expected_output_tokens(feats, models)
    prompt_toks = np.asarray([np.ceil(len(p) / 4) for p in prompts])
    pin = np.asarray([prices[m][0] for m in models])
    pout = np.asarray([prices[m][1] for m in models])
    cost: F64 = (prompt_toks[:, None] * pin[None, :] + out_toks * pout[None, :]) / 1e6
    return cost
