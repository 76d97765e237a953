"""Local embedders (all-MiniLM-L6-v2): ONNX int8 hot path, sentence-transformers reference,
micro-batching, content-hash cache. Start from :func:`default_embedder`.

Importing this package is cheap: onnxruntime, tokenizers and torch load only when an embedder
is created.
"""

from core.embedders.background import BackgroundEmbedder
from core.embedders.batching import BatchingEmbedder
from core.embedders.cache import CachedEmbedder
from core.embedders.compute import ComputeThread
from core.embedders.factory import default_embedder
from core.embedders.onnx_embedder import OnnxMiniLMEmbedder
from core.embedders.reference import SentenceTransformerEmbedder

__all__ = [
    "BackgroundEmbedder",
    "BatchingEmbedder",
    "CachedEmbedder",
    "ComputeThread",
    "OnnxMiniLMEmbedder",
    "SentenceTransformerEmbedder",
    "default_embedder",
]
