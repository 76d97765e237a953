"""The hot-path embedder: all-MiniLM-L6-v2 as an ONNX Runtime int8 graph.

The graph (made by ``switchboard prepare-models``) takes ``input_ids``, ``attention_mask`` and
``token_type_ids`` and returns ``sentence_embedding``: mean-pooled over the mask and L2-normalised,
so nothing but tokenization happens in Python. Tokenization uses the fast ``tokenizers`` library
(``tokenizer.json``) truncated to 256 word pieces, as the model was trained. No torch import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.embedders.compute import ComputeThread
from core.embedders.manifest import read_manifest
from core.errors import LocalModelError

DEFAULT_MAX_LENGTH = 256
# ORT graph optimizers turned off at load (must match how core.embedders.export fused the graph)
UNFUSED_OPTIMIZERS = ("SkipLayerNormFusion",)
# Rows of one ONNX run. 1 (the default) makes every vector depend on its text alone: dynamic int8
# picks one activation scale per run, so rows batched together (and their padding) shift each
# other's vectors by as much as the int8 error itself (cosine 0.987 batched vs alone, measured),
# which would also make cached vectors depend on what they happened to be batched with. On one
# core a ~200-token prompt is already a 200-row GEMM, so batching rows buys no speed for it.
DEFAULT_ROWS_PER_RUN = 1
# The size of one background call of embed_background, in characters with each text counting
# BACKGROUND_TEXT_CHARS more (its own ONNX run costs ~0.8 ms, as much as ~100 characters): three
# short tool documents or ~9 short texts, ~10 ms on this CPU in a quiet minute (twice that in a
# slow one), which is how long a request can wait behind an index build. A text above it (up to
# 256 word pieces, ~20 ms) is a slice of its own. Slices in flight (queued on the compute thread)
# at most BACKGROUND_WINDOW: enough to keep the thread busy, few enough for a 100k-tool build.
BACKGROUND_SLICE_CHARS = 1000
BACKGROUND_TEXT_CHARS = 100
BACKGROUND_WINDOW = 32


class OnnxMiniLMEmbedder:
    """Embeds with ONNX Runtime on one thread (intra_op 1, inter_op 1, sequential execution).

    ``embed`` runs on the shared :class:`ComputeThread`; ``embed_sync`` is the same work in the
    calling thread (for benches and offline jobs). Raises LocalModelError when files are missing.
    """

    def __init__(
        self,
        onnx_path: Path,
        tokenizer_path: Path,
        *,
        name: str,
        dim: int,
        max_length: int = DEFAULT_MAX_LENGTH,
        rows_per_run: int = DEFAULT_ROWS_PER_RUN,
        compute: ComputeThread | None = None,
    ) -> None:
        # Imported here so that `import core.embedders` stays cheap for code that never embeds.
        import onnxruntime as ort
        from tokenizers import Tokenizer

        for path in (onnx_path, tokenizer_path):
            if not Path(path).is_file():
                raise LocalModelError(f"{path} not found: run `switchboard prepare-models`")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session: Any = ort.InferenceSession(
            str(onnx_path),
            sess_options=opts,
            providers=["CPUExecutionProvider"],
            # ORT's SkipLayerNormalization kernel costs ~1/4 of a short text's run on this CPU;
            # the export leaves residual Add + LayerNormalization unfused (see export.py).
            disabled_optimizers=list(UNFUSED_OPTIMIZERS),
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer = tokenizer
        self._name = name
        self._dim = dim
        self._rows_per_run = max(1, rows_per_run)
        self._compute = compute or ComputeThread()

    @classmethod
    def from_models_dir(
        cls,
        models_dir: Path,
        *,
        rows_per_run: int = DEFAULT_ROWS_PER_RUN,
        compute: ComputeThread | None = None,
    ) -> OnnxMiniLMEmbedder:
        """Load the export described by ``models_dir/manifest.json``."""
        manifest = read_manifest(models_dir).embedder
        return cls(
            Path(models_dir) / manifest.onnx,
            Path(models_dir) / manifest.tokenizer,
            name=manifest.cache_name,
            dim=manifest.dim,
            max_length=manifest.max_length,
            rows_per_run=rows_per_run,
            compute=compute,
        )

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute(self) -> ComputeThread:
        """The thread ``embed`` runs on: callers that do more CPU work with the vectors (a tool
        search scoring its index) run it there in the same hop, around ``embed_sync``."""
        return self._compute

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """``(len(texts), dim)`` float32, rows L2-normalised; runs on the compute thread."""
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return await self._compute.run(self.embed_sync, list(texts))

    async def embed_background(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """:meth:`embed` for bulk work (an index build): texts of similar length are cut into
        slices of at most ``BACKGROUND_SLICE_CHARS`` (see there), each one background call on the compute
        thread (:meth:`ComputeThread.run_background`), so that requests' embeddings and
        searches run between slices instead of after the whole batch. The same vectors as
        :meth:`embed` when every text is embedded alone (``rows_per_run=1``, the default)."""
        texts = list(texts)
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        slices: list[list[int]] = [[]]
        chars = 0
        for i in sorted(range(len(texts)), key=lambda i: len(texts[i])):
            cost = len(texts[i]) + BACKGROUND_TEXT_CHARS
            if slices[-1] and chars + cost > BACKGROUND_SLICE_CHARS:
                slices.append([])
                chars = 0
            slices[-1].append(i)
            chars += cost
        parts: list[npt.NDArray[np.float32] | None] = [None] * len(slices)
        pending = iter(range(len(slices)))

        async def feed() -> None:  # one of BACKGROUND_WINDOW feeders; each takes the next slice
            for k in pending:
                parts[k] = await self._compute.run_background(self.embed_sync, [texts[i] for i in slices[k]])

        feeders = [asyncio.ensure_future(feed()) for _ in range(min(BACKGROUND_WINDOW, len(slices)))]
        try:
            await asyncio.gather(*feeders)
        except BaseException:  # a failed or cancelled build: the slices not run yet are dropped
            for feeder in feeders:
                feeder.cancel()
            raise
        for rows, vectors in zip(slices, parts, strict=True):
            assert vectors is not None
            out[rows] = vectors
        return out

    def embed_sync(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Blocking version of :meth:`embed`; call it only off the event loop."""
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        # Sorted by length, so rows that share a run need little padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self._rows_per_run):
            rows = order[start : start + self._rows_per_run]
            out[rows] = self._run([encodings[i] for i in rows])
        return out

    def _run(self, encodings: Sequence[Any]) -> npt.NDArray[np.float32]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        (vectors,) = self._session.run(["sentence_embedding"], feeds)
        return np.asarray(vectors, dtype=np.float32)
