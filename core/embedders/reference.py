"""The reference embedder: all-MiniLM-L6-v2 through sentence-transformers (torch).

Used by tests (the ONNX export is checked against it), by offline training, and as a fallback
where the ONNX export is absent. Slow to import (~seconds): torch is imported only when an
instance is created, never at module import.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.embedders.compute import ComputeThread
from core.embedders.locate import minilm_source_dir

MODEL_NAME = "all-MiniLM-L6-v2"


def load_sentence_transformer(model_dir: Path | None = None, *, eager_attention: bool = False) -> Any:
    """``SentenceTransformer`` for the bundled model, on CPU, offline, one torch thread.

    ``eager_attention`` selects the plain attention implementation (the export needs it: the
    SDPA path traces into a graph ONNX Runtime cannot fuse). Outputs are the same."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    kwargs = {"attn_implementation": "eager"} if eager_attention else {}
    return SentenceTransformer(str(model_dir or minilm_source_dir()), device="cpu", model_kwargs=kwargs)


class SentenceTransformerEmbedder:
    """Embeds with sentence-transformers on the shared compute thread; rows L2-normalised."""

    def __init__(self, model_dir: Path | None = None, *, compute: ComputeThread | None = None) -> None:
        self._model = load_sentence_transformer(model_dir)
        get_dim = (  # renamed in sentence-transformers 6
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        self._dim = int(dim) if dim is not None else 384
        self._compute = compute or ComputeThread()

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def name(self) -> str:
        return f"{MODEL_NAME}/sentence-transformers"

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return await self._compute.run(self.embed_sync, list(texts))

    def embed_sync(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Blocking; call it only off the event loop."""
        vectors = self._model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)
