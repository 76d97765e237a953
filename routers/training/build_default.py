"""Build the shipped default router (``make router``) from the data copied under config/routers/data.

    python -m routers.training.build_default [--data-dir config/routers/data] [--out config/routers/default]

Deterministic given the data and the embedding model (fixed seeds, full-batch optimisers).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from routers.router import Family
from routers.serialize import save_router
from routers.training.categories import coarse_category
from routers.training.data import load_prices, load_records, read_jsonl
from routers.training.pipeline import features_for
from routers.training.train import CategoryData, TrainConfig, train_router

RECORD_FILES = (
    "llmrouter_train.jsonl.gz",
    "mmlu_pro.jsonl.gz",
    "alpaca_eval.jsonl.gz",
    "routerarena.jsonl.gz",
)
EXTRA_CATEGORY_FILE = "arena_hard_v2_categories.jsonl.gz"
FAMILY: Family = "heads"
# No kNN blend: its table of training prompts would not fit the 5 MB budget.
CONFIG = TrainConfig(knn_blend=False)


def category_data(data_dir: Path, records: list[dict[str, object]]) -> CategoryData:
    """Coarse labels from the records' own categories plus arena-hard v2 prompts; alpaca_eval = chat."""
    texts: list[str] = []
    labels: list[str] = []
    taxonomy_of = {
        "llmrouter": "llmrouter_task14",
        "mmlu_pro": "mmlupro_category14",
        "routerarena": "routerarena_dataset_subcat",
    }
    for r in records:
        fam = str(r["source"]).split("/", 1)[0]
        lab = (
            "chat" if fam == "alpaca_eval" else coarse_category(taxonomy_of.get(fam, ""), str(r["category"]))
        )
        if lab:
            texts.append(str(r["prompt"]))
            labels.append(lab)
    for r in read_jsonl(data_dir / EXTRA_CATEGORY_FILE):
        lab = coarse_category(str(r["taxonomy"]), str(r["label"]))
        if lab:
            texts.append(str(r["text"]))
            labels.append(lab)
    return CategoryData(tuple(texts), tuple(labels), features_for(texts))


def build(data_dir: Path, out: Path) -> dict[str, object]:
    files = [data_dir / f for f in RECORD_FILES]
    raw: list[dict[str, object]] = []
    for f in files:
        raw.extend(read_jsonl(f))
    rs = load_records(files)
    feats = features_for(rs.prompts)
    prices = load_prices(data_dir / "models.json")
    meta = {
        "data": list(RECORD_FILES),
        "built_by": "make router",
        "prices": {m: [p.input_per_mtok, p.output_per_mtok] for m, p in prices.items()},
    }
    cfg = TrainConfig(**{**CONFIG.__dict__, "extra_meta": meta})
    router = train_router(FAMILY, rs, feats, cfg, category_data(data_dir, raw))
    save_router(router, out)
    size = sum(p.stat().st_size for p in out.iterdir())
    return {
        "out": str(out),
        "family": FAMILY,
        "records": len(rs),
        "models": len(router.models),
        "bytes": size,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="config/routers/data")
    p.add_argument("--out", default="config/routers/default")
    args = p.parse_args(argv)
    print(json.dumps(build(Path(args.data_dir), Path(args.out))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
