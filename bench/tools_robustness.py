"""Does the automatic fusion beat the baselines on catalogs it was never looked at on?

``python -m bench.tools_robustness --json``

Issue 4 asks that ``auto`` be at least as good as the best of BM25 / dense / RRF on every
catalog, including catalogs that are not in ``../shared/data``. This bench derives such catalogs
from the public ones, each changing one thing the pipeline leans on, and runs the four methods of
``switchboard tools eval`` on each (same code path: :func:`tools_kb.evaluation.evaluate_catalog`):

- ``seal_opaque_names``: Seal-Tools with every name replaced by ``tool_00042`` (no name words
  for name pairs, name mentions or the dense text);
- ``seal_no_parameters``: Seal-Tools without parameter schemas (shorter, vaguer documents);
- ``toole_short_descriptions``: ToolE with each description cut to its first 8 words;
- ``merged``: ToolE + API-Bank + APIBench-HF in one catalog (three writing styles; a sample of
  each query set);
- ``sub_<catalog>_<n>_<seed>``: random catalogs of 30 / 60 / 120 tools (APIBench-HF also 300,
  since it has about one query per tool), half of them tools that some query needs, half others,
  with the queries whose gold tools are all in it.

The derived catalogs are made in memory with fixed seeds; nothing is written. Prints per catalog
the four methods' Recall@1/@5, nDCG@5 and Sufficiency@5, the chosen fusion and decomposition
level (:mod:`tools_kb.decomposition_check`), and ``auto`` minus the best baseline per metric;
a summary counts the catalogs where ``auto`` is at least the best baseline and averages the
differences (a change that helps the public sets but lowers that mean is suspect). A whole run embeds ~25k new texts once (then they come from the vector cache).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.tools_args import data_bench_parser

Row = dict[str, Any]
METRICS = ("recall@1", "recall@5", "ndcg@5", "sufficiency@5")
BASELINES = ("dense", "bm25", "rrf")
# APIBench-HF has about one query per tool, so its small catalogs hold few queries: 300 too.
SUBSET_SIZES = {"toole": (30, 60, 120), "hf": (30, 60, 120, 300)}
SUBSET_SEEDS = (1, 2)
MAX_QUERIES = 2000


def _read(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sample(rows: Sequence[Row], n: int, seed: int) -> list[Row]:
    return list(rows) if len(rows) <= n else random.Random(seed).sample(list(rows), n)


def _renamed(
    tools: Sequence[Row], queries: Sequence[Row], rename: Callable[[int, str], str]
) -> tuple[list[Row], list[Row]]:
    names = {t["name"]: rename(i, t["name"]) for i, t in enumerate(tools)}
    return (
        [{**t, "name": names[t["name"]]} for t in tools],
        [{**q, "gold": [names[g] for g in q["gold"]]} for q in queries],
    )


def _subset(
    tools: Sequence[Row], queries: Sequence[Row], size: int, seed: int
) -> tuple[list[Row], list[Row]]:
    rng = random.Random(seed * 1000 + size)
    needed = sorted({g for q in queries for g in q["gold"]})
    chosen = set(rng.sample(needed, min(size // 2, len(needed))))
    others = [t["name"] for t in tools if t["name"] not in chosen]
    chosen |= set(rng.sample(others, min(size - len(chosen), len(others))))
    kept = [q for q in queries if set(q["gold"]) <= chosen]
    return [t for t in tools if t["name"] in chosen], _sample(kept, MAX_QUERIES, seed)


def derived_catalogs(data: Path) -> dict[str, tuple[list[Row], list[Row]]]:
    """name -> (tool definitions, labelled queries), all derived from ``data`` (the tools folder
    of ../shared/data) with fixed seeds."""
    seal, seal_q = _read(data / "seal_tools/catalog.jsonl"), _read(data / "seal_tools/queries_dev.jsonl")
    toole, single = _read(data / "toole/catalog.jsonl"), _read(data / "toole/queries_single.jsonl")
    multi = _read(data / "toole/queries_multi.jsonl")
    bank, bank_q = _read(data / "api_bank/catalog.jsonl"), _read(data / "api_bank/queries.jsonl")
    hf, hf_q = _read(data / "apibench_hf/catalog.jsonl"), _read(data / "apibench_hf/queries.jsonl")
    out: dict[str, tuple[list[Row], list[Row]]] = {
        "seal_opaque_names": _renamed(seal, seal_q, lambda i, _: f"tool_{i:05d}"),
        "seal_no_parameters": ([{**t, "parameters": None} for t in seal], seal_q),
        "toole_short_descriptions": (
            [{**t, "description": " ".join(str(t.get("description") or "").split()[:8])} for t in toole],
            _sample(single, MAX_QUERIES, 5) + multi,
        ),
        "merged": (toole + bank + hf, _sample(single, MAX_QUERIES, 5) + multi + bank_q + hf_q),
    }
    for label, tools, queries in (("toole", toole, single), ("hf", hf, hf_q)):
        for size in SUBSET_SIZES[label]:
            if size >= len(tools):
                continue  # not a subset
            for seed in SUBSET_SEEDS:
                sub_tools, sub_queries = _subset(tools, queries, size, seed)
                if len(sub_queries) >= 30:  # fewer cannot tell methods apart
                    out[f"sub_{label}_{size}_{seed}"] = (sub_tools, sub_queries)
    return out


async def _evaluate(tools_raw: Sequence[Row], queries_raw: Sequence[Row], embedder: Any, build: Any) -> Row:
    from tools_kb.evaluation import LabelledQuery, evaluate_catalog
    from tools_kb.tool import parse_tool

    tools = [parse_tool(t, where=f"#{i}") for i, t in enumerate(tools_raw)]
    queries = [
        LabelledQuery(str(q.get("id", i)), str(q["query"]), tuple(q["gold"]))
        for i, q in enumerate(queries_raw)
    ]
    row: Row = {"tools": len(tools), "queries": len(queries)}
    for method in ("auto", *BASELINES):
        metrics, index = await evaluate_catalog(tools, queries, embedder, method=method, build_embedder=build)
        row[method] = {m: round(metrics[m], 4) for m in METRICS}
        if method == "auto":
            row["fusion"] = index.fusion.describe()
            row["decomposition"] = index.split
    row["auto_minus_best"] = {
        m: round(row["auto"][m] - max(row[b][m] for b in BASELINES), 4) for m in METRICS
    }
    return row


async def run(data: Path, models_dir: Path, cache: Path | None, only: Sequence[str]) -> dict[str, Any]:
    from tools_kb.embedders import build_embedder, local_embedder

    embedder = local_embedder(models_dir, cache=cache)
    build = build_embedder(models_dir, embedder, cache=cache)
    results: dict[str, Any] = {}
    for name, (tools, queries) in derived_catalogs(data).items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        results[name] = await _evaluate(tools, queries, embedder, build)
        print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    summary = {
        m: f"{sum(r['auto_minus_best'][m] >= 0 for r in results.values())} of {len(results)}" for m in METRICS
    }
    mean_gap = {
        m: round(sum(r["auto_minus_best"][m] for r in results.values()) / max(1, len(results)), 4)
        for m in METRICS
    }
    return {"catalogs": results, "auto_at_least_best": summary, "mean_auto_minus_best": mean_gap}


def main(argv: list[str] | None = None) -> int:
    p = data_bench_parser("python -m bench.tools_robustness")
    p.add_argument("--only", default="", help="comma-separated catalog names (default: all)")
    args = p.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    out = asyncio.run(run(args.data, args.models_dir, args.vector_cache, only))
    if args.json:
        print(json.dumps(out))
    else:
        for name, row in out["catalogs"].items():
            gaps = " ".join(f"{m} {v:+.4f}" for m, v in row["auto_minus_best"].items())
            print(
                f"{name:26s} {row['tools']:5d} tools {row['queries']:5d} q  {row['fusion']:45s} auto - best: {gaps}"
            )
        print("auto >= best baseline:", out["auto_at_least_best"])
        print("mean of auto - best:", out["mean_auto_minus_best"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
