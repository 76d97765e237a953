"""Tool KB latency: ``python -m bench.tools_latency --json``.

For synthetic catalogs (default 10k and 100k tools) it builds a ToolIndex with the hot-path ONNX
embedder (tool documents embedded, BM25 built, fusion tuned on pseudo-queries) and times
single-intent searches end to end — query embedding, dense + BM25 scoring, fusion, top-k —
one at a time on one thread. Prints per size ``{"p50_ms", "p99_ms", "build_tools_per_s"}``, and
``p50_ms_float32_scan``: the same searches with the int8 prefilter off (every query scans the
whole float32 matrix; :mod:`tools_kb.bounded_topk`), timed in alternating blocks with them.

Synthetic tools are built from word lists (verb × object × domain), so documents are short and
distinct like real catalogs'; queries paraphrase random tools. ``--build-limit N`` embeds at
most N documents and fills the rest of a bigger catalog with perturbed copies of their vectors
(the search cost depends only on the matrix size); the build rate is then measured on the N.
The timed build is ``ToolIndex.build`` itself (documents, their embedding, fusion tuning with its
pseudo-queries and held-out views, the decomposition check with the clauses of the descriptions
it cuts — none here: the synthetic descriptions have no cut —, BM25, centrality), embedding on ``--build-threads`` ONNX
sessions in parallel (default: one per CPU; :mod:`tools_kb.parallel_embed`, same vectors as one
session); ``build_embed_s`` is the part of ``build_s`` spent in embedding calls. Searches embed
their query on the single hot-path session, in one hop to its compute thread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.embedders.manifest import default_models_dir

VERBS = [
    "get",
    "list",
    "create",
    "update",
    "delete",
    "search",
    "find",
    "book",
    "cancel",
    "convert",
    "send",
    "check",
    "calculate",
    "analyze",
    "translate",
    "schedule",
    "track",
    "export",
    "import",
    "summarize",
]
OBJECTS = [
    "invoice",
    "flight",
    "hotel",
    "order",
    "ticket",
    "weather",
    "stock",
    "email",
    "meeting",
    "recipe",
    "song",
    "playlist",
    "contract",
    "patient",
    "record",
    "shipment",
    "payment",
    "review",
    "photo",
    "document",
    "account",
    "lead",
    "campaign",
    "report",
    "sensor",
    "device",
    "route",
    "budget",
]
DOMAINS = [
    "travel",
    "finance",
    "health",
    "retail",
    "music",
    "legal",
    "logistics",
    "marketing",
    "energy",
    "education",
    "sports",
    "real estate",
    "insurance",
    "gaming",
    "security",
    "agriculture",
    "media",
    "telecom",
    "hr",
    "science",
]


def synthetic_tools(n: int, seed: int = 0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(n):
        v, o, d = rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(DOMAINS)
        name = f"{v}{o.title()}{d.title().replace(' ', '')}{i}"
        out.append(
            {
                "name": name,
                "description": f"{v.title()} a {o} in the {d} system ({rng.choice(OBJECTS)} aware, variant {i % 97})",
                "parameters": {
                    "type": "object",
                    "properties": {
                        f"{o}_id": {"type": "string", "description": f"Identifier of the {o}"},
                        "region": {"type": "string", "description": f"{d} region"},
                    },
                },
                "tags": [d],
            }
        )
    return out


def synthetic_queries(tools: list[dict[str, object]], n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        desc = str(rng.choice(tools)["description"]).split(" (")[0].lower()
        out.append(f"please {desc} for customer {rng.randint(1, 9999)}")
    return out


class _TimedEmbedder:
    """Wraps the build embedder and adds up the seconds its ``embed`` calls take."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.seconds = 0.0
        self.texts = 0

    @property
    def dim(self) -> int:
        return int(self._inner.dim)

    @property
    def name(self) -> str:
        return str(self._inner.name)

    async def embed(self, texts: Sequence[str]) -> Any:
        start = time.perf_counter()
        try:
            return await self._inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - start
            self.texts += len(texts)


async def run_size(
    n: int, models_dir: Path, queries: int, build_limit: int | None, build_threads: int | None = None
) -> dict[str, float]:
    from core.embedders import OnnxMiniLMEmbedder
    from tools_kb.documents import build_document
    from tools_kb.index import ToolIndex
    from tools_kb.parallel_embed import ParallelEmbedder
    from tools_kb.tool import parse_tool

    embedder = OnnxMiniLMEmbedder.from_models_dir(models_dir)
    builder = ParallelEmbedder.onnx(models_dir, build_threads)
    timed = _TimedEmbedder(builder)
    raw = synthetic_tools(n)
    tools = [parse_tool(r) for r in raw]
    built = min(n, build_limit) if build_limit else n
    # The build is ToolIndex.build itself: documents, their embedding, fusion tuning (its
    # pseudo-queries and held-out views embedded too), the decomposition check, BM25, centrality.
    t0 = time.perf_counter()
    index = await ToolIndex.build(tools[:built], timed, query_embedder=embedder)
    t_build = time.perf_counter() - t0
    build_rate = built / t_build
    builder.close()
    if built < n:  # the rest: perturbed copies of the embedded vectors, BM25 over every tool
        vectors = index.vectors
        rng = np.random.default_rng(0)
        extra = vectors[rng.integers(0, built, n - built)] + rng.normal(
            0, 0.02, (n - built, vectors.shape[1])
        )
        extra /= np.linalg.norm(extra, axis=1, keepdims=True)
        vectors = np.vstack([vectors, extra.astype(np.float32)])
        docs = [build_document(t) for t in tools]
        index = ToolIndex(tools, docs, vectors, embedder, index.fusion, index.tuning)
    # The same index scanning the whole float32 matrix for every query (no int8 prefilter),
    # timed on the same queries in alternating blocks of 25 with the shipped one (blocks, so
    # neither evicts the other's data between its own queries): the prefilter's gain, same minute.
    full_scan = ToolIndex(
        index.tools, index.docs, index.vectors, embedder, index.fusion, index.tuning, prefilter=False
    )
    qs = synthetic_queries(raw, queries)
    for q in qs[:10]:  # warm-up
        await index.search(q, 5)
        await full_scan.search(q, 5)
    times: list[float] = []
    full_times: list[float] = []
    for b, start in enumerate(range(0, len(qs), 25)):
        pair = ((index, times), (full_scan, full_times))
        for which, out in pair if b % 2 else pair[::-1]:
            for q in qs[start : start + 25]:
                s = time.perf_counter()
                await which.search(q, 5)
                out.append((time.perf_counter() - s) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(times[int(0.99 * (len(times) - 1))], 3),
        "p50_ms_float32_scan": round(statistics.median(full_times), 3),
        "int8_prefilter": index.prefiltered,
        "build_tools_per_s": round(build_rate, 1),
        "tools": n,
        "embedded_at_build": built,
        "build_threads": builder.threads,
        "build_s": round(t_build, 2),
        "build_embed_s": round(timed.seconds, 2),  # documents + tuning and check texts, wall
        "build_texts_embedded": timed.texts,
        "fusion": index.fusion.describe(),  # type: ignore[dict-item]
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tools_latency")
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument(
        "--build-limit",
        type=int,
        default=20000,
        help="embed at most this many documents per size (rest: perturbed copies)",
    )
    p.add_argument(
        "--build-threads",
        type=int,
        default=None,
        help="ONNX sessions embedding the catalog in parallel (default: one per CPU)",
    )
    p.add_argument("--models-dir", type=Path, default=default_models_dir())
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    results = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        results[str(size)] = asyncio.run(
            run_size(size, args.models_dir, args.queries, args.build_limit, args.build_threads)
        )
        if not args.json:
            print(size, results[str(size)], file=sys.stderr)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
