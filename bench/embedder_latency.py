"""Embedder speed and fidelity: ``python -m bench.embedder_latency --json [--cosine N]``.

Prints one JSON object:
* ``single_200tok``: p50/p99 wall ms of one ~200-token prompt through OnnxMiniLMEmbedder.embed_sync
  (one thread), and the CPU ms of the same calls (``thread_time``; less sensitive to other load);
* ``short_16tok``: the same for short prompts;
* ``concurrent_64``: ms per prompt and prompts/s when 64 concurrent embed() calls go through
  BatchingEmbedder (the default composition minus the cache), for rows_per_run 1 and 16;
* ``cosine`` (with --cosine N): min / p1 / mean cosine of the int8 export to sentence-transformers
  on N real prompts from the developer data set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import numpy as np

from core.embedders import BatchingEmbedder, OnnxMiniLMEmbedder

DATA = Path(os.environ.get("SWITCHBOARD_DATA", "/work/shared/data/routing"))
FILES = ("alpaca_eval.jsonl", "llmrouter_test.jsonl", "routerarena.jsonl", "arena_hard_prompts.jsonl")


def real_prompts(n: int) -> list[str]:
    rows: list[str] = []
    per_file = max(1, n // len(FILES))
    for name in FILES:
        with (DATA / name).open(encoding="utf-8") as fh:
            rows += [json.loads(line)["prompt"] for _, line in zip(range(per_file), fh, strict=False)]
    return rows[:n]


def sized_prompts(emb: OnnxMiniLMEmbedder, pool: list[str], tokens: int, n: int) -> list[str]:
    tok = emb._tokenizer  # bench-only peek: build prompts of a target token length
    words = " ".join(pool).split()
    out: list[str] = []
    i = 0
    while len(out) < n:
        chunk: list[str] = []
        while len(tok.encode(" ".join(chunk)).ids) < tokens:
            chunk.append(words[i % len(words)])
            i += 1
        out.append(" ".join(chunk))
    return out


def timed(emb: OnnxMiniLMEmbedder, texts: list[str], rounds: int) -> dict[str, float]:
    for t in texts[:3]:
        emb.embed_sync([t])
    wall, cpu = [], []
    for _ in range(rounds):
        for t in texts:
            w, c = time.perf_counter(), time.thread_time()
            emb.embed_sync([t])
            wall.append(time.perf_counter() - w)
            cpu.append(time.thread_time() - c)
    return {
        "wall_p50_ms": round(float(np.percentile(wall, 50)) * 1e3, 2),
        "wall_p99_ms": round(float(np.percentile(wall, 99)) * 1e3, 2),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)) * 1e3, 2),
    }


async def concurrent(emb: OnnxMiniLMEmbedder, texts: list[str]) -> dict[str, float]:
    batching = BatchingEmbedder(emb, max_batch=64)
    await batching.embed(texts[:2])
    start = time.perf_counter()
    await asyncio.gather(*(batching.embed([t]) for t in texts))
    took = time.perf_counter() - start
    return {"ms_per_prompt": round(took / len(texts) * 1e3, 2), "prompts_per_s": round(len(texts) / took, 1)}


def cosine(models: Path, n: int) -> dict[str, float]:
    from core.embedders import SentenceTransformerEmbedder

    texts = real_prompts(n)
    got = OnnxMiniLMEmbedder.from_models_dir(models).embed_sync(texts)
    want = SentenceTransformerEmbedder().embed_sync(texts)
    cos = np.sum(got * want, axis=1)
    return {"n": len(texts), "min": round(float(cos.min()), 4), "p1": round(float(np.percentile(cos, 1)), 4),
            "mean": round(float(cos.mean()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=Path, default=Path("var/models"))
    parser.add_argument("--n", type=int, default=32, help="prompts per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cosine", type=int, default=0, help="also check cosine on N real prompts")
    parser.add_argument("--json", action="store_true", help="(always JSON; kept for symmetry)")
    args = parser.parse_args()
    emb = OnnxMiniLMEmbedder.from_models_dir(args.models)
    pool = real_prompts(200)
    long = sized_prompts(emb, pool, 200, args.n)
    short = sized_prompts(emb, pool, 16, args.n)
    result: dict[str, object] = {
        "single_200tok": timed(emb, long, args.rounds),
        "short_16tok": timed(emb, short, args.rounds),
    }
    for rows in (1, 16):
        e = OnnxMiniLMEmbedder.from_models_dir(args.models, rows_per_run=rows)
        result[f"concurrent_64_200tok_rows{rows}"] = asyncio.run(concurrent(e, sized_prompts(e, pool, 200, 64)))
        result[f"concurrent_64_16tok_rows{rows}"] = asyncio.run(concurrent(e, sized_prompts(e, pool, 16, 64)))
    if args.cosine:
        result["cosine"] = cosine(args.models, args.cosine)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
