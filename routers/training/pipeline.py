"""File-level entry points used by ``switchboard router train/eval`` and ``make router``.

Embeddings come from the reference sentence-transformers model through the on-disk cache
(:mod:`routers.training.embed_cache`), so repeated runs embed each prompt once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from routers.features import Features, make_features
from routers.router import Family, TrainedRouter
from routers.serialize import save_router
from routers.training.data import RecordSet, load_prices, load_records, read_jsonl
from routers.training.embed_cache import DEFAULT_CACHE, embed_texts
from routers.training.train import CategoryData, TrainConfig, train_router


def onnx_models_dir(choice: str, models_dir: str | Path = "var/models") -> Path | None:
    """``reference`` → None; ``onnx`` → the models dir; ``auto`` → the models dir when it holds a
    prepared export (manifest.json), else None."""
    if choice == "reference":
        return None
    d = Path(models_dir)
    if choice == "onnx" or (d / "manifest.json").exists():
        return d
    return None


def features_for(
    texts: Sequence[str], cache: str | Path = DEFAULT_CACHE, onnx_dir: str | Path | None = None
) -> Features:
    """Features of ``texts`` with cached embeddings (reference model, or the ONNX export in ``onnx_dir``)."""
    return make_features(embed_texts(list(texts), cache, onnx_models_dir=onnx_dir), list(texts))


def load_categories(path: str | Path, taxonomies: Sequence[str] | None, cache: str | Path) -> CategoryData:
    rows = [r for r in read_jsonl(path) if not taxonomies or r.get("taxonomy") in taxonomies]
    texts = tuple(str(r["text"]) for r in rows)
    labels = tuple(str(r["label"]) for r in rows)
    return CategoryData(texts, labels, features_for(texts, cache))


def train_files(
    data: Sequence[str | Path],
    models_json: str | Path,
    family: Family,
    out: str | Path,
    *,
    categories: str | Path | None = None,
    taxonomies: Sequence[str] | None = None,
    cfg: TrainConfig | None = None,
    cache: str | Path = DEFAULT_CACHE,
) -> tuple[TrainedRouter, RecordSet]:
    """Train a ``family`` router on the record files and save it to ``out``."""
    rs = load_records(data)
    prices = load_prices(models_json)
    feats = features_for(rs.prompts, cache)
    cats = load_categories(categories, taxonomies, cache) if categories else None
    base = cfg or TrainConfig()
    meta = {
        **base.extra_meta,
        "prices": {m: [p.input_per_mtok, p.output_per_mtok] for m, p in prices.items()},
        "data": [Path(p).name for p in data],
    }
    cfg2 = TrainConfig(**{**base.__dict__, "extra_meta": meta})
    router = train_router(family, rs, feats, cfg2, cats)
    save_router(router, out)
    return router, rs
