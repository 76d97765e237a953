"""``switchboard router train|eval``: train routers from routing records and measure them.

    switchboard router train --data FILE [FILE…] --models MODELS.json --kind knn|mf|heads --out DIR
    switchboard router eval --router DIR|default --data FILE --strong MODEL --weak MODEL --json
    switchboard router eval --router DIR|default --data FILE --models MODELS.json --multi --json

``--router`` also accepts the baselines ``random``, ``always-strong``, ``always-weak`` and ``length``
for two-model evaluation. Files may be ``.jsonl`` or ``.jsonl.gz``; records without a score for a model
are skipped where that model is needed. Embeddings are computed with the reference all-MiniLM-L6-v2
and cached under ``var/router_cache``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import numpy as np

from core.embedders.manifest import default_models_dir


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    tr = sub.add_parser("train", help="train a router from routing records")
    tr.add_argument("--data", nargs="+", required=True, help="routing record files (.jsonl / .jsonl.gz)")
    tr.add_argument("--models", required=True, help="models.json with per-model prices")
    tr.add_argument("--kind", choices=("knn", "mf", "heads"), required=True)
    tr.add_argument("--out", required=True, help="output directory")
    tr.add_argument("--categories", help="categories.jsonl(.gz) to train the category classifier")
    tr.add_argument("--taxonomy", action="append", help="category taxonomies to use (repeatable)")
    tr.add_argument("--cache", default="var/router_cache/embeddings.npz")
    ev = sub.add_parser("eval", help="evaluate a router on labelled records")
    ev.add_argument("--router", required=True, help="router directory, 'default', or a baseline name")
    ev.add_argument("--data", required=True)
    ev.add_argument("--strong")
    ev.add_argument("--weak")
    ev.add_argument("--models", help="models.json (for --multi)")
    ev.add_argument("--multi", action="store_true", help="many-model cost/quality evaluation")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CI")
    ev.add_argument("--cache", default="var/router_cache/embeddings.npz")
    ev.add_argument(
        "--embedder",
        choices=("auto", "onnx", "reference"),
        default="auto",
        help="auto: the ONNX int8 export when var/models is prepared (faster), else the "
        "reference sentence-transformers model",
    )
    ev.add_argument("--models-dir", default=str(default_models_dir()))


def _env() -> None:
    for k, v in {
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }.items():
        os.environ.setdefault(k, v)


def _print(obj: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj))
    else:
        for k, v in obj.items():
            print(f"{k}: {v}")


def _train(args: argparse.Namespace) -> int:
    from routers.training.pipeline import train_files

    router, rs = train_files(
        args.data,
        args.models,
        args.kind,
        args.out,
        categories=args.categories,
        taxonomies=args.taxonomy,
        cache=args.cache,
    )
    print(
        json.dumps({"out": args.out, "kind": router.kind, "records": len(rs), "models": len(router.models)})
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from routers.evaluation import multi_report, predicted_costs, two_model_eval
    from routers.priors import price_rank_abilities
    from routers.router import BASELINES, BaselineRouter, Router
    from routers.serialize import load_router
    from routers.training.data import load_prices, load_records
    from routers.training.pipeline import features_for, onnx_models_dir
    from routers.training.train import record_costs

    rs = load_records([args.data])
    feats = features_for(rs.prompts, args.cache, onnx_models_dir(args.embedder, args.models_dir))
    if args.multi:
        if not args.models:
            print("router eval --multi needs --models MODELS.json", file=sys.stderr)
            return 2
        trained = load_router(args.router)
        prices = {m: (p.input_per_mtok, p.output_per_mtok) for m, p in load_prices(args.models).items()}
        models = [
            m for m in rs.models if m in prices and not np.isnan(rs.scores[:, rs.models.index(m)]).all()
        ]
        if not models:
            print("no model in the data has a price in --models", file=sys.stderr)
            return 2
        cols = [rs.models.index(m) for m in models]
        # models the router never saw get an ability prior from their price rank
        unknown = {m: prices[m][0] + 3 * prices[m][1] for m in models if trained.index(m) is None}
        rep = multi_report(
            models,
            trained.quality(feats, models, price_rank_abilities(unknown) if len(unknown) > 1 else None),
            predicted_costs(trained, feats, rs.prompts, models, prices),
            rs.scores[:, cols],
            record_costs(rs, prices, models),
        )
        _print(
            {
                "n": rep.n,
                "aiq": rep.aiq,
                "best_single_model": rep.best_single_model,
                "best_single_quality": rep.best_single_quality,
                "best_single_cost_usd": rep.best_single_cost_usd,
                "cost_fraction_at_best_single_quality": rep.cost_fraction_at_best_single_quality,
                "quality_at_half_best_single_cost": rep.quality_at_half_best_single_cost,
            },
            args.json,
        )
        return 0
    if not (args.strong and args.weak):
        print("router eval needs --strong and --weak (or --multi --models)", file=sys.stderr)
        return 2
    for m in (args.strong, args.weak):
        if m not in rs.models:
            print(f"no record in {args.data} has a score for {m!r}", file=sys.stderr)
            return 2
    router: Router = (
        BaselineRouter(args.router) if args.router in BASELINES else load_router(args.router)  # type: ignore[arg-type]
    )
    try:
        rep2 = two_model_eval(
            router,
            feats,
            rs.scores[:, rs.models.index(args.strong)],
            rs.scores[:, rs.models.index(args.weak)],
            args.strong,
            args.weak,
            n_boot=args.bootstrap,
        )
    except ValueError as exc:  # no prompts, or the strong model is not better: PGR is undefined
        print(f"router eval: {exc}", file=sys.stderr)
        return 1
    _print(
        {
            "n": rep2.n,
            "apgr": rep2.apgr,
            "cpt50": rep2.cpt50,
            "cpt80": rep2.cpt80,
            "apgr_ci95": list(rep2.apgr_ci95),
        },
        args.json,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    _env()
    if args.action == "train":
        return _train(args)
    return _eval(args)
