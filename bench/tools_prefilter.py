"""Does the int8 prefilter change any result? ``python -m bench.tools_prefilter --json``

For each public query set in ../shared/data/tools, builds the index the way ``switchboard tools
eval`` does (auto fusion; and the dense baseline), then searches every query twice: with the int8
prefilter forced on (``prefilter_min_rows=2``; the shipped index uses it from 4096 public tools,
which none of these catalogs reaches) and with every query scanning the float32 matrix. Adaptive k
too. Prints per set and method: queries, how many got the identical ranked list of 10, and the
largest score difference between the two (float32 summation order only). Nothing is timed here:
``bench.tools_latency`` reports the speed.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from bench.tools_args import data_bench_parser

SETS = {
    "toole_single": ("toole", "queries_single"),
    "toole_multi": ("toole", "queries_multi"),
    "seal_tools_dev": ("seal_tools", "queries_dev"),
    "api_bank": ("api_bank", "queries"),
    "apibench_hf": ("apibench_hf", "queries"),
}


async def _compare(index: Any, plain: Any, queries: list[str], options: Any) -> dict[str, float]:
    got = await index.search_many(queries, 10, None, options)
    want = await plain.search_many(queries, 10, None, options)
    same = sum([h.name for h in a] == [h.name for h in b] for a, b in zip(got, want, strict=True))
    diff = max(
        (abs(h.score - g.score) for a, b in zip(got, want, strict=True) for h, g in zip(a, b, strict=False)),
        default=0.0,
    )
    return {"queries": len(queries), "identical": same, "max_score_diff": diff}


async def run(data: Path, models: Path, cache: Path | None, sets: list[str]) -> dict[str, Any]:
    from tools_kb.embedders import local_embedder
    from tools_kb.evaluation import read_queries
    from tools_kb.fusion import DENSE_ONLY
    from tools_kb.index import ToolIndex
    from tools_kb.loaders import load_tools_file
    from tools_kb.search_options import SearchOptions

    embedder = local_embedder(models, cache=cache)
    out: dict[str, Any] = {}
    built: dict[str, Any] = {}
    for name in sets:
        catalog, qfile = SETS[name]
        if catalog not in built:
            built[catalog] = await ToolIndex.build(
                load_tools_file(data / catalog / "catalog.jsonl"), embedder
            )
        auto = built[catalog]
        queries = [q.query for q in read_queries(data / catalog / f"{qfile}.jsonl")]
        for method, fusion in (("auto", auto.fusion), ("dense", DENSE_ONLY)):
            parts = (auto.tools, auto.docs, auto.vectors, embedder, fusion, auto.tuning)
            forced = ToolIndex(*parts, prefilter_min_rows=2)
            plain = ToolIndex(*parts, prefilter=False)
            assert forced.prefiltered and not plain.prefiltered
            for label, options in (("", SearchOptions()), ("_adaptive", SearchOptions(min_score_ratio=0.6))):
                out[f"{name}/{method}{label}"] = await _compare(forced, plain, queries, options)
    return out


def main(argv: list[str] | None = None) -> int:
    p = data_bench_parser("python -m bench.tools_prefilter")
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    args = p.parse_args(argv)
    cache = args.vector_cache if str(args.vector_cache) else None
    results = asyncio.run(run(args.data, args.models_dir, cache, args.sets.split(",")))
    if args.json:
        print(json.dumps(results))
    else:
        for key, row in results.items():
            print(
                f"{key:32s} {row['identical']}/{row['queries']} identical, max score diff {row['max_score_diff']:.1e}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
