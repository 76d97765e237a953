"""Offline experiments behind docs/benchmarks.md (each prints JSON lines).

    python -m routers.training.experiments loso        # leave-one-source-out transfer of the
                                                       # difficulty head (unknown pairs) vs baselines
    python -m routers.training.experiments loso-compare  # the shipped difficulty head vs the one before
                                                         # 2026-11-26, paired bootstrap per family
    python -m routers.training.experiments llmrouter   # multi-model: train llmrouter_train, test llmrouter_test
    python -m routers.training.experiments mmlu_pro    # category-stratified 50/50 split, APGR vs prior

Data comes from ``$SWITCHBOARD_DATA`` (default ``/work/shared/data/routing``); embeddings from the
on-disk cache (:mod:`routers.training.embed_cache`).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from routers.components import DesignMap
from routers.evaluation import MultiReport, multi_report, predicted_costs
from routers.features import Features, make_features
from routers.metrics import apgr
from routers.router import BaselineRouter
from routers.training.data import RecordSet, load_prices, load_records, read_jsonl
from routers.training.pipeline import features_for
from routers.training.train import TrainConfig, fit_difficulty, record_costs, train_router

F64 = npt.NDArray[np.float64]
DATA = Path(os.environ.get("SWITCHBOARD_DATA", "/work/shared/data/routing"))
FILES = (
    "llmrouter_train.jsonl",
    "llmrouter_test.jsonl",
    "mmlu_pro.jsonl.gz",
    "alpaca_eval.jsonl",
    "routerarena.jsonl",
)
PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "mmlu_pro": (
        ("gemini-1.5-pro-002", "phi-3-mini-4k-instruct"),
        ("llama-3.1-70b-instruct", "llama-3.1-8b-instruct"),
        ("gemini-1.5-pro-002", "mixtral-8x7b-instruct-v0.1"),
        ("llama-3.1-70b-instruct", "mixtral-8x7b-instruct-v0.1"),
    ),
    "alpaca_eval": (
        ("gpt-4-1106-preview", "gpt-3.5-turbo-1106"),
        ("gpt-4-1106-preview", "claude-2"),
        ("gpt-4-1106-preview", "vicuna-13b-v1.5"),
    ),
    "llmrouter": (
        ("llama-3.3-nemotron-super-49b-v1", "llama-3.1-8b-instruct"),
        ("llama-3.1-nemotron-51b-instruct", "mistral-7b-instruct-v0.3"),
    ),
    "routerarena": (("gemini-2.0-flash-001", "claude-3-haiku-20240307"),),
}
# llmrouter is scored per task (a held-out benchmark is one task); these have enough gap to measure
LLMROUTER_TASKS = (
    "llmrouter/gsm8k",
    "llmrouter/mmlu",
    "llmrouter/math",
    "llmrouter/arc_challenge",
    "llmrouter/commonsense_qa",
    "llmrouter/mbpp",
    "llmrouter/gpqa",
    "llmrouter/openbook_qa",
)


def load_all() -> tuple[RecordSet, Features]:
    rs = load_records([DATA / f for f in FILES])
    return rs, features_for(rs.prompts)


def pair_apgr(score: F64, rs: RecordSet, strong: str, weak: str) -> float | None:
    qs, qw = rs.scores[:, rs.models.index(strong)], rs.scores[:, rs.models.index(weak)]
    keep = ~np.isnan(qs) & ~np.isnan(qw)
    try:
        return apgr(score[keep], qs[keep], qw[keep])
    except ValueError:
        return None


def eval_groups(rs: RecordSet, fam: str) -> list[tuple[str, npt.NDArray[np.int64]]]:
    fams = np.asarray(rs.family())
    if fam == "llmrouter":
        src = np.asarray(rs.sources)
        return [(t, np.flatnonzero(src == t)) for t in LLMROUTER_TASKS]
    return [(fam, np.flatnonzero(fams == fam))]


Scorer = Callable[[Features], F64]


def loso(cfg: TrainConfig, variants: Sequence[str], families: Sequence[str]) -> None:
    rs, feats = load_all()
    fams = np.asarray(rs.family())
    for fam in families:
        train_idx = np.flatnonzero(fams != fam)
        tr = rs.subset(train_idx)
        tf = feats.rows(train_idx)
        design = DesignMap.fit(tf)
        head = fit_difficulty(design.design(tf), tr, cfg)
        scorers: dict[str, Scorer] = {
            "gain": lambda f, h=head, d=design: h.gain(d.design(f)),  # type: ignore[misc]
            "difficulty": lambda f, h=head, d=design: h.difficulty(d.design(f)),  # type: ignore[misc]
            "random": lambda f: BaselineRouter("random").strong_needed(f, "", ""),
            "length": lambda f: BaselineRouter("length").strong_needed(f, "", ""),
        }
        for group, idx in eval_groups(rs, fam):
            sub, sf = rs.subset(idx), feats.rows(idx)
            for strong, weak in PAIRS[fam]:
                row: dict[str, object] = {"held_out": fam, "group": group, "strong": strong, "weak": weak}
                for name in variants:
                    v = pair_apgr(scorers[name](sf), sub, strong, weak)
                    row[name] = None if v is None else round(v, 4)
                print(json.dumps(row), flush=True)


def _resample_apgr_gap(a: F64, b: F64, qs: F64, qw: F64, rng: np.random.Generator, n_boot: int) -> F64:
    """APGR(a) − APGR(b) on ``n_boot`` bootstrap resamples of the prompts (resamples where the strong
    model does not beat the weak one are drawn again)."""
    out = np.empty(n_boot)
    for r in range(n_boot):
        i = rng.integers(0, len(qs), len(qs))
        while (qs[i] - qw[i]).sum() <= 0:
            i = rng.integers(0, len(qs), len(qs))
        out[r] = apgr(a[i], qs[i], qw[i]) - apgr(b[i], qs[i], qw[i])
    return out


def loso_compare(new: TrainConfig, old: TrainConfig, families: Sequence[str], n_boot: int) -> None:
    """Leave one source out, two difficulty-head configurations on the same splits: APGR per cell and
    the paired bootstrap (over held-out prompts) of new − old per family and over the family means."""
    rs, feats = load_all()
    fams = np.asarray(rs.family())
    rng = np.random.default_rng(0)
    total = np.zeros(n_boot)
    for fam in families:
        train_idx = np.flatnonzero(fams != fam)
        tr, tf = rs.subset(train_idx), feats.rows(train_idx)
        design = DesignMap.fit(tf)
        x_tr = design.design(tf)
        heads = {"new": fit_difficulty(x_tr, tr, new), "old": fit_difficulty(x_tr, tr, old)}
        gaps: list[F64] = []
        for group, idx in eval_groups(rs, fam):
            sub, x = rs.subset(idx), design.design(feats.rows(idx))
            score = {k: h.difficulty(x) for k, h in heads.items()}
            for strong, weak in PAIRS[fam]:
                qs, qw = sub.scores[:, sub.models.index(strong)], sub.scores[:, sub.models.index(weak)]
                keep = ~np.isnan(qs) & ~np.isnan(qw)
                vals = {k: pair_apgr(v, sub, strong, weak) for k, v in score.items()}
                if vals["new"] is None or vals["old"] is None:
                    continue
                gaps.append(
                    _resample_apgr_gap(
                        score["new"][keep], score["old"][keep], qs[keep], qw[keep], rng, n_boot
                    )
                )
                print(
                    json.dumps(
                        {
                            "held_out": fam,
                            "group": group,
                            "strong": strong,
                            "weak": weak,
                            "old": _fmt(vals["old"]),
                            "new": _fmt(vals["new"]),
                        }
                    ),
                    flush=True,
                )
        fam_gap = np.mean(gaps, axis=0)
        total += fam_gap / len(families)
        lo, hi = np.percentile(fam_gap, [2.5, 97.5])
        print(
            json.dumps(
                {
                    "held_out": fam,
                    "cells": len(gaps),
                    "new_minus_old_ci95": [_fmt(lo), _fmt(hi)],
                    "p_new_better": round(float((fam_gap > 0).mean()), 3),
                }
            ),
            flush=True,
        )
    lo, hi = np.percentile(total, [2.5, 97.5])
    print(
        json.dumps(
            {
                "held_out": "mean of families",
                "new_minus_old_ci95": [_fmt(lo), _fmt(hi)],
                "p_new_better": round(float((total > 0).mean()), 3),
            }
        ),
        flush=True,
    )


def _fmt(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def llmrouter(cfg: TrainConfig) -> None:
    """Train every family on llmrouter_train, evaluate the λ sweep on llmrouter_test."""
    prices = {m: (p.input_per_mtok, p.output_per_mtok) for m, p in load_prices(DATA / "models.json").items()}
    tr = load_records([DATA / "llmrouter_train.jsonl"])
    te = load_records([DATA / "llmrouter_test.jsonl"], tr.models)
    tf, ef = features_for(tr.prompts), features_for(te.prompts)
    models = [m for m in te.models if m in prices]
    cols = [te.models.index(m) for m in models]
    true_q, true_c = te.scores[:, cols], record_costs(te, prices, models)
    rng = np.random.default_rng(cfg.seed)
    rows: dict[str, MultiReport] = {}
    preds: dict[str, tuple[F64, F64]] = {}
    for fam in ("knn", "mf", "heads"):
        r = train_router(fam, tr, tf, cfg)  # type: ignore[arg-type]
        preds[fam] = (r.quality(ef, models), predicted_costs(r, ef, te.prompts, models, prices))
        rows[fam] = multi_report(models, *preds[fam], true_q, true_c)
    rows["random"] = multi_report(models, rng.random(true_q.shape), np.zeros_like(true_c), true_q, true_c)
    for name, rep in rows.items():
        print(
            json.dumps(
                {
                    "router": name,
                    "n": rep.n,
                    "aiq": _fmt(rep.aiq),
                    "zero_router_aiq": _fmt(rep.zero_router_aiq),
                    "best_single_model": rep.best_single_model,
                    "best_single_quality": _fmt(rep.best_single_quality),
                    "best_single_cost_usd": rep.best_single_cost_usd,
                    "cost_fraction_at_best_single_quality": _fmt(rep.cost_fraction_at_best_single_quality),
                    "quality_at_half_best_single_cost": _fmt(rep.quality_at_half_best_single_cost),
                }
            ),
            flush=True,
        )
    # paired bootstrap over test prompts: AIQ(heads) − AIQ(knn)
    diffs = []
    for _ in range(300):
        i = rng.integers(0, len(te), len(te))
        a = multi_report(models, preds["heads"][0][i], preds["heads"][1][i], true_q[i], true_c[i]).aiq
        b = multi_report(models, preds["knn"][0][i], preds["knn"][1][i], true_q[i], true_c[i]).aiq
        diffs.append(a - b)
    d = np.asarray(diffs)
    lo, hi = np.percentile(d, [2.5, 97.5])
    print(
        json.dumps(
            {
                "aiq_heads_minus_knn_ci95": [round(float(lo), 4), round(float(hi), 4)],
                "p_heads_better": round(float((d > 0).mean()), 3),
            }
        ),
        flush=True,
    )


def stratified_half(
    categories: Sequence[str], seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    cats = np.asarray(categories)
    a: list[int] = []
    b: list[int] = []
    for c in sorted(set(categories)):
        idx = rng.permutation(np.flatnonzero(cats == c))
        h = len(idx) // 2
        a += idx[:h].tolist()
        b += idx[h:].tolist()
    return np.asarray(sorted(a), np.int64), np.asarray(sorted(b), np.int64)


MMLU_PRO_PAIRS = (
    ("gemini-1.5-pro-002", "phi-3-mini-4k-instruct", 0.584),
    ("llama-3.1-70b-instruct", "llama-3.1-8b-instruct", 0.514),
)


def mmlu_pro(cfg: TrainConfig, seeds: Sequence[int]) -> None:
    """Category-stratified 50/50 split of mmlu_pro: APGR of each family vs the per-category prior."""
    rs = load_records([DATA / "mmlu_pro.jsonl.gz"])
    feats = features_for(rs.prompts)
    for seed in seeds:
        tr_i, te_i = stratified_half(rs.categories, seed)
        tr, te = rs.subset(tr_i), rs.subset(te_i)
        tf, ef = feats.rows(tr_i), feats.rows(te_i)
        routers = {fam: train_router(fam, tr, tf, cfg) for fam in ("knn", "mf", "heads")}  # type: ignore[arg-type]
        for strong, weak, published_prior in MMLU_PRO_PAIRS:
            js, jw = rs.models.index(strong), rs.models.index(weak)
            gain = tr.scores[:, js] - tr.scores[:, jw]
            prior = {c: float(np.nanmean(gain[np.asarray(tr.categories) == c])) for c in set(tr.categories)}
            row: dict[str, object] = {
                "seed": seed,
                "strong": strong,
                "weak": weak,
                "published_prior": published_prior,
            }
            row["category_prior"] = _fmt(
                pair_apgr(np.asarray([prior.get(c, 0.0) for c in te.categories]), te, strong, weak)
            )
            for fam, r in routers.items():
                row[fam] = _fmt(pair_apgr(r.strong_needed(ef, strong, weak), te, strong, weak))
            row["difficulty_head"] = _fmt(pair_apgr(routers["heads"].difficulty_of(ef), te, strong, weak))
            row["random"] = _fmt(
                pair_apgr(BaselineRouter("random").strong_needed(ef, "", ""), te, strong, weak)
            )
            print(json.dumps(row), flush=True)


def onnx_agreement(models_dir: str, n: int) -> None:
    """The shipped router on ONNX int8 vectors vs the reference vectors it was trained on."""
    import asyncio

    from core.embedders import default_embedder
    from routers.serialize import load_router

    rs = load_records([DATA / f for f in ("alpaca_eval.jsonl", "llmrouter_test.jsonl", "routerarena.jsonl")])
    texts = list(rs.prompts[:n])
    ref = features_for(texts)
    emb = default_embedder(Path(models_dir))
    onnx = make_features(asyncio.run(emb.embed(texts)), texts)
    router = load_router("default")
    cos = (ref.embedding * onnx.embedding).sum(axis=1)
    a, b = router.strong_needed(ref, "x", "y"), router.strong_needed(onnx, "x", "y")
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    cats_a, cats_b = router.category(ref) or [], router.category(onnx) or []
    print(
        json.dumps(
            {
                "n": len(texts),
                "embedder": emb.name,
                "cosine_min": round(float(cos.min()), 4),
                "cosine_mean": round(float(cos.mean()), 4),
                "strong_needed_spearman": round(float(np.corrcoef(ra, rb)[0, 1]), 4),
                "strong_needed_max_abs_diff": round(float(np.abs(a - b).max()), 4),
                "category_agreement": round(
                    float(np.mean([x == y for x, y in zip(cats_a, cats_b, strict=True)])), 4
                ),
            }
        )
    )


def categories_eval(seed: int = 0) -> None:
    """Accuracy of the coarse category classifier on a stratified 20 % hold-out of its training set."""
    from routers.training.build_default import RECORD_FILES, category_data
    from routers.training.train import CategoryData, fit_categories

    data_dir = Path("config/routers/data")
    raw: list[dict[str, object]] = []
    for f in RECORD_FILES:
        raw.extend(read_jsonl(data_dir / f))
    cd = category_data(data_dir, raw)
    rng = np.random.default_rng(seed)
    labels = np.asarray(cd.labels)
    test = np.zeros(len(labels), dtype=bool)
    for lab in set(cd.labels):
        idx = np.flatnonzero(labels == lab)
        test[rng.permutation(idx)[: max(1, len(idx) // 5)]] = True
    tr_i, te_i = np.flatnonzero(~test), np.flatnonzero(test)
    sub = CategoryData(tuple(cd.texts[i] for i in tr_i), tuple(labels[tr_i]), cd.features.rows(tr_i))
    design = DesignMap.fit(sub.features)
    head = fit_categories(design, sub, TrainConfig().category_l2)
    pred = np.asarray(head.predict(design.design(cd.features.rows(te_i))))
    per = {lab: round(float((pred[labels[te_i] == lab] == lab).mean()), 3) for lab in sorted(set(cd.labels))}
    majority = max(per, key=lambda k: int((labels[te_i] == k).sum()))
    print(
        json.dumps(
            {
                "n_train": len(tr_i),
                "n_test": len(te_i),
                "accuracy": round(float((pred == labels[te_i]).mean()), 4),
                "majority_baseline": round(float((labels[te_i] == majority).mean()), 4),
                "recall_per_label": per,
            }
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=("loso", "loso-compare", "llmrouter", "mmlu_pro", "onnx", "categories"))
    p.add_argument("--models-dir", default="var/models")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--alpha", type=float, default=TrainConfig.difficulty_alpha)
    p.add_argument("--gap", type=float, default=TrainConfig.gain_min_gap)
    p.add_argument("--variants", default="gain,difficulty,random,length")
    p.add_argument("--hidden", type=int, default=0)
    p.add_argument("--cheap-scale", type=float, default=TrainConfig.difficulty_cheap_scale)
    p.add_argument("--no-family-balance", action="store_true", help="the difficulty head before 2026-11-26")
    p.add_argument("--families", default=",".join(PAIRS))
    p.add_argument("--bootstrap", type=int, default=200, help="loso-compare: resamples")
    args = p.parse_args(argv)
    cfg = TrainConfig(
        difficulty_alpha=args.alpha,
        gain_min_gap=args.gap,
        difficulty_hidden=args.hidden,
        difficulty_cheap_scale=args.cheap_scale,
        difficulty_family_balance=not args.no_family_balance,
    )
    if args.what == "loso":
        loso(cfg, args.variants.split(","), args.families.split(","))
    elif args.what == "loso-compare":  # the configured head vs the head before 2026-11-26
        old = TrainConfig(
            difficulty_alpha=args.alpha, difficulty_family_balance=False, difficulty_cheap_scale=1.0
        )
        loso_compare(cfg, old, args.families.split(","), args.bootstrap)
    elif args.what == "llmrouter":
        llmrouter(cfg)
    elif args.what == "mmlu_pro":
        mmlu_pro(cfg, [int(x) for x in args.seeds.split(",")])
    elif args.what == "categories":
        categories_eval()
    else:
        onnx_agreement(args.models_dir, args.n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
