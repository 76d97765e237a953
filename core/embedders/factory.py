"""``default_embedder``: the composition every caller should use.

    CachedEmbedder(LRU → Store)  →  BatchingEmbedder  →  OnnxMiniLMEmbedder (one compute thread)

Cache hits never wait for a batch; misses from concurrent requests share one ONNX run.
"""

from __future__ import annotations

from pathlib import Path

from core.embedders.batching import BatchingEmbedder
from core.embedders.cache import CachedEmbedder
from core.embedders.compute import ComputeThread
from core.embedders.onnx_embedder import OnnxMiniLMEmbedder
from core.embedding import Embedder
from core.store.protocol import Store


def default_embedder(
    models_dir: Path | str,
    store: Store | None = None,
    *,
    compute: ComputeThread | None = None,
    max_batch: int = 64,
    max_wait_s: float = 0.0,
    lru_items: int = 4096,
) -> Embedder:
    """The hot-path embedder from ``models_dir`` (``var/models``, made by prepare-models).

    ``store``: the gateway's Store (shared cache across replicas) or None for the LRU only.
    ``compute``: the process's shared ComputeThread (one is created when None).
    ``max_wait_s``: how long a lone cache miss waits for company (0: one loop turn; under load
    batches form anyway while the previous one runs).
    Blocks ~0.1 s loading the ONNX session; call it once at start-up (the lifespan).
    Raises core.errors.LocalModelError when the models folder was not prepared.
    """
    onnx = OnnxMiniLMEmbedder.from_models_dir(Path(models_dir), compute=compute)
    batching = BatchingEmbedder(onnx, max_batch=max_batch, max_wait_s=max_wait_s)
    return CachedEmbedder(batching, store, lru_items=lru_items)
