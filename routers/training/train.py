"""The one training pipeline: routing records + features → a :class:`~routers.router.TrainedRouter`.

Every family (``knn``, ``mf``, ``heads``) gets the same extras, fitted the same way: the design map,
the model-agnostic difficulty head (an IRT difficulty per prompt regressed on the features), per-model
output-token heads, pair co-occurrence counts, and optionally the category classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from routers.components import BilinearScorer, DesignMap, KnnScorer, Mlp
from routers.features import CHEAP_FEATURES, Features
from routers.router import CategoryHead, DifficultyHead, Family, TrainedRouter
from routers.training.data import RecordSet
from routers.training.fit import (
    fit_bilinear,
    fit_irt,
    fit_logistic,
    fit_masked_mlp,
    fit_mlp,
    fit_softmax,
    ridge,
)

F64 = npt.NDArray[np.float64]
DEFAULT_OUTPUT_TOKENS = 256.0


@dataclass(frozen=True)
class TrainConfig:
    knn_k: int = 100
    knn_temperature: float = 0.1
    knn_shrink: float = 2.0
    mf_rank: int = 32
    mf_l2: float = 1e-3
    mf_steps: int = 600
    heads_l2: float = 30.0  # linear logistic heads (heads_hidden = 0)
    heads_hidden: int = 128  # shared ReLU layer of the per-model heads
    heads_mlp_l2: float = 1e-4
    heads_steps: int = 500
    knn_blend: bool = True  # heads/mf: average with a kNN scorer over the training prompts
    difficulty_alpha: float = 10.0
    # Transfer to unseen benchmarks (leave-one-source-out, docs/benchmarks.md): every data family
    # weighs the same in the difficulty ridge, and the cheap features (length, options, markers: they
    # mostly tell one benchmark's format from another's) are shrunk harder than the embedding, their
    # ridge penalty divided by difficulty_cheap_scale².
    difficulty_family_balance: bool = True
    difficulty_cheap_scale: float = 0.1
    gain_min_gap: float = 0.5
    difficulty_hidden: int = 0  # 0: ridge; >0: one hidden ReLU layer of this width
    difficulty_mlp_l2: float = 1e-4
    irt_l2: float = 0.05
    irt_steps: int = 400
    token_alpha: float = 10.0
    category_l2: float = 3e-5
    min_model_records: int = 20
    seed: int = 0
    extra_meta: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CategoryData:
    texts: tuple[str, ...]
    labels: tuple[str, ...]
    features: Features


def usable_models(rs: RecordSet, min_records: int) -> list[int]:
    counts = (~np.isnan(rs.scores)).sum(axis=0)
    return [j for j in range(len(rs.models)) if counts[j] >= min_records]


def gain_targets(scores: F64, groups: npt.NDArray[np.int64], theta: F64, min_gap: float) -> F64:
    """Per record: mean over model pairs (a, b) of its family with θ_a − θ_b ≥ ``min_gap`` of
    ``score_a − score_b`` (both observed); 0 where no such pair was scored."""
    out = np.zeros(len(scores))
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        th = theta[g]
        observed = ~np.isnan(scores[rows])
        present = np.flatnonzero(observed.any(axis=0))
        pairs = [(a, b) for a in present for b in present if th[a] - th[b] >= min_gap]
        if not pairs:
            continue
        num = np.zeros(len(rows))
        den = np.zeros(len(rows))
        for a, b in pairs:
            ok = observed[:, a] & observed[:, b]
            num += np.where(ok, np.nan_to_num(scores[rows, a] - scores[rows, b]), 0.0)
            den += ok
        out[rows] = np.where(den > 0, num / np.maximum(den, 1), 0.0)
    return out


def family_weights(groups: npt.NDArray[np.int64]) -> F64:
    """Per-record weights that give every group the same total weight (mean weight 1)."""
    counts = np.bincount(groups).astype(np.float64)
    w = 1.0 / counts[groups]
    out: F64 = w / w.mean()
    return out


def fit_transfer_ridge(x: F64, y: F64, alpha: float, weights: F64 | None, cheap_scale: float) -> F64:
    """Ridge on a design matrix ``[embedding, cheap features, 1]`` with the cheap features' penalty
    ``alpha / cheap_scale²`` (fit on scaled columns, coefficients scaled back)."""
    cheap = slice(x.shape[1] - 1 - len(CHEAP_FEATURES), x.shape[1] - 1)
    xs = x.copy()
    xs[:, cheap] *= cheap_scale
    beta = ridge(xs, y, alpha, weights)
    beta[cheap] *= cheap_scale
    return beta


def fit_difficulty(x: F64, rs: RecordSet, cfg: TrainConfig) -> DifficultyHead:
    """IRT difficulty per record (abilities per model and data family) and the pairwise gain target,
    each regressed on the features by ridge (one linear layer with two outputs); families weigh the
    same when ``cfg.difficulty_family_balance``."""
    fams = rs.family()
    fam_names = sorted(set(fams))
    groups = np.asarray([fam_names.index(f) for f in fams], dtype=np.int64)
    delta, theta = fit_irt(rs.scores, groups, l2=cfg.irt_l2, steps=cfg.irt_steps, seed=cfg.seed)
    gain = gain_targets(rs.scores, groups, theta, cfg.gain_min_gap)
    if cfg.difficulty_hidden > 0:
        ws, bs = fit_mlp(
            x,
            np.stack([delta, gain], axis=1),
            hidden=cfg.difficulty_hidden,
            l2=cfg.difficulty_mlp_l2,
            seed=cfg.seed,
        )
        net = Mlp(ws, bs)
    else:
        rw = family_weights(groups) if cfg.difficulty_family_balance else None
        w = np.stack(
            [
                fit_transfer_ridge(x, t, cfg.difficulty_alpha, rw, cfg.difficulty_cheap_scale)
                for t in (delta, gain)
            ],
            axis=1,
        )
        bias = w[-1].copy()
        w[-1] = 0.0
        net = Mlp((w,), (bias,))
    mask = ~np.isnan(rs.scores)
    abilities: dict[str, float] = {}
    for j, name in enumerate(rs.models):
        per_group = [(theta[g, j], mask[groups == g, j].sum()) for g in range(len(fam_names))]
        cnt = np.asarray([c for _, c in per_group], dtype=np.float64)
        if cnt.sum() > 0:
            abilities[name] = round(float(np.dot([t for t, _ in per_group], cnt) / cnt.sum()), 4)
    return DifficultyHead(net, abilities)


def fit_heads(x: F64, values: F64, alpha: float) -> Mlp:
    """One ridge regression per column on the rows where that column is known."""
    w = np.zeros((x.shape[1], values.shape[1]))
    for j in range(values.shape[1]):
        rows = ~np.isnan(values[:, j])
        if rows.sum() >= 5:
            w[:, j] = ridge(x[rows], values[rows, j], alpha)
        else:
            w[-1, j] = float(np.nanmean(values[:, j])) if rows.any() else 0.0
    bias = w[-1].copy()
    w[-1] = 0.0
    return Mlp((w,), (bias,))


def fit_logistic_heads(x: F64, scores: F64, l2: float) -> Mlp:
    """One L2-regularised logistic regression per model (soft labels) on the rows where it is scored;
    serving applies σ to the output (``TrainedRouter.score`` for the ``heads`` family)."""
    w = np.zeros((x.shape[1] - 1, scores.shape[1]))
    b = np.zeros(scores.shape[1])
    for j in range(scores.shape[1]):
        rows = ~np.isnan(scores[:, j])
        if rows.sum() >= 5:
            w[:, j], b[j] = fit_logistic(x[rows, :-1], scores[rows, j], l2=l2, iters=15)
        else:
            m = float(np.clip(np.nanmean(scores[:, j]) if rows.any() else 0.5, 0.02, 0.98))
            b[j] = np.log(m / (1 - m))
    return Mlp((np.vstack([w, np.zeros((1, w.shape[1]))]),), (b,))


def fit_categories(design: DesignMap, data: CategoryData, l2: float) -> CategoryHead:
    labels = tuple(sorted(set(data.labels)))
    y = np.asarray([labels.index(lab) for lab in data.labels], dtype=np.int64)
    x = design.design(data.features)
    w = fit_softmax(x, y, len(labels), l2=l2)
    bias = w[-1].copy()
    w[-1] = 0.0
    return CategoryHead(labels, Mlp((w,), (bias,)))


def _knn(embedding: npt.NDArray[np.floating], scores: F64, prior: F64, cfg: TrainConfig) -> KnnScorer:
    return KnnScorer(
        embedding.astype(np.float32),
        scores.astype(np.float32),
        prior,
        cfg.knn_k,
        cfg.knn_temperature,
        cfg.knn_shrink,
    )


def train_router(
    family: Family,
    rs: RecordSet,
    feats: Features,
    cfg: TrainConfig = TrainConfig(),
    categories: CategoryData | None = None,
) -> TrainedRouter:
    """Train one router of ``family`` on ``rs`` (rows aligned with ``feats``).

    Models scored on fewer than ``cfg.min_model_records`` records are dropped.
    """
    if len(rs) != len(feats):
        raise ValueError("records and features differ in length")
    keep = usable_models(rs, cfg.min_model_records)
    if not keep:
        raise ValueError("no model has enough scored records to train on")
    models = tuple(rs.models[j] for j in keep)
    scores = rs.scores[:, keep]
    sub = RecordSet(
        rs.ids,
        rs.prompts,
        rs.sources,
        rs.categories,
        models,
        scores,
        rs.output_tokens[:, keep],
        rs.cost_usd[:, keep],
    )
    design = DesignMap.fit(feats)
    x = design.design(feats)
    scorer: KnnScorer | BilinearScorer | Mlp
    prior = np.nan_to_num(np.nanmean(scores, axis=0), nan=0.5)
    if family == "knn":
        scorer = _knn(feats.embedding, scores, prior, cfg)
    elif family == "mf":
        p, v, c = fit_bilinear(x, scores, rank=cfg.mf_rank, l2=cfg.mf_l2, steps=cfg.mf_steps, seed=cfg.seed)
        scorer = BilinearScorer(p, v, c)
    elif family == "heads":
        if cfg.heads_hidden > 0:
            ws, bs = fit_masked_mlp(
                x, scores, hidden=cfg.heads_hidden, l2=cfg.heads_mlp_l2, steps=cfg.heads_steps, seed=cfg.seed
            )
            scorer = Mlp(ws, bs)
        else:
            scorer = fit_logistic_heads(x, scores, cfg.heads_l2)
    else:
        raise ValueError(f"unknown router family {family!r}")
    toks = sub.output_tokens
    known_tok = ~np.isnan(toks)
    mean_tokens = np.asarray(
        [
            float(np.nanmean(toks[:, j])) if known_tok[:, j].any() else DEFAULT_OUTPUT_TOKENS
            for j in range(len(models))
        ]
    )
    tokens = fit_heads(x, np.log1p(toks), cfg.token_alpha) if known_tok.sum() >= 50 else None
    if tokens is not None:
        # models with no token data fall back to their (default) mean via the bias only
        for j in range(len(models)):
            if known_tok[:, j].sum() < 5:
                tokens.weights[0][:, j] = 0.0
                tokens.biases[0][j] = np.log1p(mean_tokens[j])
    mask = (~np.isnan(scores)).astype(np.int64)
    knn = None
    if cfg.knn_blend and family != "knn":
        knn = _knn(feats.embedding, scores, prior, cfg)
    return TrainedRouter(
        family=family,
        models=models,
        design=design,
        scorer=scorer,
        difficulty=fit_difficulty(x, sub, cfg),
        tokens=tokens,
        mean_tokens=mean_tokens,
        pair_counts=mask.T @ mask,
        categories=fit_categories(design, categories, cfg.category_l2) if categories else None,
        knn=knn,
        meta={
            "n_records": len(rs),
            "sources": sorted(set(rs.family())),
            "min_pair_records": min(100, max(10, len(rs) // 10)),
            **cfg.extra_meta,
        },
    )


def record_costs(rs: RecordSet, prices: dict[str, tuple[float, float]], models: Sequence[str]) -> F64:
    """Cost in USD of answering each record with each model, ``(n, len(models))``.

    ``cost_usd`` when the source gives it; otherwise prices × (ceil(chars/4) prompt tokens + output
    tokens, or the model's mean output tokens, or 256). NaN where the model has no price.
    """
    out = np.full((len(rs), len(models)), np.nan)
    prompt_toks = np.asarray([np.ceil(len(p) / 4) for p in rs.prompts])
    for c, name in enumerate(models):
        if name not in rs.models:
            continue
        j = rs.models.index(name)
        toks = rs.output_tokens[:, j]
        fill = float(np.nanmean(toks)) if (~np.isnan(toks)).any() else DEFAULT_OUTPUT_TOKENS
        toks = np.where(np.isnan(toks), fill, toks)
        if name in prices:
            pin, pout = prices[name]
            out[:, c] = (prompt_toks * pin + toks * pout) / 1e6
        given = rs.cost_usd[:, j]
        out[:, c] = np.where(np.isnan(given), out[:, c], given)
    return out


def add_model(
    router: TrainedRouter, name: str, feats: Features, scores: F64, l2: float = 1.0
) -> TrainedRouter:
    """Add ``name`` to a matrix-factorisation router from a few hundred labelled prompts.

    The prompt projection stays frozen; only the new model's vector and bias are fitted (logistic
    regression on the projected prompts). NaN scores are ignored. Returns a new router.
    """
    if not isinstance(router.scorer, BilinearScorer):
        raise TypeError("add_model needs an 'mf' router")
    if name in router.models:
        raise ValueError(f"{name!r} is already in the router")
    rows = ~np.isnan(scores)
    z = router.design.design(feats.rows(np.flatnonzero(rows))) @ router.scorer.proj
    vec, bias = fit_logistic(z, scores[rows], l2=l2)
    s = router.scorer
    scorer = BilinearScorer(s.proj, np.vstack([s.model_vecs, vec[None, :]]), np.r_[s.model_bias, bias])
    m = len(router.models)
    pairs = np.zeros((m + 1, m + 1), dtype=np.int64)
    pairs[:m, :m] = router.pair_counts
    # the new model's vector lives in the same space as the others: its pairs are answered by MF
    pairs[m, :] = pairs[:, m] = int(rows.sum())
    tokens = router.tokens
    if tokens is not None:
        w, b = tokens.weights[0], tokens.biases[0]
        extra = np.zeros((w.shape[0], 1))
        tokens = Mlp((np.hstack([w, extra]),), (np.r_[b, np.log1p(DEFAULT_OUTPUT_TOKENS)],))
    return TrainedRouter(
        family=router.family,
        models=(*router.models, name),
        design=router.design,
        scorer=scorer,
        difficulty=router.difficulty,
        tokens=tokens,
        mean_tokens=np.r_[router.mean_tokens, DEFAULT_OUTPUT_TOKENS],
        pair_counts=pairs,
        categories=router.categories,
        knn=None,  # the kNN table has no scores for the new model
        meta=router.meta,
    )
