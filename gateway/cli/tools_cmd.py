"""``switchboard tools``: the tool knowledge base from the command line.

    switchboard tools eval --catalog CATALOG.jsonl --queries QUERIES.jsonl [--k 5] [--llm] --json
    switchboard tools search "query" [--catalog NAME|FILE] [--k 5] [--tenant T]
    switchboard tools add FILE [--db var/tools.sqlite]
    switchboard tools list | remove NAME...

``eval`` builds a fresh index from the catalog alone and prints n, recall@1/5/10, ndcg@5/10 and
sufficiency@5/10. Without ``--llm`` no language model is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_MODELS = Path(os.environ.get("SWITCHBOARD_MODELS_DIR", "var/models"))
DEFAULT_CACHE = Path("var/tools_kb/vectors.sqlite")
METRIC_KEYS = (
    "n",
    "recall@1",
    "recall@5",
    "recall@10",
    "ndcg@5",
    "ndcg@10",
    "sufficiency@5",
    "sufficiency@10",
)


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    ev = sub.add_parser("eval", help="evaluate retrieval on a catalog and a labelled query file")
    ev.add_argument("--catalog", required=True, type=Path)
    ev.add_argument("--queries", required=True, type=Path)
    ev.add_argument("--k", type=int, default=5)
    ev.add_argument("--llm", action="store_true", help="enhance tool documents with the configured model")
    ev.add_argument("--json", action="store_true", help="print only the JSON metrics")
    ev.add_argument("--method", default="auto", help="auto (default) | dense | bm25 | rrf | weighted:W")
    ev.add_argument("--no-decompose", action="store_true", help="auto without multi-intent decomposition")
    _embedder_args(ev)


def _embedder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS)
    p.add_argument("--embedder", choices=("auto", "onnx", "st"), default="auto")
    p.add_argument("--vector-cache", type=Path, default=DEFAULT_CACHE, help="'' disables the cache")


def run(args: argparse.Namespace) -> int:
    for key, value in (
        ("OMP_NUM_THREADS", "1"),
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ):
        os.environ.setdefault(key, value)
    handler = {"eval": _eval}[args.action]
    return asyncio.run(handler(args))


def _embedder(args: argparse.Namespace) -> Any:
    from tools_kb.embedders import local_embedder

    cache = args.vector_cache if str(args.vector_cache) else None
    return local_embedder(args.models_dir, prefer=args.embedder, cache=cache)


async def _eval(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from tools_kb.evaluation import evaluate_catalog, read_queries
    from tools_kb.loaders import load_tools_file

    if args.llm:
        print("--llm: tool-document enhancement is not available in this build", file=sys.stderr)
        return 2
    try:
        tools = load_tools_file(args.catalog)
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    queries = read_queries(args.queries)
    started = time.perf_counter()
    metrics, index = await evaluate_catalog(
        tools,
        queries,
        _embedder(args),
        k=args.k,
        method=args.method,
        decompose=False if args.no_decompose else None,
    )
    out = {key: metrics[key] for key in METRIC_KEYS}
    out["n"] = int(out["n"])
    if args.json:
        print(json.dumps(out))
    else:
        print(f"catalog: {args.catalog} ({len(tools)} tools), queries: {args.queries}")
        print(f"fusion: {index.fusion.describe()} — {index.fusion.reason}")
        for key, value in out.items():
            print(f"  {key:15s} {value}")
        print(f"({time.perf_counter() - started:.1f} s)")
    return 0
