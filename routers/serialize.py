"""Save and load trained routers: a directory with ``manifest.json`` and ``arrays.npz``.

The manifest names the family, the models, the embedder the router expects and the shapes; arrays are
float16/float32 so the shipped default stays far below 5 MB. ``load_router("default")`` reads the
router shipped in ``config/routers/default``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import ConfigError
from routers.components import BilinearScorer, DesignMap, KnnScorer, Mlp
from routers.features import CHEAP_FEATURES
from routers.router import CategoryHead, DifficultyHead, TrainedRouter

FORMAT_VERSION = 1
EMBEDDER = "all-MiniLM-L6-v2"


def default_router_dir() -> Path:
    """``config/routers/default`` of this checkout."""
    return Path(__file__).resolve().parents[1] / "config" / "routers" / "default"


def resolve_router_dir(path: str | Path) -> Path:
    return default_router_dir() if str(path) == "default" else Path(path)


def save_router(router: TrainedRouter, out_dir: str | Path) -> Path:
    """Write ``router`` into ``out_dir`` (created); returns the directory."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, npt.NDArray[np.generic]] = {}
    arrays.update(router.design.to_arrays("design/"))
    arrays.update(router.scorer.to_arrays("scorer/"))
    arrays.update(router.difficulty.net.to_arrays("difficulty/"))
    if router.tokens is not None:
        arrays.update(router.tokens.to_arrays("tokens/"))
    arrays["mean_tokens"] = router.mean_tokens.astype(np.float32)
    arrays["pair_counts"] = router.pair_counts.astype(np.int32)
    if router.categories is not None:
        arrays.update(router.categories.net.to_arrays("categories/"))
    if router.knn is not None:
        arrays.update(router.knn.to_arrays("knn/"))
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "family": router.family,
        "scorer": type(router.scorer).__name__,
        "models": list(router.models),
        "embedder": EMBEDDER,
        "cheap_features": list(CHEAP_FEATURES),
        "abilities": dict(router.difficulty.abilities),
        "category_labels": list(router.categories.labels) if router.categories else None,
        "meta": dict(router.meta),
    }
    np.savez_compressed(out / "arrays.npz", **arrays)  # type: ignore[arg-type]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", "utf-8")
    return out


def load_router(path: str | Path) -> TrainedRouter:
    """Load a router saved by :func:`save_router` (``"default"`` = the shipped one).

    Raises :class:`core.errors.ConfigError` when the directory is missing or from another format.
    """
    d = resolve_router_dir(path)
    try:
        manifest = json.loads((d / "manifest.json").read_text("utf-8"))
        with np.load(d / "arrays.npz") as npz:
            a = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise ConfigError([f"{d}: cannot read router: {exc}"]) from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise ConfigError([f"{d}/manifest.json: unsupported router format {manifest.get('format')!r}"])
    if manifest.get("cheap_features") != list(CHEAP_FEATURES):
        raise ConfigError([f"{d}/manifest.json: router was trained on other cheap features"])
    scorer_kind = manifest["scorer"]
    scorer: KnnScorer | BilinearScorer | Mlp
    if scorer_kind == "KnnScorer":
        scorer = KnnScorer.from_arrays("scorer/", a)
    elif scorer_kind == "BilinearScorer":
        scorer = BilinearScorer.from_arrays("scorer/", a)
    elif scorer_kind == "Mlp":
        scorer = Mlp.from_arrays("scorer/", a)
    else:
        raise ConfigError([f"{d}/manifest.json: unknown scorer {scorer_kind!r}"])
    labels = manifest.get("category_labels")
    return TrainedRouter(
        family=manifest["family"],
        models=tuple(manifest["models"]),
        design=DesignMap.from_arrays("design/", a),
        scorer=scorer,
        difficulty=DifficultyHead(
            Mlp.from_arrays("difficulty/", a), {k: float(v) for k, v in manifest["abilities"].items()}
        ),
        tokens=Mlp.from_arrays("tokens/", a) if "tokens/w0" in a else None,
        mean_tokens=np.asarray(a["mean_tokens"], np.float64),
        pair_counts=np.asarray(a["pair_counts"], np.int64),
        categories=CategoryHead(tuple(labels), Mlp.from_arrays("categories/", a)) if labels else None,
        knn=KnnScorer.from_arrays("knn/", a) if "knn/keys" in a else None,
        meta=manifest.get("meta", {}),
    )
